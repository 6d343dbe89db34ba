import { EventEmitter } from 'node:events';
import { LineSplitter } from './line-splitter.js';
import type { ReopeningLink, SourceState } from '../links/reopening-link.js';

export interface LineSourceEvents {
  line: [line: string];
  /** Bytes that never formed a line (no newline within the length limit). */
  overlong: [bytes: number];
  state: [state: SourceState, reason?: string];
}

/** A link read as lines (spec §3.3: split on LF), with its states passed on. */
export class LineSource extends EventEmitter<LineSourceEvents> {
  private splitter = this.newSplitter();

  constructor(readonly link: ReopeningLink) {
    super();
    link.on('data', (chunk) => this.splitter.push(chunk));
    link.on('state', (state, reason) => {
      // A reopened port starts clean: half a line from before belongs to no line after.
      if (state === 'open') this.splitter = this.newSplitter();
      this.emit('state', state, reason);
    });
  }

  start(): void {
    this.link.start();
  }

  stop(): Promise<void> {
    return this.link.stop();
  }

  private newSplitter(): LineSplitter {
    return new LineSplitter(
      (line) => this.emit('line', line),
      (bytes) => this.emit('overlong', bytes),
    );
  }
}
