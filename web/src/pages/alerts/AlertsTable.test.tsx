import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../api/types";
import { formatDateTime } from "../../format/time";
import { AlertsTable } from "./AlertsTable";

const alert = (changes: Partial<Alert>): Alert =>
  ({
    id: "a1",
    fingerprint: "f1",
    rule: "country_under_target",
    severity: "warning",
    state: "firing",
    subject_kind: "country",
    subject: "US",
    country: "US",
    summary: "US: 4 of its goal of 10 sends a minute",
    details: {},
    started_at: "2026-01-05T12:00:00Z",
    last_seen_at: "2026-01-05T12:00:00Z",
    resolved_at: null,
    acknowledged_at: null,
    acknowledged_by: null,
    milder_acknowledged_at: null,
    milder_acknowledged_by: null,
    milder_acknowledged_severity: null,
    last_notified_at: null,
    notifications: 0,
    ...changes,
  });

/** The Subject cell of the only row, as read. */
function subject(row: Alert): string {
  const html = renderToStaticMarkup(
    <AlertsTable alerts={[row]} emptyText="none" busyId={null} now={Date.parse("2026-01-05T12:05:00Z")} />,
  );
  const cells = [...html.slice(html.indexOf("<tbody>")).matchAll(/<td[^>]*>(.*?)<\/td>/g)];
  return (cells[2]?.[1] ?? "").replace(/<[^>]+>/g, "");
}

/** The acknowledgement under the only row's state, as read. */
function acknowledgement(row: Alert): string {
  const html = renderToStaticMarkup(
    <AlertsTable alerts={[row]} emptyText="none" busyId={null} now={Date.parse("2026-01-05T12:05:00Z")} onAcknowledge={() => undefined} />,
  );
  const cell = html.slice(html.indexOf('data-testid="alert-ack"'));
  return cell.slice(cell.indexOf(">") + 1, cell.indexOf("</div>")).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
}

describe("an alert's acknowledgement", () => {
  it("names who acknowledged it", () => {
    expect(acknowledgement(alert({ acknowledged_by: "bob", acknowledged_at: "2026-01-05T12:01:00Z" }))).toBe("acknowledged by bob");
  });

  it("keeps, once it got worse, who acknowledged it milder beside the button", () => {
    const worse = alert({
      severity: "critical",
      milder_acknowledged_by: "olga",
      milder_acknowledged_at: "2026-01-05T12:01:00Z",
      milder_acknowledged_severity: "warning",
    });
    expect(acknowledgement(worse)).toBe(`Acknowledge olga acknowledged it as warning at ${formatDateTime("2026-01-05T12:01:00Z")}; it turned critical after`);
    // Acknowledged again, the new one is what counts.
    expect(acknowledgement({ ...worse, acknowledged_by: "bob", acknowledged_at: "2026-01-05T12:04:00Z" })).toBe("acknowledged by bob");
  });
});

describe("the alerts' Subject column", () => {
  it("names a country's own alert once", () => {
    expect(subject(alert({}))).toBe("US");
  });

  it("gives the country of a pair's or a session's alert after it", () => {
    expect(subject(alert({ subject_kind: "pair", subject: "US_verizon" }))).toBe("US_verizon · US");
    expect(subject(alert({ subject_kind: "session", subject: "program1_US_verizon" }))).toBe("program1_US_verizon · US");
  });
});
