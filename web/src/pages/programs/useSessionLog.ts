import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { sessionEvents, sessionLogs } from "../../api/endpoints";
import type { SessionEvent } from "../../api/types";
import { useFollowLogs, useLiveTopic } from "../../live/LiveContext";
import { EMPTY_BUFFER, logBuffer, mergeTail } from "./logView";

export const INITIAL_LINES = 200;
/** What a download holds: the most the API gives. */
export const DOWNLOAD_LINES = 5000;
const EVENT_LIMIT = 50;

export interface SessionLog {
  lines: string[];
  /** Paused, live lines are held (`heldCount` of them) instead of shown; `follow` shows them. */
  paused: boolean;
  heldCount: number;
  pause: () => void;
  follow: () => void;
  loading: boolean;
  error: unknown;
  events: SessionEvent[];
  eventsError: unknown;
}

const newestFirst = (a: SessionEvent, b: SessionEvent) => b.at.localeCompare(a.at);

function isEvent(data: unknown): data is SessionEvent {
  if (typeof data !== "object" || data === null) return false;
  const candidate = data as Record<string, unknown>;
  return typeof candidate.id === "string" && typeof candidate.session === "string" && typeof candidate.at === "string";
}

/** The last lines of a session's log, then every new line, and its recent events. */
export function useSessionLog(name: string): SessionLog {
  const [buffer, dispatch] = useReducer(logBuffer, EMPTY_BUFFER);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [events, setEvents] = useState<SessionEvent[]>([]);
  const [eventsError, setEventsError] = useState<unknown>(null);
  // Until the first page is in, live lines wait here.
  const pending = useRef<string[] | null>([]);

  // The drawer is keyed by session name, so this runs once per log shown.
  useEffect(() => {
    let current = true;
    pending.current = [];
    sessionLogs(name, INITIAL_LINES).then(
      (logs) => {
        if (!current) return;
        dispatch({ type: "loaded", lines: mergeTail(logs.lines, pending.current ?? []) });
        pending.current = null;
        setLoading(false);
      },
      (reason: unknown) => {
        if (!current) return;
        dispatch({ type: "loaded", lines: pending.current ?? [] });
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

  const onLines = useCallback((incoming: string[], start: boolean) => {
    if (pending.current !== null) pending.current.push(...incoming);
    else dispatch({ type: start ? "rejoin" : "live", lines: incoming });
  }, []);
  const pause = useCallback(() => dispatch({ type: "pause" }), []);
  const follow = useCallback(() => dispatch({ type: "follow" }), []);
  useFollowLogs(name, onLines);

  useLiveTopic("sessions", (data) => {
    if (!isEvent(data) || data.session !== name) return;
    setEvents((list) =>
      list.some((event) => event.id === data.id) ? list : [data, ...list].sort(newestFirst).slice(0, EVENT_LIMIT),
    );
  });

  return {
    lines: buffer.lines,
    paused: buffer.paused,
    heldCount: buffer.heldCount,
    pause,
    follow,
    loading,
    error,
    events,
    eventsError,
  };
}
