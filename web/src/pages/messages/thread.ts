import type { ThreadItem } from "../../api/types";
import { formatRecent } from "../../format/time";
import { CODES_HIDDEN } from "./sendText";

/** An SMS's text in a thread; one the server hid below the operator role says so. */
export function smsText(item: Pick<ThreadItem, "text" | "redacted">): string {
  return item.redacted ? `text hidden: ${CODES_HIDDEN}` : (item.text ?? "");
}

/** How an attempt ended, in words; one broken off by a stop is no failure of its route.
 * Broken off after its SMS reached the gateway, the number may have it: it says so. */
export function attemptText(item: Pick<ThreadItem, "status" | "error_code" | "broken_off" | "sent_at">): string {
  const code = item.error_code ?? "";
  if (item.broken_off) {
    const why = `(${code.replaceAll("_", " ")}): not counted against the route`;
    if (!item.sent_at) return `broken off ${why}`;
    return `sent at ${formatRecent(item.sent_at)}, then broken off before its outcome came ${why}`;
  }
  const outcome = `outcome: ${(item.status ?? "in flight").replaceAll("_", " ")}`;
  return code ? `${outcome} (${code})` : outcome;
}
