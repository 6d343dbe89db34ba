/**
 * The link between an emulated device and whoever reads it (spec §20). One file per kind of
 * link; all behind this interface.
 */
export interface EmulatorTransport {
  /** What the agent opens to reach this emulator: a device path, or `tcp://host:port`. */
  readonly devicePath: string;
  /** Sends bytes down the line; bytes written while nobody listens are lost, as on a real line. */
  write(data: string | Uint8Array): void;
  /** Sets the one receiver of the bytes the other side sends (a Modbus master's requests). */
  onData(listener: (data: Buffer) => void): void;
  close(): Promise<void>;
}
