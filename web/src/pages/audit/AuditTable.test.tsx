import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../api/audit";
import { AuditTable } from "./AuditTable";

const entry = (changes: Partial<AuditEvent>): AuditEvent => ({
  id: "e1",
  at: "2026-01-05T12:00:00Z",
  actor: "admin",
  actor_role: "admin",
  api_key_id: null,
  action: "user.updated",
  target_kind: "user",
  target: "bob",
  forced: false,
  reason: null,
  before: { username: "bob", role: "operator" },
  after: { username: "bob", role: "viewer" },
  ...changes,
});

const text = (html: string) => html.replace(/<[^>]+>/g, "");
const render = (event: AuditEvent) => renderToStaticMarkup(<AuditTable events={[event]} />);

describe("the audit table", () => {
  it("shows when in UTC, who, the action, the target and what changed", () => {
    const shown = text(render(entry({})));
    expect(shown).toContain("Jan 5, 12:00:00 UTC");
    expect(shown).toContain("admin");
    expect(shown).toContain("user.updated");
    expect(shown).toContain("bob");
    expect(shown).toContain("role: operator → viewer");
    expect(shown).not.toContain("API key");
  });

  it("names the API key that acted, and a forced change", () => {
    const shown = text(render(entry({ api_key_id: "k_123", forced: true, reason: "night maintenance" })));
    expect(shown).toContain("with API key k_123");
    expect(shown).toContain("forced");
    expect(shown).toContain("night maintenance");
  });

  it("offers no before/after when nothing changed, and keeps the changes closed at first", () => {
    const html = render(entry({ action: "user.logged_out", before: null, after: null }));
    expect(html).not.toContain("audit-changes-toggle");
    expect(render(entry({}))).not.toContain('data-testid="audit-changes"');
  });
});
