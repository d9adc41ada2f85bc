// Number formats of the dashboard. A fixed locale keeps figures identical on
// every screen (and comparable in tests): `1,234`, `97.3%`, `2.4 s`.
const LOCALE = "en-US";
const integer = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export const EMPTY = "—";

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? EMPTY : integer.format(value);
}

/** A 0..1 ratio as a percentage with one decimal. */
export function formatPercent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? EMPTY : `${oneDecimal.format(ratio * 100)}%`;
}

export function formatMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? EMPTY : `${integer.format(Math.round(ms))} ms`;
}

/** A delivery latency in seconds: `2.4 s`, `42 s`, `1 min 41 s`. */
export function formatSeconds(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return EMPTY;
  const seconds = ms / 1000;
  if (seconds < 10) return `${oneDecimal.format(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  const rest = whole % 60;
  return `${Math.floor(whole / 60)} min${rest ? ` ${rest} s` : ""}`;
}

/** A per-minute rate with one decimal. */
export function formatRate(perMinute: number | null | undefined): string {
  return perMinute === null || perMinute === undefined ? EMPTY : oneDecimal.format(perMinute);
}

/** The tone of a success rate: good, fair or poor (for colours only). */
export function successTone(ratio: number | null | undefined): "good" | "fair" | "poor" | "none" {
  if (ratio === null || ratio === undefined) return "none";
  if (ratio >= 0.9) return "good";
  if (ratio >= 0.7) return "fair";
  return "poor";
}
