// Closing what a start built, in one place: a composition root builds its parts in dependency
// order and registers each part's closer as soon as the part exists, so a start that fails part-way
// and a normal close run the same list, newest first. It lives in contract/ because agent, broker,
// backend and `npm start` all use it and contract/ is the one folder they all may import
// (DESIGN.md), as listen.ts does; it is mechanism, not wire format, and imports nothing.

/** Closes one part; may be async. */
export type Closer = () => unknown;

export class Closers {
  private readonly closers: Closer[] = [];
  private closing: Promise<void> | undefined;

  /**
   * @param onUnwindError told of a closer that failed while unwinding a failed start, whose own
   *   error is the one thrown (the start's failure is what the operator needs to read).
   */
  constructor(private readonly onUnwindError: (error: unknown) => void = () => undefined) {}

  /** Registers the closer of a part just built; it runs before those of the parts built earlier. */
  add(closer: Closer): void {
    this.closers.push(closer);
  }

  /**
   * Builds one part and registers its closer; if building throws, closes what was built before
   * and rethrows.
   */
  async build<T>(create: () => T | Promise<T>, close?: (part: T) => unknown): Promise<T> {
    let part: T;
    try {
      part = await create();
    } catch (error) {
      return this.unwind(error);
    }
    if (close !== undefined) this.add(() => close(part));
    return part;
  }

  /** Runs a step of the start; if it throws, closes what was built and rethrows. */
  async step<T>(run: () => T | Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      return this.unwind(error);
    }
  }

  /**
   * A step of a synchronous start: if it throws, starts closing what was built and rethrows at
   * once. The closing goes on after the throw (a synchronous caller cannot wait for it); call
   * close() to wait.
   */
  stepSync<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      this.close().catch(this.onUnwindError);
      throw error;
    }
  }

  /** Closes what was built, then throws `error`: the end of a start that failed part-way. */
  async unwind(error: unknown): Promise<never> {
    await this.close().catch(this.onUnwindError);
    throw error;
  }

  /**
   * Runs every closer once, newest first, each after the one before has finished. A closer that
   * throws does not stop the rest; the first error is thrown once all have run. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.runAll();
    return this.closing;
  }

  private async runAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const closer of [...this.closers].reverse()) {
      try {
        await closer();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}
