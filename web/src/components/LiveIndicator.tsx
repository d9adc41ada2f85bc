import { useConnection } from "./connection";

const LABELS = {
  connecting: "Connecting…",
  live: "Live",
  offline: "Offline",
  refused: "Paused",
} as const;

const TITLES = {
  connecting: "Connecting to live updates",
  live: "Live updates are on",
  offline: "Offline: live updates are paused until the connection is back",
  refused: "Live updates are paused: too many live connections are open",
} as const;

export function LiveIndicator() {
  const connection = useConnection();
  return (
    <span
      className={`live live--${connection}`}
      role="status"
      title={TITLES[connection]}
      data-testid="live-indicator"
      data-status={connection === "live" ? "connected" : connection}
    >
      <span className="live__dot" aria-hidden="true" />
      {LABELS[connection]}
    </span>
  );
}
