import type { Session, SessionAction } from "../../api/types";
import { SessionStateBadge } from "../../components/SessionStateBadge";
import { useNow } from "../../hooks/useTicker";
import { formatDuration, retryText } from "./format";
import { canApply, needsForce } from "./grouping";

export interface SessionActions {
  run: (session: Session, action: SessionAction) => void;
  /** Admins only: a running high-priority session is stopped or restarted with force, after a confirmation. */
  mayForceHighPriority: boolean;
}

/** Why an operator's Stop or Restart of a running high-priority session is off. */
function adminOnlyHint(session: Session, action: SessionAction): string {
  return `Only an admin can ${action} ${session.name}: its pair is high priority`;
}

interface SessionCellProps {
  /** The program's name: the cell's label when the matrix is stacked on narrow screens. */
  program: string;
  session: Session | undefined;
  receivedAt: number;
  /** Absent for read-only users: no Start/Stop/Restart, only Logs. */
  actions?: SessionActions | undefined;
  busy: boolean;
  selected: boolean;
  /** Its pair is paused or disabled: the pair's row says why; a stopped session is expected. */
  pairHeld?: boolean;
  /** Its pair has no test phone number: a stopped session is expected, and its note says why. */
  pairNumberless?: boolean;
  onOpen: (session: Session) => void;
}

export function SessionCell({ program, session, receivedAt, actions, busy, selected, pairHeld = false, pairNumberless = false, onOpen }: SessionCellProps) {
  if (!session) {
    return (
      <td className="session-cell session-cell--empty" data-label={program}>
        <span className="muted" title="Program not assigned to this pair">
          —
        </span>
      </td>
    );
  }
  const desiredMismatch =
    (session.desired === "stopped" && session.state !== "stopped" && session.state !== "exited") ||
    (session.desired === "running" && !pairHeld && !pairNumberless && (session.state === "stopped" || session.state === "exited"));
  return (
    <td
      className={selected ? "session-cell session-cell--selected" : "session-cell"}
      data-label={program}
      data-testid={`session-${session.name}`}
      data-state={session.state}
    >
      <button
        type="button"
        className="session-cell__open"
        onClick={() => onOpen(session)}
        title={`Open the log of ${session.name}`}
        data-testid={`open-logs-${session.name}`}
      >
        <SessionStateBadge state={session.state} testId={`session-state-${session.name}`} />
        {desiredMismatch && (
          <span className="session-cell__desired" title={`Wanted ${session.desired}`} data-testid="desired-hint">
            → {session.desired}
          </span>
        )}
      </button>
      <dl className="session-cell__facts">
        <div>
          <dt>up</dt>
          <dd data-testid={`uptime-${session.name}`}>
            <Uptime seconds={session.uptime_seconds} receivedAt={receivedAt} />
          </dd>
        </div>
        <div>
          <dt title="Restarts by the supervisor after an exit, a hang or a failed start">restarts</dt>
          <dd data-testid={`restarts-${session.name}`}>
            {session.restarts}
            {session.requested_restarts > 0 && (
              <span
                className="session-cell__asked"
                title="Restarts people asked for, or a change of its program, once carried out"
                data-testid={`requested-restarts-${session.name}`}
              >
                {" "}
                +{session.requested_restarts} asked
              </span>
            )}
          </dd>
        </div>
        {/* Its own line when long, wrapped as a note is: the whole text stays in view. */}
        <div className="session-cell__exit">
          <dt title="How its last run ended">last run</dt>
          <dd
            className={
              session.last_exit_code || (session.last_exit && session.last_exit_code == null)
                ? "exit-code exit-code--failed"
                : "exit-code"
            }
            data-testid={`exit-code-${session.name}`}
          >
            {session.last_exit != null || session.last_exit_code != null ? (
              // No code: its runner ended without recording the program's exit (killed).
              <span title={session.last_exit_code == null ? "no exit code recorded" : `exit code ${session.last_exit_code}`}>
                {session.last_exit ?? session.last_exit_code}
              </span>
            ) : session.previous_exit ? (
              <span title="How the run before this one ended" data-testid={`previous-exit-${session.name}`}>
                before: {session.previous_exit}
              </span>
            ) : (
              "—"
            )}
          </dd>
        </div>
      </dl>
      {session.retry_at && <Retry session={session.name} at={session.retry_at} />}
      {/* Given up on, its heartbeats overdue, its pair probed or without a number, or
          draining; a paused pair's row already says why it is down. */}
      {session.note && (!pairHeld || session.state === "stopping") && (
        <p
          className={session.hang_restart_at ? "session-cell__note session-cell__note--overdue" : "session-cell__note"}
          title={session.hang_restart_at ? "Its heartbeats are overdue: it may hang" : undefined}
          data-testid={`note-${session.name}`}
        >
          {session.note}
        </p>
      )}
      <div className="session-cell__buttons">
        {actions && <CellButtons session={session} actions={actions} busy={busy} />}
        <button
          type="button"
          className="button button--tiny session-action session-action--logs"
          onClick={() => onOpen(session)}
          title={`Open the log of ${session.name}`}
          aria-label={`Logs of ${session.name}`}
          data-testid={`logs-${session.name}`}
        >
          <span aria-hidden="true">☰</span> Logs
        </button>
      </div>
    </td>
  );
}

function Uptime({ seconds, receivedAt }: { seconds: number | null; receivedAt: number }) {
  const now = useNow();
  if (seconds === null) return <span className="muted">—</span>;
  return <>{formatDuration(seconds + Math.max(0, now - receivedAt) / 1000)}</>;
}

/** A crashed session in backoff: when the supervisor starts it again. */
function Retry({ session, at }: { session: string; at: string }) {
  const now = useNow();
  return (
    <p className="session-cell__retry" title={at} data-testid={`retry-${session}`}>
      {retryText(at, now)}
    </p>
  );
}

const BUTTONS: ReadonlyArray<{ action: SessionAction; label: string; symbol: string }> = [
  { action: "start", label: "Start", symbol: "▶" },
  { action: "stop", label: "Stop", symbol: "■" },
  { action: "restart", label: "Restart", symbol: "↻" },
];

function CellButtons({ session, actions, busy }: { session: Session; actions: SessionActions; busy: boolean }) {
  return (
    <>
      {BUTTONS.map(({ action, label, symbol }) => {
        // Off rather than refused after a click: the title (and the row's note) say who can.
        const adminOnly = needsForce(session, action) && !actions.mayForceHighPriority;
        return (
          <button
            key={action}
            type="button"
            className={`button button--tiny session-action session-action--${action}`}
            onClick={() => actions.run(session, action)}
            disabled={busy || adminOnly || !canApply(session, action)}
            title={adminOnly ? adminOnlyHint(session, action) : `${label} ${session.name}`}
            aria-label={`${label} ${session.name}`}
            data-testid={`${action}-${session.name}`}
          >
            <span aria-hidden="true">{symbol}</span> {label}
          </button>
        );
      })}
    </>
  );
}
