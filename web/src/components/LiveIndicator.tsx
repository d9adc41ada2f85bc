import { useLiveStatus } from "../live/LiveContext";

const LABELS = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
} as const;

export function LiveIndicator() {
  const status = useLiveStatus();
  return (
    <span
      className={`live live--${status}`}
      role="status"
      title={status === "connected" ? "Live updates are on" : "Live updates are paused until the connection is back"}
      data-testid="live-indicator"
      data-status={status}
    >
      <span className="live__dot" aria-hidden="true" />
      {LABELS[status]}
    </span>
  );
}
