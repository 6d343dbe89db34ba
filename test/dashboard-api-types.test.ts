// The dashboard declares the API answers it reads in backend/dashboard/api-types.ts, apart from
// the backend's types because the page compiles on its own (browser, DOM types, no Node). This
// test keeps the two from drifting: each server type must still give the page every field it reads,
// with a type the page accepts. It is checked by `npm run typecheck` (vitest runs it as a no-op).
import { describe, expectTypeOf, it } from 'vitest';
import type * as Page from '../backend/dashboard/api-types.js';
import type { recordBody } from '../backend/http/alert-routes.js';
import type { Acknowledgement, ActiveAlert } from '../backend/alerts/types.js';
import type { Rule, ThresholdRule } from '../backend/alerts/rules/rule-schema.js';
import type { StoredReading } from '../backend/store/reading-store.js';
import type { Severity, SensorState } from '../contract/index.js';

describe("the dashboard's view of the API", () => {
  it('reads alerts as the alert routes send them', () => {
    expectTypeOf<ActiveAlert>().toExtend<Page.ActiveAlert>();
    expectTypeOf<Acknowledgement>().toExtend<Page.Acknowledgement>();
    expectTypeOf<ReturnType<typeof recordBody>>().toExtend<Page.AlertRecord>();
    expectTypeOf<Severity>().toEqualTypeOf<Page.Severity>();
  });

  it('reads rules and readings as the backend keeps them', () => {
    expectTypeOf<Rule>().toExtend<Page.Rule>();
    expectTypeOf<ThresholdRule>().toExtend<Page.ThresholdRule>();
    expectTypeOf<StoredReading>().toExtend<Page.Reading>();
    expectTypeOf<SensorState>().toEqualTypeOf<Page.SensorState>();
  });
});
