import { renderToStaticMarkup } from "react-dom/server";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import type { CountryGoal, MetricsTotals } from "../../api/types";
import { KpiCards, fleetGranted } from "./KpiCards";
import type { DownCounts } from "./sessionCounts";

const totals = (changes: Partial<MetricsTotals>): MetricsTotals =>
  ({
    sent: 900,
    delivered: 890,
    not_delivered: 68,
    send_failed: 42,
    failed: 42,
    errors: 0,
    completed: 1000,
    broken_off: 0,
    success_rate: 0.89,
    ...changes,
  }) as MetricsTotals;

/** The cards' markup. */
function cards(figures: MetricsTotals): string {
  return renderToStaticMarkup(
    <MemoryRouter>
      <KpiCards
        recent={figures}
        granted={{ perMinute: 54.5, goal: 60 }}
        totals={figures}
        rangeLabel="last 24 h"
        activeSessions={18}
        totalSessions={18}
        alerts={{ firing: 0, critical: 0, unacknowledged: 0 }}
      />
    </MemoryRouter>,
  );
}

/** The Failures card's subtitle, as read. */
function failuresHint(figures: MetricsTotals): string {
  const html = cards(figures);
  const card = html.slice(html.indexOf(">Failures<"));
  const hint = /<div class="kpi__hint">(.*?)<\/div>/.exec(card)?.[1] ?? "";
  return hint.replace(/<[^>]+>/g, "");
}

describe("the Failures card", () => {
  it("says the attempts broken off are not among the failures it counts", () => {
    expect(failuresHint(totals({ broken_off: 1 }))).toBe(
      "68 not delivered, 42 failed to send · 1 broken off (in no rate) · last 24 h",
    );
  });

  it("says on hover that a grant not used in time is broken off too", () => {
    const html = cards(totals({ broken_off: 3 }));
    const card = html.slice(html.indexOf(">Failures<"));
    const title = /<span title="([^"]*)">/.exec(card)?.[1] ?? "";
    expect(title).toContain("Stopped, killed or never reported");
    expect(title).toContain("not ready within half a second of its grant (grant_stale)");
  });

  it("says nothing of broken-off attempts when there are none", () => {
    expect(failuresHint(totals({}))).toBe("68 not delivered, 42 failed to send · last 24 h");
  });
});

describe("the Granted per minute card", () => {
  const html = cards(totals({ sent: 111 }));
  const card = html.slice(html.indexOf(">Granted per minute<"), html.indexOf(">Success rate<"));
  const text = (markup: string) => markup.replace(/<[^>]+>/g, "");

  it("gives the rate with its unit", () => {
    const value = /<div class="kpi__value">(.*?)<\/div>/.exec(card)?.[1] ?? "";
    expect(text(value)).toBe("54.5 per min");
  });

  it("says the goal and the sends reported each on its own line, in words", () => {
    const lines = [...card.matchAll(/<span class="kpi__line"[^>]*>(.*?)<\/span>(?=<span class="kpi__line"|<\/div>)/g)].map((m) =>
      text(m[1] ?? ""),
    );
    expect(lines).toEqual(["goal 60 per min", "111 sent in the last 2 min, by report time"]);
  });

  it("says on hover why the sends reported may pass the cap, and the grants not", () => {
    const line = /<span class="kpi__line" title="([^"]*)">/.exec(card)?.[1] ?? "";
    expect(line).toContain("when its outcome is reported");
    expect(line).toContain("never passes the cap");
  });
});

describe("the Active sessions card", () => {
  const card = (counts: { running?: number; stopping?: number; held?: number; stopped?: number; down?: DownCounts }) =>
    renderToStaticMarkup(
      <MemoryRouter>
        <KpiCards
          recent={undefined}
          granted={undefined}
          totals={undefined}
          rangeLabel="last 24 h"
          activeSessions={counts.running ?? 12}
          totalSessions={18}
          stoppingSessions={counts.stopping}
          heldSessions={counts.held}
          stoppedSessions={counts.stopped}
          downSessions={counts.down}
          alerts={undefined}
        />
      </MemoryRouter>,
    );

  it("says how many are held stopped by their pairs or stopped on purpose, which are not down", () => {
    expect(card({ held: 6 })).toContain("running of 18 · 6 held stopped by their pairs (paused, or no test number)");
    expect(card({ held: 0 })).toContain("running of 18<");
    expect(card({})).not.toContain("held stopped");
    expect(card({ held: 2, stopped: 1 })).toContain(
      "running of 18 · 2 held stopped by their pairs (paused, or no test number) · 1 stopped on purpose",
    );
    expect(card({ held: 0, stopped: 1 })).toContain("running of 18 · 1 stopped on purpose<");
  });

  it("says first how many are down and why, in colour, and leads to the Programs page", () => {
    const html = card({ running: 15, down: { fatal: 1, backoff: 1 }, stopping: 1 });
    expect(html).toContain("running of 18 · 2 down: 1 fatal (no longer restarted), 1 waiting to restart · 1 stopping<");
    expect(html).toContain("kpi--poor");
    expect(html).toContain('href="/programs"');
    const waiting = card({ running: 17, down: { backoff: 1 } });
    expect(waiting).toContain("running of 18 · 1 down: 1 waiting to restart<");
    expect(waiting).toContain("kpi--fair");
    const none = card({ running: 18, down: {} });
    expect(none).not.toContain("down");
    expect(none).not.toContain('href="/programs"');
  });

  it("says how many are stopping, their programs still running", () => {
    expect(card({ running: 16, stopping: 2, held: 0 })).toContain("running of 18 · 2 stopping<");
  });
});

describe("the fleet's goal", () => {
  const goal = (country: string, achieved: number, reasonKind: CountryGoal["reason_kind"]): CountryGoal =>
    ({ country, goal_per_minute: 10, achieved_per_minute: achieved, reason_kind: reasonKind }) as CountryGoal;

  it("adds up the caps of the countries expected to send, a paused one among them", () => {
    const goals = [goal("UZ", 10, null), goal("IN", 0, "paused"), goal("GE", 0, "no_session")];
    expect(fleetGranted(goals)).toEqual({ perMinute: 10, goal: 20 });
  });

  it("adds up the grants of those same countries: not those of one whose sessions were just stopped", () => {
    const goals = [goal("UZ", 9.5, null), goal("AZ", 8, "no_session"), goal("TJ", 4, "halted")];
    expect(fleetGranted(goals)).toEqual({ perMinute: 9.5, goal: 10 });
  });

  it("is unknown while the goals load", () => {
    expect(fleetGranted(undefined)).toBeUndefined();
  });
});
