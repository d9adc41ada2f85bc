import type { ThreadItem } from "../../api/types";
import { CODES_HIDDEN } from "./sendText";

/** An SMS's text in a thread; one the server hid below the operator role says so. */
export function smsText(item: Pick<ThreadItem, "text" | "redacted">): string {
  return item.redacted ? `text hidden: ${CODES_HIDDEN}` : (item.text ?? "");
}

/** How an attempt ended, in words; one broken off by a stop is no failure of its route. */
export function attemptText(item: Pick<ThreadItem, "status" | "error_code" | "broken_off">): string {
  const code = item.error_code ?? "";
  if (item.broken_off) return `broken off (${code.replaceAll("_", " ")}): not counted against the route`;
  const outcome = `outcome: ${(item.status ?? "in flight").replaceAll("_", " ")}`;
  return code ? `${outcome} (${code})` : outcome;
}
