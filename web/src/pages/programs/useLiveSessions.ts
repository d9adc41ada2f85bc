import { useCallback, useEffect, useRef, useState } from "react";
import { listSessions } from "../../api/endpoints";
import type { Session, SessionEvent, SessionState } from "../../api/types";
import { useLiveStatus, useLiveTopic, useOnReconnect } from "../../live/LiveContext";

export interface LiveSessions {
  sessions: Session[] | undefined;
  /** Date.now() when `sessions` arrived: uptimes count on from there. */
  receivedAt: number;
  error: unknown;
  loading: boolean;
  /** Reload soon, coalescing bursts of calls into one request. */
  refresh: () => void;
  /** Shows a change right away, before the next reload confirms it. */
  patch: (name: string, changes: Partial<Session>) => void;
}

const DEBOUNCE_MS = 250;
const ALIVE: ReadonlySet<SessionState> = new Set(["starting", "running", "stopping"]);
/** Without the live connection the list is polled this often. */
const POLL_MS = 5000;

function isSessionEvent(data: unknown): data is SessionEvent {
  return typeof data === "object" && data !== null && typeof (data as { session?: unknown }).session === "string";
}

/** The session list, kept current by the `sessions` topic of the live connection. */
export function useLiveSessions(): LiveSessions {
  const [sessions, setSessions] = useState<Session[]>();
  const [receivedAt, setReceivedAt] = useState(() => Date.now());
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  const debounce = useRef<number | undefined>(undefined);
  const status = useLiveStatus();

  const request = useCallback(() => {
    const ticket = ++latest.current;
    listSessions().then(
      (list) => {
        if (ticket !== latest.current) return;
        setSessions(list);
        setReceivedAt(Date.now());
        setError(null);
        setLoading(false);
      },
      (reason: unknown) => {
        if (ticket !== latest.current) return;
        setError(reason);
        setLoading(false);
      },
    );
  }, []);

  const load = useCallback(() => {
    setLoading(true);
    request();
  }, [request]);

  const refresh = useCallback(() => {
    window.clearTimeout(debounce.current);
    debounce.current = window.setTimeout(load, DEBOUNCE_MS);
  }, [load]);

  const patch = useCallback((name: string, changes: Partial<Session>) => {
    setSessions((list) => list?.map((session) => (session.name === name ? { ...session, ...changes } : session)));
  }, []);

  // `loading` starts out true: the first request needs no update of it.
  useEffect(() => {
    request();
    return () => window.clearTimeout(debounce.current);
  }, [request]);

  useLiveTopic("sessions", (data) => {
    if (isSessionEvent(data) && data.to_state) {
      const state = data.to_state;
      // Until the reload brings the new start time, only a live process keeps its uptime.
      patch(data.session, ALIVE.has(state) ? { state } : { state, uptime_seconds: null, pid: null });
    }
    refresh();
  });
  useOnReconnect(refresh);

  useEffect(() => {
    if (status === "connected") return undefined;
    const timer = window.setInterval(load, POLL_MS);
    return () => window.clearInterval(timer);
  }, [status, load]);

  return { sessions, receivedAt, error, loading, refresh, patch };
}
