// Changes to the session list shown before the reload that confirms them.
import type { Session, SessionEvent, SessionState } from "../api/types";

/** The sessions with `changes` made to the one named. */
export function patchSessions(sessions: Session[], name: string, changes: Partial<Session>): Session[] {
  return sessions.map((session) => (session.name === name ? { ...session, ...changes } : session));
}

const ALIVE: ReadonlySet<SessionState> = new Set(["starting", "running", "stopping"]);

function isSessionEvent(data: unknown): data is SessionEvent {
  return typeof data === "object" && data !== null && typeof (data as { session?: unknown }).session === "string";
}

/** A session's change of state shown at once; undefined for any other message. */
export function applySessionEvent(sessions: Session[], message: unknown): Session[] | undefined {
  if (!isSessionEvent(message) || !message.to_state) return undefined;
  const state = message.to_state;
  // Until the reload brings the new start time, only a live process keeps its uptime; a
  // live run has no exit code yet (the one shown was an earlier run's), as the API says.
  return patchSessions(
    sessions,
    message.session,
    ALIVE.has(state) ? { state, last_exit_code: null, last_exit: null } : { state, uptime_seconds: null, pid: null },
  );
}
