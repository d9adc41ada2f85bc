import type { BreakerState } from "../../api/types";

/**
 * A circuit breaker's state in plain words. "closed" reads as "down" to most people,
 * yet means the service answers; the raw state stays in the badge's tooltip.
 * States are pybreaker's: "closed", "open" and "half-open".
 */
const WORDS: Record<string, string> = {
  closed: "working",
  open: "failing, calls paused",
  "half-open": "trying again",
};

export function breakerWords(state: string): string {
  return WORDS[state] ?? state;
}

/** The tooltip: the raw state, the failures counted, and when a paused service is tried again. */
export function breakerTitle(breaker: Pick<BreakerState, "state" | "failures" | "reset_seconds">): string {
  const failures = `${breaker.failures} ${breaker.failures === 1 ? "failure" : "failures"}`;
  const parts = [`circuit breaker: ${breaker.state}`, failures];
  if (breaker.state === "open") parts.push(`tried again after ${breaker.reset_seconds} s`);
  return parts.join(" · ");
}

/** A CSS-safe modifier for the badge's colour: "half-open" and "half_open" alike. */
export const breakerClass = (state: string): string => `badge--breaker-${state.replace(/_/g, "-")}`;
