// The dashboard declares the API answers it reads in backend/dashboard/api-types.ts, apart from
// the backend's types because the page compiles on its own (browser, DOM types, no Node). This
// test keeps the two from drifting: what each route sends (the TypeBox schema fastify serializes
// by) must still give the page every field it reads, with a type the page accepts. It is checked
// by `npm run typecheck`; vitest runs it as a no-op.
import type { Static } from '@sinclair/typebox';
import { describe, expectTypeOf, it } from 'vitest';
import type * as Page from '../backend/dashboard/api-types.js';
import type { ActiveAlertSchema, AlertRecord, RuleSchema } from '../backend/http/alert-schemas.js';
import type { DeviceDetail, DeviceListItem, DeviceSensor, ReadingsPage, StoredReadingSchema } from '../backend/http/schemas.js';
import type { WhoAmI } from '../backend/http/whoami-route.js';
import type { ActiveAlert } from '../backend/alerts/types.js';
import type { ThresholdRule } from '../backend/alerts/rules/rule-schema.js';
import type { SensorState, Severity } from '../contract/index.js';

type PointOf<T> = T extends { points?: Array<infer P> } ? P : never;

describe("the dashboard's view of the API", () => {
  it('reads devices and readings as the routes send them', () => {
    expectTypeOf<Static<typeof DeviceListItem>>().toExtend<Page.DeviceListItem>();
    expectTypeOf<Static<typeof DeviceDetail>>().toExtend<Page.DeviceDetail>();
    expectTypeOf<Static<typeof DeviceSensor>>().toExtend<Page.DeviceSensor>();
    expectTypeOf<Static<typeof StoredReadingSchema>>().toExtend<Page.Reading>();
    expectTypeOf<Static<typeof ReadingsPage>>().toExtend<Page.ReadingsPage>();
    expectTypeOf<PointOf<Static<typeof ReadingsPage>>>().toExtend<Page.BandPoint>();
    expectTypeOf<SensorState>().toEqualTypeOf<Page.SensorState>();
  });

  it('reads alerts, rules and the token as the routes send them', () => {
    expectTypeOf<Static<typeof ActiveAlertSchema>>().toExtend<Page.ActiveAlert>();
    expectTypeOf<ActiveAlert>().toExtend<Page.ActiveAlert>();
    expectTypeOf<Static<typeof AlertRecord>>().toExtend<Page.AlertRecord>();
    expectTypeOf<Static<typeof RuleSchema>>().toExtend<Page.Rule>();
    expectTypeOf<ThresholdRule>().toExtend<Page.ThresholdRule>();
    expectTypeOf<Static<typeof WhoAmI>>().toExtend<Page.WhoAmI>();
    expectTypeOf<Severity>().toEqualTypeOf<Page.Severity>();
  });
});
