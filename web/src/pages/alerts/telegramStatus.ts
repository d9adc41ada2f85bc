// What the Alerts page says of the messages to Telegram: how many wait, and, when the
// oldest was tried and not taken, why and when it is tried again, so a stalled channel
// reads as one rather than as a queue about to go out.
import type { AlertsOverview } from "../../api/types";
import { formatRecent } from "../../format/time";

type TelegramStatus = AlertsOverview["telegram"];

export const NOT_CONFIGURED =
  "Telegram is not configured: alerts are kept here but not sent, and no test message can be sent. Set SMSFLEET_TELEGRAM_BOT_TOKEN and SMSFLEET_TELEGRAM_CHAT_IDS (see docs/operations.md, Alerts and Telegram).";

/** Whether the channel needs a look: not configured, or its oldest message not taken. */
export function telegramStalled(telegram: TelegramStatus): boolean {
  return !telegram.configured || (telegram.pending > 0 && telegram.not_taken != null);
}

export function telegramStatusText(telegram: TelegramStatus, now: Date = new Date()): string {
  if (!telegram.configured) return NOT_CONFIGURED;
  const refused = `${telegram.failed} refused.`;
  // Configured, and whether it took anything yet: a channel that never sent reads as such.
  const head = telegram.last_sent_at
    ? `Telegram configured, the last message sent at ${formatRecent(telegram.last_sent_at, now)}:`
    : "Telegram configured, no message sent yet:";
  if (telegram.pending === 0 || telegram.not_taken == null) {
    return `${head} ${telegram.pending} waiting to be sent, ${refused}`;
  }
  const since = telegram.oldest_pending_at ? ` since ${formatRecent(telegram.oldest_pending_at, now)}` : "";
  const again = telegram.next_try_at ? `; next try at ${formatRecent(telegram.next_try_at, now)}` : "";
  return `${head} ${telegram.pending} waiting to be sent${since}, the oldest not taken: ${telegram.not_taken}${again}. ${refused}`;
}
