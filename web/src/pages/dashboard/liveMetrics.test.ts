import { describe, expect, it } from "vitest";
import type { MetricsGroup, MetricsSummary } from "../../api/types";
import { applyToPairs, NO_COUNTS } from "./liveMetrics";

function summary(group: Partial<MetricsGroup>): MetricsSummary {
  const counters = { ...NO_COUNTS, errors_by_code: {}, ...group };
  return {
    start: "2026-12-04T12:00:00Z",
    end: "2026-12-04T13:00:00Z",
    group_by: "pair",
    totals: counters,
    groups: [{ ...counters, key: "UZ_uzmobile", pair: "UZ_uzmobile", country: "UZ" }],
  };
}

const attempt = (outcome: string, broken_off: boolean, sent = false) => ({
  id: "t1",
  pair: "UZ_uzmobile",
  program: "program1",
  country: "UZ",
  outcome,
  error_code: broken_off ? "interrupted" : "E_TIMEOUT",
  broken_off,
  sent,
  completed_at: "2026-12-04T12:30:00Z",
});

describe("live attempts on the dashboard's counters", () => {
  const before = summary({ delivered: 3, sent: 3, completed: 4, errors: 1, failed: 1, success_rate: 0.75 });

  it("count an error as a failure of the route", () => {
    const after = applyToPairs(before, attempt("error", false));
    expect(after?.totals).toMatchObject({ completed: 5, errors: 2, failed: 2, success_rate: 0.6, broken_off: 0 });
    expect(after?.groups[0]).toMatchObject({ completed: 5, errors: 2, success_rate: 0.6 });
  });

  it("count an attempt broken off apart, leaving the route's success rate and failures as they were", () => {
    const after = applyToPairs(before, attempt("error", true));
    expect(after?.totals).toMatchObject({ completed: 4, errors: 1, failed: 1, success_rate: 0.75, broken_off: 1 });
    expect(after?.groups[0]).toMatchObject({ completed: 4, success_rate: 0.75, broken_off: 1 });
  });

  it("count in sent an SMS broken off after it reached the gateway, and keep those counted before", () => {
    // Sent 4: 3 delivered and one broken off after reaching the gateway.
    const sentBefore = summary({ delivered: 3, sent: 4, completed: 4, errors: 1, failed: 1, broken_off: 1 });
    const brokenOff = applyToPairs(sentBefore, attempt("error", true, true));
    expect(brokenOff?.totals).toMatchObject({ sent: 5, completed: 4, broken_off: 2 });
    const delivered = applyToPairs(sentBefore, attempt("delivered", false, true));
    expect(delivered?.totals).toMatchObject({ sent: 5, delivered: 4, completed: 5 });
    expect(delivered?.groups[0]).toMatchObject({ sent: 5, delivered: 4 });
  });
});
