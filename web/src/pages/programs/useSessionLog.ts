import { useCallback, useEffect, useRef, useState } from "react";
import { sessionEvents, sessionLogs } from "../../api/endpoints";
import type { SessionEvent } from "../../api/types";
import { useFollowLogs, useLiveTopic } from "../../live/LiveContext";

export const INITIAL_LINES = 200;
/** The drawer keeps at most this many lines; older ones scroll away. */
const MAX_LINES = 2000;
const EVENT_LIMIT = 50;

export interface SessionLog {
  lines: string[];
  loading: boolean;
  error: unknown;
  events: SessionEvent[];
  eventsError: unknown;
}

const cap = (lines: string[]) => (lines.length > MAX_LINES ? lines.slice(-MAX_LINES) : lines);

/**
 * Lines that came over the live connection while the first page was loading may
 * repeat its tail: drop the longest such overlap.
 */
export function mergeTail(fetched: readonly string[], arrived: readonly string[]): string[] {
  for (let overlap = Math.min(fetched.length, arrived.length); overlap > 0; overlap -= 1) {
    let same = true;
    for (let index = 0; index < overlap && same; index += 1) {
      same = fetched[fetched.length - overlap + index] === arrived[index];
    }
    if (same) return [...fetched, ...arrived.slice(overlap)];
  }
  return [...fetched, ...arrived];
}

const newestFirst = (a: SessionEvent, b: SessionEvent) => b.at.localeCompare(a.at);

function isEvent(data: unknown): data is SessionEvent {
  if (typeof data !== "object" || data === null) return false;
  const candidate = data as Record<string, unknown>;
  return typeof candidate.id === "string" && typeof candidate.session === "string" && typeof candidate.at === "string";
}

/** The last lines of a session's log, then every new line, and its recent events. */
export function useSessionLog(name: string): SessionLog {
  const [lines, setLines] = useState<string[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [events, setEvents] = useState<SessionEvent[]>([]);
  const [eventsError, setEventsError] = useState<unknown>(null);
  // Until the first page is in, live lines wait here.
  const pending = useRef<string[] | null>([]);

  useEffect(() => {
    let current = true;
    pending.current = [];
    setLines([]);
    setLoading(true);
    setError(null);
    setEvents([]);
    setEventsError(null);
    sessionLogs(name, INITIAL_LINES).then(
      (logs) => {
        if (!current) return;
        setLines(cap(mergeTail(logs.lines, pending.current ?? [])));
        pending.current = null;
        setLoading(false);
      },
      (reason: unknown) => {
        if (!current) return;
        setLines(cap(pending.current ?? []));
        pending.current = null;
        setError(reason);
        setLoading(false);
      },
    );
    sessionEvents(name, EVENT_LIMIT).then(
      (list) => {
        if (!current) return;
        // Keep events pushed meanwhile, without duplicates.
        setEvents((live) => {
          const known = new Set(live.map((event) => event.id));
          return [...live, ...list.filter((event) => !known.has(event.id))].sort(newestFirst).slice(0, EVENT_LIMIT);
        });
      },
      (reason: unknown) => {
        if (current) setEventsError(reason);
      },
    );
    return () => {
      current = false;
    };
  }, [name]);

  const onLines = useCallback((incoming: string[]) => {
    if (pending.current !== null) pending.current.push(...incoming);
    else setLines((existing) => cap([...existing, ...incoming]));
  }, []);
  useFollowLogs(name, onLines);

  useLiveTopic("sessions", (data) => {
    if (!isEvent(data) || data.session !== name) return;
    setEvents((list) =>
      list.some((event) => event.id === data.id) ? list : [data, ...list].sort(newestFirst).slice(0, EVENT_LIMIT),
    );
  });

  return { lines, loading, error, events, eventsError };
}
