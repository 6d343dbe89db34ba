// The shapes of the API answers the page reads (backend/http/schemas.ts, alert-schemas.ts): only the fields it uses.
// test/dashboard-api-types.test.ts checks at type-check time that the backend's own types still give them.

export type Severity = 'critical' | 'warning' | 'info';
export type SensorState = 'ok' | 'stalled' | 'disconnected' | 'faulty';

export interface Reading {
  sensor: string;
  seq: number;
  boot: string;
  ts: number;
  value: number | null;
  unit: string;
  quality: 'good' | 'uncertain' | 'bad';
  receivedAt: number;
}

export interface DeviceListItem {
  device: string;
  lastSeen: number | null;
  state: 'online' | 'offline' | null;
}

export interface DeviceSensor {
  sensor: string;
  unit?: string;
  health: { state: SensorState; since: number; reason?: string } | null;
  latest: (Reading & { ageMs: number }) | null;
  stale: boolean;
}

export interface DeviceDetail {
  device: string;
  lastSeen: number | null;
  status: { state: 'online' | 'offline'; ts: number; receivedAt: number; agentVersion?: string } | null;
  sensors: DeviceSensor[];
}

export interface BandPoint {
  sensor: string;
  t: number;
  value: number;
  min?: number;
  max?: number;
  count: number;
}

export interface ReadingsPage {
  from: number;
  to: number;
  every?: number;
  points?: BandPoint[];
  truncated: boolean;
  nextCursor?: string;
}

export interface ThresholdRule {
  kind: 'threshold';
  id: string;
  match: { device: string; sensor: string };
  severity: Severity;
  above?: number;
  clearAbove?: number;
  below?: number;
  clearBelow?: number;
}

export type Rule =
  | ThresholdRule
  | { kind: 'rate' | 'stale' | 'offline' | 'sensor'; id: string; match: { device: string; sensor: string }; severity: Severity };

export interface Acknowledgement {
  by: string;
  at: number;
  comment?: string;
}

export interface ActiveAlert {
  id: string;
  rule: string;
  device: string;
  sensor?: string;
  phase: 'pending' | 'firing';
  severity: Severity;
  since: number;
  value?: number | null;
  message: string;
  acknowledged?: Acknowledgement;
  silenced: boolean;
}

export interface AlertRecord {
  id: string;
  seq: number;
  rule: string;
  device: string;
  sensor?: string;
  from: string;
  to: string;
  ts: number;
  severity: Severity;
  message: string;
  silenced: boolean;
}

export interface WhoAmI {
  name: string;
  scopes: Array<'read' | 'admin'>;
  openAccess: boolean;
}
