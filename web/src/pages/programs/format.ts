import { formatRecent, toDate } from "../../format/time";

/** `42s`, `5m 03s`, `3h 07m`, `2d 04h`. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  const pad = (value: number) => value.toString().padStart(2, "0");
  if (days > 0) return `${days}d ${pad(hours)}h`;
  if (hours > 0) return `${hours}h ${pad(minutes)}m`;
  if (minutes > 0) return `${minutes}m ${pad(rest)}s`;
  return `${rest}s`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** When the supervisor starts a crashed session in backoff again: `retry at 21:34:56 (in 12s)`, `retrying` once due. */
export function retryText(retryAt: string, now: number): string {
  const date = toDate(retryAt);
  if (date === null) return `retry at ${retryAt}`;
  const wait = Math.ceil((date.getTime() - now) / 1000);
  return wait > 0 ? `retry at ${formatRecent(date, new Date(now))} (in ${formatDuration(wait)})` : "retrying";
}
