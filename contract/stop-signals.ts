// How a part's CLI stops on signals. Under `npm start` the terminal's Ctrl-C (SIGINT) reaches
// every part at once, as they share its process group, and the broker would be gone before the
// backend had confirmed the agent's last readings. So `npm start` marks the parts it starts
// (FURNACE_STACK_CHILD=1) and stops them itself, in order, with SIGTERM: the agent first, while the
// backend and the broker still run. A part so marked leaves SIGINT to the stack while the stack
// lives; one whose stack is gone (it was killed) stops on SIGINT as usual.
// (The emulator repeats these few lines: it imports nothing of the project.)

export const STACK_CHILD_ENV = 'FURNACE_STACK_CHILD';

/** Calls `stop` on SIGTERM, and on SIGINT unless the stack that started this part will stop it; `stop` must be idempotent. */
export function onStopSignals(stop: (signal: 'SIGINT' | 'SIGTERM') => void, env: NodeJS.ProcessEnv = process.env): void {
  const stack = env[STACK_CHILD_ENV] === '1' ? process.ppid : undefined;
  // A listener is needed even when SIGINT is left to the stack: without one, node exits at once.
  process.on('SIGINT', () => {
    if (stack === undefined || process.ppid !== stack) stop('SIGINT');
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
}
