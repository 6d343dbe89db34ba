// The fault suite's table: one line per row, printed as each row ends and all together at the
// end of the file, so a CI log shows at a glance which fault loses what.
import { type Tally, seqRanges } from './tally.js';

/** A row's line: its count (as it stood, if the row broke), and the error that broke it. */
export interface TableRow {
  row: string;
  tally?: Tally;
  error?: string;
}

const COLUMNS = ['row', 'produced', 'stored', 'doubled', 'lost', 'refused at source', 'recovered in', 'notes'] as const;
/** Widths of a line printed alone, as its row ends; the final table fits its columns to every row. */
const WIDTHS = [52, 8, 6, 7, 4, 17, 12, 0];

function cells({ row, tally, error }: TableRow): string[] {
  const broke = error === undefined ? [] : [`the row broke before its recovery: ${truncate(error, 160)}`];
  if (!tally) return [row, '-', '-', '-', '-', '-', '-', ...broke];
  const lost = tally.missing.length;
  const notes = [...broke, ...tally.notes];
  if (lost > 0) notes.push(`missing seq ${truncate(seqRanges(tally.missing), 80)}`);
  return [
    row,
    String(tally.produced),
    String(tally.stored),
    String(tally.doubled),
    String(lost),
    tally.refusedAtSource === undefined ? '-' : String(tally.refusedAtSource),
    tally.recoverMs === undefined ? 'never' : `${(tally.recoverMs / 1000).toFixed(1)} s`,
    notes.join('; '),
  ];
}

function line(values: readonly string[], widths: readonly number[] = WIDTHS): string {
  return `| ${values.map((value, i) => value.padEnd(widths[i] ?? 0)).join(' | ')} |`;
}

function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

export function formatRow(row: TableRow): string {
  return line(cells(row));
}

export function formatTable(rows: readonly TableRow[]): string {
  const body = rows.map(cells);
  // Every column as wide as its widest cell, but the notes, which end the line.
  const widths = COLUMNS.map((title, i) =>
    i === COLUMNS.length - 1 ? 0 : Math.max(title.length, ...body.map((values) => values[i]?.length ?? 0)),
  );
  const rule = `|${widths.map((width) => '-'.repeat(Math.max(width, 3) + 2)).join('|')}|`;
  return [line(COLUMNS, widths), rule, ...body.map((values) => line(values, widths))].join('\n');
}
