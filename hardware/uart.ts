// What a receiving UART makes of bytes sent at another baud rate: the baud-mismatch fault (spec §19.3).
//
// The sender frames each byte as 8N1 (a start bit 0, eight data bits least significant first, a
// stop bit 1) and idles at 1. The receiver (8N1 at its own rate) waits for a falling edge,
// checks the start bit is still 0 half a bit later, samples the eight data bits and the stop bit
// at their middles, and drops a character whose stop bit is 0 (a framing error), as Linux does
// for serialport, which opens ports with IGNPAR. Time is counted in sixteenths of a receiver bit
// (a UART's usual oversampling), in integers, so the result is exact on every machine.

/** The bytes a UART at `rxBaud` reads when `data` is sent at `txBaud`, 8N1 on both sides. */
export function resampleUart(data: Uint8Array, txBaud: number, rxBaud: number): Buffer {
  const bits: number[] = [];
  for (const byte of data) {
    bits.push(0);
    for (let i = 0; i < 8; i++) bits.push((byte >> i) & 1);
    bits.push(1);
  }
  // The line level at `tick` sixteenths of a receiver bit after the first start bit.
  const level = (tick: number): number => bits[Math.floor((tick * txBaud) / (16 * rxBaud))] ?? 1;
  const endTick = Math.ceil((bits.length * 16 * rxBaud) / txBaud);
  const received: number[] = [];
  let tick = 0;
  let previous = 1;
  while (tick < endTick) {
    const now = level(tick);
    const falling = previous === 1 && now === 0;
    previous = now;
    if (!falling || level(tick + 8) !== 0) {
      tick++;
      continue;
    }
    let byte = 0;
    for (let bit = 0; bit < 8; bit++) byte |= level(tick + 24 + bit * 16) << bit;
    if (level(tick + 152) === 1) received.push(byte);
    // Look for the next start bit from the middle of the stop bit on.
    tick += 152;
    previous = level(tick);
  }
  return Buffer.from(received);
}
