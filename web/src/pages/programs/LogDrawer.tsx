import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { Session, SessionEvent } from "../../api/types";
import { ErrorBanner } from "../../components/ErrorBanner";
import { SessionStateBadge } from "../../components/SessionStateBadge";
import { Spinner } from "../../components/Spinner";
import { formatBytes, formatTime } from "./format";
import { useSessionLog } from "./useSessionLog";

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
      <LogView lines={log.lines} loading={log.loading} error={log.error} />
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
        {session.started_at && ` · since ${formatTime(session.started_at)}`}
        {session.cpu_percent !== null && session.cpu_percent !== undefined && ` · cpu ${session.cpu_percent.toFixed(1)}%`}
        {session.memory_bytes !== null && session.memory_bytes !== undefined && ` · mem ${formatBytes(session.memory_bytes)}`}
        {session.last_heartbeat && ` · heartbeat ${formatTime(session.last_heartbeat)}`}
      </span>
    </div>
  );
}

function LogView({ lines, loading, error }: { lines: readonly string[]; loading: boolean; error: unknown }) {
  const ref = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const [behind, setBehind] = useState(false);

  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    if (stick.current) element.scrollTop = element.scrollHeight;
    else setBehind(true);
  }, [lines]);

  const onScroll = () => {
    const element = ref.current;
    if (!element) return;
    stick.current = element.scrollHeight - element.scrollTop - element.clientHeight <= STICK_THRESHOLD_PX;
    if (stick.current) setBehind(false);
  };

  const jump = () => {
    const element = ref.current;
    if (!element) return;
    stick.current = true;
    setBehind(false);
    element.scrollTop = element.scrollHeight;
  };

  return (
    <section className="drawer__log" aria-label="Log">
      <div className="drawer__section-title">
        <h3>Log</h3>
        {loading && <Spinner label="Loading the log" />}
        <span className="muted">{lines.length} lines · follows live</span>
      </div>
      {error !== null && <ErrorBanner error={error} testId="log-error" />}
      <pre ref={ref} className="log-view" onScroll={onScroll} data-testid="log-lines" tabIndex={0}>
        {lines.length === 0 && !loading ? <span className="muted">No output yet.</span> : lines.join("\n")}
      </pre>
      {behind && (
        <button type="button" className="button button--small log-view__jump" onClick={jump} data-testid="log-jump">
          ↓ New lines
        </button>
      )}
    </section>
  );
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
                {formatTime(event.at)}
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
