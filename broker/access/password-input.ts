// The password for `furnace-broker passwd add`: from --password, piped on stdin (first line),
// or typed at a prompt that does not echo it.

function readPiped(input: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => (text += chunk));
    input.once('end', () => resolve(text.split(/\r?\n/)[0] ?? ''));
    input.once('error', reject);
  });
}

function prompt(input: NodeJS.ReadStream, output: NodeJS.WriteStream, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let typed = '';
    output.write(question);
    input.setRawMode(true);
    input.setEncoding('utf8');
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      output.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new Error('cancelled')); // Ctrl-C
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}

/** The new password: the flag if given, else stdin (prompting twice on a terminal). */
export async function readNewPassword(
  flag: string | undefined,
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  if (flag !== undefined) return flag;
  if (!input.isTTY) return readPiped(input);
  const first = await prompt(input, output, 'password: ');
  const again = await prompt(input, output, 'again: ');
  if (first !== again) throw new Error('the two passwords differ');
  return first;
}
