// The serial line protocol of the emulated sensor, version 0 (the hardware issue settles
// the final one): one ASCII line per reading, ended by CR LF, as cheap thermocouple
// transmitters print them.
//
//   T=812.5\r\n      a temperature in °C, one decimal
//   ERR=OPEN\r\n     a fault: the thermocouple is open (no usable value)

export type SensorFault = 'OPEN' | 'SHORT';

export function formatTemperatureLine(celsius: number): string {
  return `T=${celsius.toFixed(1)}\r\n`;
}

export function formatFaultLine(fault: SensorFault): string {
  return `ERR=${fault}\r\n`;
}
