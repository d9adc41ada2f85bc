import type { SessionState } from "../api/types";

const TITLES: Record<SessionState, string> = {
  running: "Running in its screen session",
  starting: "Started, not yet up long enough to count as running",
  backoff: "Exited; waiting before the next restart",
  exited: "Exited",
  fatal: "Failed too often in a row; start it again to retry",
  stopping: "Stopping",
  stopped: "Stopped",
};

export function SessionStateBadge({ state, testId }: { state: SessionState; testId?: string }) {
  return (
    <span
      className={`badge session-badge session-badge--${state}`}
      title={TITLES[state]}
      data-testid={testId ?? "session-state"}
      data-state={state}
    >
      {state}
    </span>
  );
}
