import { describe, expect, it } from "vitest";
import { formatRecent } from "../../format/time";
import { attemptText, smsText } from "./thread";

describe("an attempt in a number's conversation", () => {
  it("says how it ended, with its error code", () => {
    expect(attemptText({ status: null, error_code: null, broken_off: false, sent_at: null })).toBe("outcome: in flight");
    expect(attemptText({ status: "not_delivered", error_code: null, broken_off: false, sent_at: null })).toBe("outcome: not delivered");
    expect(attemptText({ status: "error", error_code: "E_GATEWAY", broken_off: false, sent_at: null })).toBe("outcome: error (E_GATEWAY)");
  });

  it("says an attempt broken off by a stop is no failure of its route", () => {
    expect(attemptText({ status: "error", error_code: "lease_lost", broken_off: true, sent_at: null })).toBe(
      "broken off (lease lost): not counted against the route",
    );
  });

  it("says when the SMS of an attempt broken off had reached the gateway", () => {
    const sentAt = "2026-12-05T14:03:27Z";
    expect(attemptText({ status: "error", error_code: "interrupted", broken_off: true, sent_at: sentAt })).toBe(
      `sent at ${formatRecent(sentAt)}, then broken off before its outcome came (interrupted): not counted against the route`,
    );
  });
});

describe("an SMS in a number's conversation", () => {
  it("shows its text, or says the server hid it below the operator role", () => {
    expect(smsText({ text: "Your code is 424242", redacted: false })).toBe("Your code is 424242");
    expect(smsText({ text: null, redacted: true })).toBe("text hidden: codes hidden from viewers");
  });
});
