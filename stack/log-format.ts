// Turns the parts' JSON log lines (pino) into one readable line each for the terminal of
// `npm start`. `--json` passes them through untouched for machines.

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'part', 'component', 'msg', 'v']);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (value && typeof value === 'object' && 'message' in value) return JSON.stringify(value.message);
  return JSON.stringify(value);
}

export function formatLogLine(line: string, fallbackPart: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${' '.repeat(15)}${fallbackPart.padEnd(9)}${line}`;
  }
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const level = LEVELS[record.level as number] ?? 'INFO ';
  const part = typeof record.part === 'string' ? record.part : fallbackPart;
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ');
  return `${time} ${level} ${part.padEnd(9)}${typeof record.msg === 'string' ? record.msg : ''}${fields ? `  ${fields}` : ''}`;
}
