/** Where an emulator's bytes go. One file per kind of link; all behind this interface. */
export interface EmulatorTransport {
  /** What the agent opens to read this emulator (a device path). */
  readonly devicePath: string;
  /** Sends bytes down the line; bytes written while nobody listens are lost, as on a real line. */
  write(data: string): void;
  close(): Promise<void>;
}
