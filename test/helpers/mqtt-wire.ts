// MQTT 3.1.1 packets by hand, and a raw TCP client that reads them back: for tests that must
// send what no well-behaved client library would (zero-length client ids without clean session,
// garbage, oversized packets, sockets that stop reading).
import { type Socket, connect } from 'node:net';

function utf8(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function binary(data: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(data.length);
  return Buffer.concat([length, data]);
}

/** Remaining Length, 7 bits per byte [MQTT-2.2.3]. */
export function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  let rest = length;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

export interface ConnectFields {
  clientId: string;
  clean?: boolean;
  keepalive?: number;
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; qos?: 0 | 1; retain?: boolean };
  protocolLevel?: number;
}

export function encodeConnect(fields: ConnectFields): Buffer {
  const { clientId, clean = true, keepalive = 60, username, password, will, protocolLevel = 4 } = fields;
  let flags = clean ? 0x02 : 0;
  if (will) flags |= 0x04 | ((will.qos ?? 0) << 3) | (will.retain ? 0x20 : 0);
  if (password !== undefined) flags |= 0x40;
  if (username !== undefined) flags |= 0x80;
  const keep = Buffer.alloc(2);
  keep.writeUInt16BE(keepalive);
  const parts = [utf8(protocolLevel === 3 ? 'MQIsdp' : 'MQTT'), Buffer.from([protocolLevel, flags]), keep, utf8(clientId)];
  if (will) parts.push(utf8(will.topic), binary(Buffer.from(will.payload)));
  if (username !== undefined) parts.push(utf8(username));
  if (password !== undefined) parts.push(binary(Buffer.from(password)));
  return packet(0x10, Buffer.concat(parts));
}

export function encodeSubscribe(messageId: number, subscriptions: Array<{ topic: string; qos: 0 | 1 | 2 }>): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0x82, Buffer.concat([id, ...subscriptions.map((sub) => Buffer.concat([utf8(sub.topic), Buffer.from([sub.qos])]))]));
}

export function encodePublish(topic: string, payload: Buffer | string, qos: 0 | 1 = 0, messageId = 1): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0x30 | (qos << 1), Buffer.concat([utf8(topic), ...(qos > 0 ? [id] : []), Buffer.from(payload)]));
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

export interface WirePacket {
  /** Control packet type, 1 to 14 (2: CONNACK, 3: PUBLISH, 9: SUBACK, 13: PINGRESP). */
  type: number;
  flags: number;
  body: Buffer;
}

/** A TCP connection that collects the packets the broker sends. */
export class RawClient {
  readonly packets: WirePacket[] = [];
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  readonly ended: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => undefined); // a reset by the broker is what some tests expect
    this.ended = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  /** The first received packet of `type` (already received or upcoming); rejects if the connection closes first. */
  async next(type: number, timeoutMs = 5000): Promise<WirePacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.packets.findIndex((p) => p.type === type);
      if (index >= 0) return this.packets.splice(index, 1)[0] as WirePacket;
      if (this.closed) throw new Error(`connection closed before a packet of type ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet of type ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** CONNECT, then the CONNACK's return code. */
  async connack(fields: ConnectFields): Promise<number> {
    this.write(encodeConnect(fields));
    const ack = await this.next(2);
    return ack.body[1] ?? -1;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let offset = 1;
      let complete = false;
      while (offset < this.buffer.length && offset <= 4) {
        const byte = this.buffer[offset] ?? 0;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        offset += 1;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || this.buffer.length < offset + length) break;
      const first = this.buffer[0] ?? 0;
      this.packets.push({ type: first >> 4, flags: first & 0x0f, body: this.buffer.subarray(offset, offset + length) });
      this.buffer = this.buffer.subarray(offset + length);
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((wake) => wake());
  }
}
