import { describe, expect, it } from "vitest";
import type { AlertsOverview } from "../../api/types";
import { NOT_CONFIGURED, telegramStalled, telegramStatusText } from "./telegramStatus";

const NOW = new Date("2026-12-06T11:47:00Z");
const status = (fields: Partial<AlertsOverview["telegram"]>): AlertsOverview["telegram"] => ({
  configured: true,
  pending: 0,
  failed: 0,
  oldest_pending_at: null,
  not_taken: null,
  next_try_at: null,
  last_sent_at: null,
  ...fields,
});

describe("the Telegram status line", () => {
  it("counts what waits while Telegram takes it", () => {
    const flowing = status({
      pending: 2,
      oldest_pending_at: "2026-12-06T11:46:58Z",
      last_sent_at: "2026-12-06T11:46:30Z",
    });
    expect(telegramStatusText(flowing, NOW)).toBe(
      "Telegram configured, the last message sent at 11:46:30 UTC: 2 waiting to be sent, 0 refused.",
    );
    expect(telegramStatusText(status({}), NOW)).toBe(
      "Telegram configured, no message sent yet: 0 waiting to be sent, 0 refused.",
    );
    expect(telegramStalled(flowing)).toBe(false);
  });

  it("says why the oldest was not taken and when it is tried again", () => {
    const stalled = status({
      pending: 3,
      failed: 1,
      oldest_pending_at: "2026-12-06T11:46:01Z",
      not_taken: "Telegram unreachable: ConnectError",
      next_try_at: "2026-12-06T11:47:31Z",
    });
    expect(telegramStatusText(stalled, NOW)).toBe(
      "Telegram configured, no message sent yet: 3 waiting to be sent since 11:46:01 UTC, the oldest not taken: Telegram unreachable: ConnectError; next try at 11:47:31 UTC. 1 refused.",
    );
    expect(telegramStalled(stalled)).toBe(true);
  });

  it("says how to set it up when it is not configured", () => {
    expect(telegramStatusText(status({ configured: false }), NOW)).toBe(NOT_CONFIGURED);
    expect(telegramStalled(status({ configured: false }))).toBe(true);
  });
});
