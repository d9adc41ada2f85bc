import type { Pair, Session } from "../../api/types";

/** What the Active sessions card says of the fleet's sessions: each is in one count. */
export interface SessionCounts {
  running: number;
  /** Stopping: their programs still run (a pair the policy paused lets them finish their sends). */
  stopping: number;
  /** Held stopped by their pairs (paused, disabled, or with no test number): not down. */
  held: number;
  /** Wanted stopped (a person stopped them, or left them stopped), of pairs that run: not down either. */
  stoppedByPeople: number;
  /** Wanted running, by pairs that run, and not running: crashed, given up on, or not started. */
  down: DownCounts;
}

/** The sessions down by their state, the worst first; a state none is in is left out. */
export type DownCounts = Partial<Record<"fatal" | "backoff" | "exited" | "stopped", number>>;

const DOWN_STATES = ["fatal", "backoff", "exited", "stopped"] as const;

export function sessionCounts(pairs: readonly Pair[], sessions: readonly Session[]): SessionCounts {
  const holding = new Set(
    pairs
      .filter((pair) => pair.state === "paused" || pair.state === "disabled" || pair.phone_numbers.length === 0)
      .map((pair) => pair.key),
  );
  const down = sessions.filter((session) => session.state !== "running" && session.state !== "stopping");
  return {
    running: sessions.filter((session) => session.state === "running").length,
    stopping: sessions.filter((session) => session.state === "stopping").length,
    held: down.filter((session) => holding.has(session.pair)).length,
    stoppedByPeople: down.filter((session) => !holding.has(session.pair) && session.desired === "stopped").length,
    down: downCounts(down.filter((session) => !holding.has(session.pair) && session.desired !== "stopped")),
  };
}

function downCounts(sessions: readonly Session[]): DownCounts {
  const counts: DownCounts = {};
  for (const state of DOWN_STATES) {
    const count = sessions.filter((session) => session.state === state).length;
    if (count > 0) counts[state] = count;
  }
  return counts;
}
