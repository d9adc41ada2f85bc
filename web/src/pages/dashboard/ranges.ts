import type { MetricsStep, MetricsWindow } from "../../api/types";

export interface RangeOption {
  value: MetricsWindow;
  label: string;
  /** The time-series step that keeps the charts readable for this range. */
  step: MetricsStep;
  /** Whether axis labels need the day. */
  withDay: boolean;
  /**
   * How long its counters go without a reload while no attempt comes: attempts leave
   * the window as it slides, and a short window must show it soon.
   */
  quietMs: number;
}

export const RANGES: readonly RangeOption[] = [
  { value: "5m", label: "5 min", step: "1m", withDay: false, quietMs: 15_000 },
  { value: "1h", label: "1 hour", step: "1m", withDay: false, quietMs: 60_000 },
  { value: "24h", label: "24 hours", step: "1h", withDay: false, quietMs: 60_000 },
  { value: "7d", label: "7 days", step: "1h", withDay: true, quietMs: 60_000 },
];

/**
 * What "now" means on the dashboard, whatever range is picked: the last two minutes. The
 * dispatcher judges each country's goal over the same window (`GET /api/v1/dispatch/goals`),
 * so "granted per minute" and the cap chart beside it read alike; long enough to smooth the
 * few seconds between sends, short enough to show a stop or a start within a minute or two.
 */
export const RECENT = { window: "2m", minutes: 2, label: "last 2 min" } as const satisfies {
  window: MetricsWindow;
  minutes: number;
  label: string;
};

export const DEFAULT_RANGE: RangeOption = RANGES[1] ?? {
  value: "1h",
  label: "1 hour",
  step: "1m",
  withDay: false,
  quietMs: 60_000,
};

export function rangeFor(value: string | null): RangeOption {
  return RANGES.find((range) => range.value === value) ?? DEFAULT_RANGE;
}
