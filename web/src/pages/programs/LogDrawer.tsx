import { Fragment, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { sessionLogs } from "../../api/endpoints";
import type { Session, SessionEvent } from "../../api/types";
import { ErrorBanner } from "../../components/ErrorBanner";
import { SessionStateBadge } from "../../components/SessionStateBadge";
import { Spinner } from "../../components/Spinner";
import { formatDateTime } from "../../format/time";
import { formatBytes } from "./format";
import { cutSegments, heldLabel, stampedLine, saveLines, searchLines, type StampedLine, type Segment } from "./logView";
import { DOWNLOAD_LINES, useSessionLog, type SessionLog } from "./useSessionLog";

interface LogDrawerProps {
  name: string;
  /** The session as the list shows it; absent while the list loads or once it is gone. */
  session: Session | undefined;
  onClose: () => void;
}

/** Within this many pixels of the bottom the log counts as "at the end" and follows new lines. */
const STICK_THRESHOLD_PX = 24;

export function LogDrawer({ name, session, onClose }: LogDrawerProps) {
  const log = useSessionLog(name);
  const closeRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    closeRef.current?.focus();
  }, [name]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      // A modal dialog on top handles its own Escape.
      if (event.key !== "Escape" || event.defaultPrevented || document.querySelector("dialog[open]")) return;
      onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  return (
    <aside className="drawer" role="dialog" aria-modal="false" aria-labelledby="log-drawer-title" data-testid="log-drawer">
      <header className="drawer__header">
        <div>
          <h2 id="log-drawer-title" className="mono" data-testid="log-drawer-title">
            {name}
          </h2>
          {session && <SessionSummary session={session} />}
        </div>
        <button ref={closeRef} type="button" className="icon-button" aria-label="Close log" onClick={onClose} data-testid="log-drawer-close">
          ×
        </button>
      </header>
      <LogView name={name} log={log} />
      <EventList events={log.events} error={log.eventsError} />
    </aside>
  );
}

function SessionSummary({ session }: { session: Session }) {
  return (
    <div className="drawer__summary">
      <SessionStateBadge state={session.state} testId="log-drawer-state" />
      <span>
        wanted <strong>{session.desired}</strong>
        {session.desired_actor && ` by ${session.desired_actor}`}
        {session.desired_reason && ` (${session.desired_reason})`}
      </span>
      <span className="muted">
        host {session.host}
        {session.pid !== null && ` · pid ${session.pid}`}
        {session.started_at && ` · since ${formatDateTime(session.started_at)}`}
        {session.cpu_percent !== null && session.cpu_percent !== undefined && ` · cpu ${session.cpu_percent.toFixed(1)}%`}
        {session.memory_bytes !== null && session.memory_bytes !== undefined && ` · mem ${formatBytes(session.memory_bytes)}`}
        {session.last_heartbeat && ` · heartbeat ${formatDateTime(session.last_heartbeat)}`}
      </span>
    </div>
  );
}

interface LogViewProps {
  name: string;
  log: SessionLog;
}

function LogView({ name, log }: LogViewProps) {
  const { lines, loading, error, paused, heldCount } = log;
  const ref = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  // Where the view was at its last scroll event: only a scroll up is the reader's.
  const lastTop = useRef(0);
  const seen = useRef(lines);
  const [behind, setBehind] = useState(false);
  const [query, setQuery] = useState("");
  // Times shown in UTC, 24-hour; the search reads the lines as shown. A download keeps them as written.
  const stamped = useMemo(() => lines.map((line) => stampedLine(line)), [lines]);
  const texts = useMemo(() => stamped.map((line) => line.text), [stamped]);
  const shown = useMemo(() => searchLines(texts, query), [texts, query]);
  const download = useDownload(name);

  // Following: the view stays at the end, or says new lines came below. Paused: it does not move.
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element || paused) return;
    const grew = seen.current !== lines;
    seen.current = lines;
    if (stick.current) element.scrollTop = element.scrollHeight;
    else if (grew) setBehind(true);
  }, [shown, lines, paused]);

  // The view also resizes under the log (the events below load, the window changes):
  // following, it stays at the end even when no new line comes to move it there.
  useEffect(() => {
    const element = ref.current;
    if (!element || paused) return;
    const observer = new ResizeObserver(() => {
      if (stick.current) element.scrollTop = element.scrollHeight;
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [paused]);

  const onScroll = () => {
    const element = ref.current;
    if (!element) return;
    // The view also leaves the end when it shrinks (the events below load): that is no
    // reason to stop following; the reader scrolling up is.
    if (element.scrollHeight - element.scrollTop - element.clientHeight <= STICK_THRESHOLD_PX) stick.current = true;
    else if (element.scrollTop < lastTop.current) stick.current = false;
    lastTop.current = element.scrollTop;
    if (stick.current) setBehind(false);
  };

  const jump = () => {
    const element = ref.current;
    if (!element) return;
    stick.current = true;
    setBehind(false);
    element.scrollTop = element.scrollHeight;
  };

  const togglePause = () => {
    if (!paused) {
      log.pause();
      return;
    }
    stick.current = true;
    setBehind(false);
    log.follow();
  };

  return (
    <section className="drawer__log" aria-label="Log">
      <div className="drawer__section-title">
        <h3>Log</h3>
        {loading && <Spinner label="Loading the log" />}
        <span className="muted">
          <span data-testid="log-match-count">
            {query === "" ? `${lines.length} lines` : `${shown.length} of ${lines.length} lines`}
          </span>
          {paused ? " · paused" : " · follows live"}
        </span>
      </div>
      <div className="log-tools">
        <input
          type="search"
          className="input log-tools__search"
          placeholder="Search the log"
          aria-label="Search the log"
          value={query}
          onChange={(event) => setQuery(event.target.value)}
          onKeyDown={(event) => {
            // Escape clears the search first; the drawer closes on the next one.
            if (event.key === "Escape" && query !== "") {
              event.preventDefault();
              setQuery("");
            }
          }}
          data-testid="log-search"
        />
        <button
          type="button"
          className="button button--small"
          onClick={togglePause}
          aria-pressed={paused}
          title={paused ? "Show the held lines and follow the log again" : "Hold new lines and keep the view still"}
          data-testid="log-pause"
        >
          {paused ? "Follow" : "Pause"}
        </button>
        <button
          type="button"
          className="button button--small"
          onClick={download.start}
          disabled={download.busy}
          aria-busy={download.busy}
          title={`Download the last ${DOWNLOAD_LINES.toLocaleString("en-US")} lines as ${name}.log`}
          data-testid="log-download"
        >
          Download
        </button>
        {paused && (
          <span className="log-tools__held" role="status" data-testid="log-held">
            {heldLabel(heldCount)}
          </span>
        )}
      </div>
      {error !== null && <ErrorBanner error={error} testId="log-error" />}
      {download.error !== null && <ErrorBanner error={download.error} testId="log-download-error" />}
      <pre ref={ref} className="log-view" onScroll={onScroll} data-testid="log-lines" tabIndex={0}>
        {lines.length === 0 ? (
          !loading && <span className="muted">No output yet.</span>
        ) : shown.length === 0 ? (
          <span className="muted">No line matches.</span>
        ) : (
          shown.map(({ index, segments }, position) => (
            <Fragment key={index}>
              {position > 0 && "\n"}
              <ShownLine line={stamped[index]} segments={segments} />
            </Fragment>
          ))
        )}
      </pre>
      {behind && !paused && (
        <button type="button" className="button button--small log-view__jump" onClick={jump} data-testid="log-jump">
          ↓ New lines
        </button>
      )}
    </section>
  );
}

function Segments({ segments }: { segments: readonly Segment[] }) {
  return segments.map((segment, part) => (segment.match ? <mark key={part}>{segment.text}</mark> : segment.text));
}

/** A line of the log: its time (the stamp as written on hover), then the rest, with the search's matches marked. */
function ShownLine({ line, segments }: { line: StampedLine | undefined; segments: readonly Segment[] }) {
  if (!line?.iso) return <Segments segments={segments} />;
  const [time, rest] = cutSegments(segments, line.timeLength);
  return (
    <>
      <time dateTime={line.iso} title={line.iso} className="log-view__time">
        <Segments segments={time} />
      </time>
      <Segments segments={rest} />
    </>
  );
}

/** Fetches the last DOWNLOAD_LINES lines of the log and saves them as `<name>.log`. */
function useDownload(name: string) {
  const download = useMutation({
    mutationFn: async () => saveLines((await sessionLogs(name, DOWNLOAD_LINES)).lines, `${name}.log`),
  });
  return { busy: download.isPending, error: download.error, start: () => download.mutate() };
}

function EventList({ events, error }: { events: readonly SessionEvent[]; error: unknown }) {
  return (
    <section className="drawer__events" aria-label="Recent events">
      <div className="drawer__section-title">
        <h3>Recent events</h3>
      </div>
      {error !== null && <ErrorBanner error={error} testId="events-error" />}
      {events.length === 0 ? (
        <p className="muted">No events yet.</p>
      ) : (
        <ol className="event-list" data-testid="session-events">
          {events.map((event) => (
            <li key={event.id} data-testid="session-event" data-kind={event.kind}>
              <time dateTime={event.at} className="muted">
                {formatDateTime(event.at)}
              </time>
              <span className="event-list__kind">{event.kind.replaceAll("_", " ")}</span>
              {event.from_state && event.to_state && (
                <span className="muted">
                  {event.from_state} → {event.to_state}
                </span>
              )}
              <span className="muted">
                {event.actor}
                {event.reason && `: ${event.reason}`}
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
