// Completed attempts arrive on the live connection's `attempts` topic; the
// dashboard adds each to the counters on screen at once, and a reload a few
// seconds later confirms them (and brings the latencies, which only the
// server can compute).
import { ATTEMPT_OUTCOMES, type MetricsGroup, type MetricsSummary, type MetricsTotals } from "../../api/types";

export interface AttemptMessage {
  pair: string;
  country: string;
  outcome: string;
  /** Broken off by a stop, a kill or a lost lease: counted apart, in no rate. */
  brokenOff: boolean;
  /** Its SMS reached the provider (delivered, not delivered, or broken off after): in `sent`. */
  sent: boolean;
}

const OUTCOMES = new Set<string>(ATTEMPT_OUTCOMES);

export function asAttempt(data: unknown): AttemptMessage | null {
  if (typeof data !== "object" || data === null) return null;
  const { pair, country, outcome, broken_off: brokenOff, sent } = data as Record<string, unknown>;
  if (typeof pair !== "string" || typeof country !== "string" || typeof outcome !== "string") return null;
  return OUTCOMES.has(outcome) ? { pair, country, outcome, brokenOff: brokenOff === true, sent: sent === true } : null;
}

/** The counters with one more completed attempt: the same sums as the server's summary
 * (its grant was counted when it was leased, which the next reload brings). */
function counted<C extends MetricsTotals>(counters: C, { outcome, brokenOff, sent }: AttemptMessage): C {
  const sentNow = counters.sent + (sent ? 1 : 0);
  if (brokenOff) return { ...counters, broken_off: counters.broken_off + 1, sent: sentNow };
  const delivered = counters.delivered + (outcome === "delivered" ? 1 : 0);
  const notDelivered = counters.not_delivered + (outcome === "not_delivered" ? 1 : 0);
  const sendFailed = counters.send_failed + (outcome === "send_failed" ? 1 : 0);
  const errors = counters.errors + (outcome === "error" ? 1 : 0);
  const completed = counters.completed + 1;
  return {
    ...counters,
    sent: sentNow,
    delivered,
    not_delivered: notDelivered,
    send_failed: sendFailed,
    errors,
    failed: sendFailed + errors,
    completed,
    success_rate: delivered / completed,
  };
}

/** Counters with nothing counted yet. */
export const NO_COUNTS = {
  sent: 0,
  delivered: 0,
  not_delivered: 0,
  send_failed: 0,
  failed: 0,
  errors: 0,
  completed: 0,
  broken_off: 0,
  granted: 0,
  success_rate: null,
  achieved_per_minute: 0,
} as const satisfies MetricsTotals;

function emptyGroup(attempt: AttemptMessage): MetricsGroup {
  return { key: attempt.pair, pair: attempt.pair, country: attempt.country, ...NO_COUNTS };
}

/** A summary without groups: the totals count the attempt. */
export function applyToTotals(summary: MetricsSummary, data: unknown): MetricsSummary | undefined {
  const attempt = asAttempt(data);
  if (!attempt) return undefined;
  return { ...summary, totals: counted(summary.totals, attempt) };
}

/** A summary grouped by pair: its pair's group and the totals count the attempt. */
export function applyToPairs(summary: MetricsSummary, data: unknown): MetricsSummary | undefined {
  const attempt = asAttempt(data);
  if (!attempt) return undefined;
  const found = summary.groups.some((group) => (group.pair ?? group.key) === attempt.pair);
  const groups = found ? summary.groups : [...summary.groups, emptyGroup(attempt)];
  return {
    ...summary,
    totals: counted(summary.totals, attempt),
    groups: groups.map((group) => ((group.pair ?? group.key) === attempt.pair ? counted(group, attempt) : group)),
  };
}
