import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { Send } from "../../api/types";
import { SendRow } from "./SendRow";

const REASON =
  "waiting since 14:03:27 UTC: +998991234500 awaits another code (a test SMS handed out at 14:02:51 UTC)," +
  " until it comes or 14:09:51 UTC at the latest; program1 takes it once the number is free";

const send = (changes: Partial<Send>): Send =>
  ({
    id: "s1",
    phone: "+998991234500",
    pair: "UZ_uzmobile",
    country: "UZ",
    template_id: null,
    params: {},
    text: "hi",
    sent_text: null,
    status: "PENDING",
    programs: ["program1"],
    next_index: 0,
    tries: 0,
    program: null,
    provider: null,
    attempt_id: null,
    leased_until: null,
    waiting_since: "2026-01-05T14:03:27Z",
    error: null,
    sent_at: null,
    sent_unknown: false,
    actor: "operator",
    created_at: "2026-01-05T14:03:27Z",
    updated_at: "2026-01-05T14:03:27Z",
    completed_at: null,
    waiting_reason: REASON,
    redacted: false,
    ...changes,
  });

/** The row's last cell (why it waits / last error), as read. */
function lastCell(row: Send): string {
  const html = renderToStaticMarkup(
    <table>
      <tbody>
        <SendRow send={row} selected={false} onSelect={() => undefined} />
      </tbody>
    </table>,
  );
  const cells = [...html.matchAll(/<td[^>]*>(.*?)<\/td>/g)];
  return (cells.at(-1)?.[1] ?? "").replace(/<div[^>]*>/g, " · ").replace(/<[^>]+>/g, "");
}

describe("a send's row", () => {
  it("says why a pending send waits", () => {
    expect(lastCell(send({}))).toBe(REASON);
  });

  it("says why a pending send waits above its previous program's error", () => {
    expect(lastCell(send({ error: "program0: send_failed" }))).toBe(`${REASON} · Last error: program0: send_failed`);
  });

  it("shows a finished send's error, not a reason", () => {
    expect(lastCell(send({ status: "FAILED", error: "program1: no report within the lease", waiting_reason: null }))).toBe(
      "program1: no report within the lease",
    );
    expect(lastCell(send({ status: "DONE", waiting_reason: null }))).toBe("—");
  });
});
