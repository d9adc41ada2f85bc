// The rules of the queries kept current by the live connection, apart from React.

/**
 * How often a live query reloads on its own. While the live connection is up
 * its messages say when data changed: nothing is polled, and a query given
 * `quietMs` is reloaded only once it went that long without any update (its
 * windows move on with time even when no message comes; every update starts
 * the wait anew, so this is never a steady poll). While the connection is
 * down the query is polled every `pollMs`.
 */
export function refetchEvery(live: boolean, pollMs: number, quietMs?: number): number | false {
  if (live) return quietMs ?? false;
  return quietMs === undefined ? pollMs : Math.min(pollMs, quietMs);
}

/** Answers in flight are dropped at most this many times in a row, so a stream of messages cannot starve the reloads. */
export const MAX_DROPPED = 3;

export interface DropGuard {
  /** Answers dropped since the last one that was kept. */
  dropped: number;
  /** When the data on screen was last answered by the server. */
  answeredAt: number;
}

export const newDropGuard = (): DropGuard => ({ dropped: 0, answeredAt: 0 });

/**
 * A message was just applied to the data on screen: whether the answer in
 * flight (when `fetching`) is to be dropped, as it may predate the message and
 * would roll the screen back. The reload that follows the message brings both.
 * `answeredAt` is the data's last answer from the server: a newer one than the
 * guard saw means an answer was kept meanwhile, and the count starts again.
 */
export function dropAnswerInFlight(guard: DropGuard, fetching: boolean, answeredAt: number): boolean {
  if (answeredAt !== guard.answeredAt) {
    guard.answeredAt = answeredAt;
    guard.dropped = 0;
  }
  if (!fetching || guard.dropped >= MAX_DROPPED) return false;
  guard.dropped += 1;
  return true;
}
