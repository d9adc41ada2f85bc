import type { MetricsStep, MetricsWindow } from "../../api/types";

export interface RangeOption {
  value: MetricsWindow;
  label: string;
  /** The time-series step that keeps the charts readable for this range. */
  step: MetricsStep;
  /** Whether axis labels need the day. */
  withDay: boolean;
}

export const RANGES: readonly RangeOption[] = [
  { value: "5m", label: "5 min", step: "1m", withDay: false },
  { value: "1h", label: "1 hour", step: "1m", withDay: false },
  { value: "24h", label: "24 hours", step: "1h", withDay: false },
  { value: "7d", label: "7 days", step: "1h", withDay: true },
];

export const DEFAULT_RANGE: RangeOption = RANGES[1] ?? { value: "1h", label: "1 hour", step: "1m", withDay: false };

export function rangeFor(value: string | null): RangeOption {
  return RANGES.find((range) => range.value === value) ?? DEFAULT_RANGE;
}
