// Sessions arrive as a flat list; the page shows them per country, one row per
// pair and one column per program. The fleet is a few hundred sessions at
// most, so filtering and grouping happen in the browser.
import type { Pair, Session, SessionAction, SessionState } from "../../api/types";

export interface SessionFilters {
  country: string;
  program: string;
  state: SessionState | "";
  host: string;
}

export function matchesFilters(session: Session, filters: SessionFilters): boolean {
  if (filters.country && session.country !== filters.country) return false;
  if (filters.program && session.program !== filters.program) return false;
  if (filters.state && session.state !== filters.state) return false;
  if (filters.host && session.host !== filters.host) return false;
  return true;
}

/** program2 before program10. */
export const byProgramName = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

export interface PairRow {
  key: string;
  pair: Pair | undefined;
  isHighPriority: boolean;
  sessions: Map<string, Session>;
}

export interface CountryGroup {
  code: string;
  name: string;
  rows: PairRow[];
  sessionCount: number;
}

export function programColumns(sessions: readonly Session[]): string[] {
  return [...new Set(sessions.map((session) => session.program))].sort(byProgramName);
}

export function groupSessions(sessions: readonly Session[], pairs: ReadonlyMap<string, Pair>): CountryGroup[] {
  const countries = new Map<string, CountryGroup>();
  const rows = new Map<string, PairRow>();
  for (const session of sessions) {
    let row = rows.get(session.pair);
    if (!row) {
      const pair = pairs.get(session.pair);
      row = { key: session.pair, pair, isHighPriority: session.is_high_priority, sessions: new Map() };
      rows.set(session.pair, row);
      let group = countries.get(session.country);
      if (!group) {
        group = { code: session.country, name: pair?.country_name ?? session.country, rows: [], sessionCount: 0 };
        countries.set(session.country, group);
      }
      group.rows.push(row);
    }
    row.sessions.set(session.program, session);
    const group = countries.get(session.country);
    if (group) group.sessionCount += 1;
  }
  const groups = [...countries.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const group of groups) {
    // High-priority pairs first, then by key.
    group.rows.sort((a, b) => Number(b.isHighPriority) - Number(a.isHighPriority) || a.key.localeCompare(b.key));
  }
  return groups;
}

/** What a bulk action applies to, exactly as the server selects its sessions. */
export type BulkScope =
  | { kind: "all" }
  | { kind: "country"; country: string }
  | { kind: "program"; program: string }
  | { kind: "pair"; pair: string };

export function inScope(session: Session, scope: BulkScope): boolean {
  switch (scope.kind) {
    case "all":
      return true;
    case "country":
      return session.country === scope.country;
    case "program":
      return session.program === scope.program;
    case "pair":
      return session.pair === scope.pair;
  }
}

export function describeScope(scope: BulkScope): string {
  switch (scope.kind) {
    case "all":
      return "every session";
    case "country":
      return `every session in ${scope.country}`;
    case "program":
      return `every ${scope.program} session`;
    case "pair":
      return `every session of ${scope.pair}`;
  }
}

/** A stop or a restart of a running high-priority session needs an admin and force:
 * either ends its program for a while. */
export function needsForce(session: Session, action: SessionAction): boolean {
  return action !== "start" && session.is_high_priority && session.desired === "running";
}

/** Whether an action would change anything, so buttons that would not are disabled. */
export function canApply(session: Session, action: SessionAction): boolean {
  switch (action) {
    case "start":
      return session.desired !== "running" || session.state === "fatal" || session.state === "backoff";
    case "stop":
      return session.desired !== "stopped" || !["stopped", "exited", "fatal"].includes(session.state);
    case "restart":
      return true;
  }
}

/** What a bulk action would do in its scope: the sessions it would change, and those
 * already as it would leave them (a start of running ones changes nothing). */
export interface BulkPlan {
  changed: Session[];
  unchanged: Session[];
}

export function bulkPlan(targets: readonly Session[], action: SessionAction): BulkPlan {
  const changed: Session[] = [];
  const unchanged: Session[] = [];
  for (const session of targets) (changedInBulk(session, action) ? changed : unchanged).push(session);
  return { changed, unchanged };
}

/** A bulk restart restarts those wanted running: one stopped on purpose stays stopped
 * (a restart of it alone starts it). */
function changedInBulk(session: Session, action: SessionAction): boolean {
  return action === "restart" ? session.desired === "running" : canApply(session, action);
}

const ALREADY: Record<SessionAction, string> = {
  start: "running or starting",
  stop: "stopped",
  restart: "stopped on purpose",
};

/** What a bulk plan says of the sessions it leaves alone, `where` describing its scope:
 * nothing when there are none, "18 sessions (every session), all already running or
 * starting: nothing to start." when it changes none, else how many others are. */
export function unchangedNote(plan: BulkPlan, action: SessionAction, where: string): string | null {
  const count = plan.unchanged.length;
  if (count === 0) return null;
  const already = ALREADY[action];
  if (plan.changed.length === 0) {
    return count === 1
      ? `1 session (${where}), already ${already}: nothing to ${action}.`
      : `${count} sessions (${where}), all already ${already}: nothing to ${action}.`;
  }
  return count === 1 ? `1 other is already ${already}.` : `${count} others are already ${already}.`;
}
