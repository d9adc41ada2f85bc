import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import type { Pair, PairStanding, Session } from "../../api/types";
import { SESSIONS_KEY } from "../../data/sessions";
import { DeletePairDialog } from "./DeletePairDialog";
import { nextLookText, PairsTable, type PairActions } from "./PairsTable";

// The API client needs a browser's window; nothing is sent from here.
vi.mock("../../api/endpoints", () => ({ deletePair: vi.fn() }));
// The ticking clock subscribes to a browser's timer: 12:02:58 UTC is enough here.
const NOW = Date.parse("2026-01-05T12:02:58Z");
vi.mock("../../hooks/useTicker", () => ({ useNow: () => Date.parse("2026-01-05T12:02:58Z") }));

const pair = (changes: Partial<Pair>): Pair =>
  ({
    key: "IN_vi",
    country: "IN",
    country_name: "India",
    operator: "Vi India",
    region: null,
    state: "enabled",
    state_actor: null,
    state_reason: null,
    state_changed_at: null,
    is_high_priority: true,
    phone_numbers: ["+919812345678"],
    programs: ["program1"],
    ...changes,
  }) as Pair;

const actions = (mayChangeHighPriority: boolean): PairActions => ({
  onEdit: () => undefined,
  onDelete: () => undefined,
  onTogglePriority: () => undefined,
  onResume: () => undefined,
  onPause: () => undefined,
  mayChangeHighPriority,
});

const standingOf = (changes: Partial<PairStanding>): PairStanding => ({
  pair: "UZ_uzmobile",
  country: "UZ",
  state: "enabled",
  is_high_priority: false,
  held: false,
  action: null,
  reason: "47 of the newest 50 delivered (94 %) in the last 30 min: over the 50 % pause line",
  success_ratio: 0.94,
  samples: 50,
  delivered: 47,
  lower_bound: 0.84,
  upper_bound: 0.98,
  pause_threshold: 0.5,
  resume_threshold: 0.7,
  window: "last 30 min, at most 50 attempts",
  next_look_at: "2026-01-05T12:03:10Z",
  ...changes,
});

function table(pairs: Pair[], mayChangeHighPriority: boolean, standing: PairStanding[] = []): string {
  return renderToStaticMarkup(
    <PairsTable
      pairs={pairs}
      standing={new Map(standing.map((entry) => [entry.pair, entry]))}
      actions={actions(mayChangeHighPriority)}
      emptyText="none"
      busyKey={null}
    />,
  );
}

/** The opening tag of the element with this test id. */
function tag(html: string, testId: string): string {
  const match = new RegExp(`<[^>]*data-testid="${testId}"[^>]*>`).exec(html);
  if (!match) throw new Error(`no element ${testId}`);
  return match[0];
}

describe("PairsTable", () => {
  it("turns a high-priority pair's Unmark and Delete off for a non-admin, saying why on the row", () => {
    const html = table([pair({})], false);
    expect(tag(html, "toggle-priority-IN_vi")).toContain("disabled");
    expect(tag(html, "delete-IN_vi")).toContain("disabled");
    expect(tag(html, "edit-IN_vi")).not.toContain("disabled");
    expect(html).toContain('data-testid="admin-pair-hint-IN_vi">Only an admin can unmark or delete.<');
  });

  it("leaves them on for an admin, and a normal pair's for anyone", () => {
    const admin = table([pair({})], true);
    expect(tag(admin, "toggle-priority-IN_vi")).not.toContain("disabled");
    expect(tag(admin, "delete-IN_vi")).not.toContain("disabled");
    expect(admin).not.toContain("admin-pair-hint");

    const normal = table([pair({ key: "UZ_uzmobile", is_high_priority: false })], false);
    expect(tag(normal, "delete-UZ_uzmobile")).not.toContain("disabled");
    expect(normal).not.toContain("admin-pair-hint");
  });

  it("leaves marking a pair high priority to an admin: its sessions then always run", () => {
    const normal = (mayChange: boolean) => table([pair({ key: "UZ_uzmobile", is_high_priority: false })], mayChange);
    expect(tag(normal(false), "toggle-priority-UZ_uzmobile")).toContain("disabled");
    expect(tag(normal(false), "toggle-priority-UZ_uzmobile")).toContain("Only an admin can mark a pair high priority");
    expect(tag(normal(true), "toggle-priority-UZ_uzmobile")).not.toContain("disabled");
  });

  it("shows each pair's success as the policy reads it, and why it leaves the pair alone", () => {
    const html = table([pair({ key: "UZ_uzmobile", is_high_priority: false })], true, [standingOf({})]);
    expect(html).toMatch(/data-testid="success">94 %.*47\/50/);
    expect(tag(html, "success")).toContain(
      'title="Figures: last 30 min, at most 50 attempts\nPolicy: 47 of the newest 50 delivered (94 %) in the last 30 min: over the 50 % pause line"',
    );
    expect(html).not.toContain("pairs-table__success--under");
    // Nothing coming: no line under a running pair.
    expect(html).not.toContain("policy-note-UZ_uzmobile");
  });

  it("says a pause coming under the row, and in how long the policy's next look carries it out", () => {
    const reason =
      "at its next look (12:03:10 UTC): 4 of 20 delivered (20 %) in the last 30 min: below the 50 % pause line with 95 % confidence";
    const html = table([pair({ key: "UZ_uzmobile", is_high_priority: false })], true, [
      standingOf({ action: "paused", reason, success_ratio: 0.2, samples: 20, delivered: 4 }),
    ]);
    expect(html).toContain("pairs-table__success--under");
    expect(html).toContain(`data-testid="policy-note-UZ_uzmobile">Policy pauses it ${reason}<`);
    expect(html).toContain('data-testid="policy-next-look-UZ_uzmobile">next look in 12s<');
  });

  it("counts down to the policy's next look, and says when none is scheduled here", () => {
    expect(nextLookText("2026-01-05T12:03:10Z", NOW)).toBe("next look in 12s");
    expect(nextLookText("2026-01-05T12:04:10Z", NOW)).toBe("next look in 1m 12s");
    expect(nextLookText("2026-01-05T12:02:58Z", NOW)).toBe("next look due now");
    expect(nextLookText(null, NOW)).toBe("no look scheduled");
  });

  it("says which figures a pair paused by the policy shows: those it was paused on", () => {
    const window = "what paused it at 12:02:01 UTC: its probes since it was probed, at most 50";
    const html = table(
      [pair({ key: "UZ_uzmobile", is_high_priority: false, state: "paused", state_actor: "policy" })],
      true,
      [standingOf({ state: "paused", reason: "in its cool-down of 4 min", success_ratio: 0.1, samples: 10, delivered: 1, window })],
    );
    expect(html).toMatch(/data-testid="success">10 %.*1\/10/);
    expect(tag(html, "success")).toContain(`title="Figures: ${window}\nPolicy: in its cool-down of 4 min"`);
  });

  it("gives no countdown beside a state already in place", () => {
    const reason = "in its cool-down of 2 min: probed from 12:04:00 UTC";
    const html = table(
      [pair({ key: "UZ_uzmobile", is_high_priority: false, state: "paused", state_actor: "policy" })],
      true,
      [standingOf({ state: "paused", reason, success_ratio: 0.2, samples: 20, delivered: 4 })],
    );
    expect(html).toContain(`data-testid="policy-note-UZ_uzmobile">Policy: ${reason}<`);
    expect(html).not.toContain("policy-next-look-UZ_uzmobile");
  });

  it("says under the row why a pair under its pause line still runs: a high-priority pair held", () => {
    const reason =
      "held (high priority, so it keeps running): 4 of 20 delivered (20 %) in the last 30 min: taken as failing until it is confidently above the 70 % line it recovers at";
    const html = table([pair({ key: "UZ_uzmobile" })], true, [
      standingOf({ is_high_priority: true, reason, success_ratio: 0.2, samples: 20, delivered: 4 }),
    ]);
    expect(html).toContain(`data-testid="policy-note-UZ_uzmobile">Policy: ${reason}<`);
  });

  it("says under the row that the policy holds a high-priority pair, over its pause line again", () => {
    // Held on its newest attempts, now at 52 %: held until confidently over the resume line.
    const reason =
      "held (high priority, so it keeps running): 26 of the newest 50 delivered (52 %) in the last 30 min: taken as failing until it is confidently above the 70 % line it recovers at";
    const held = { is_high_priority: true, reason, success_ratio: 0.52, samples: 50, delivered: 26 };
    const html = table([pair({ key: "UZ_uzmobile" })], true, [standingOf({ ...held, held: true })]);
    expect(html).toContain(`data-testid="policy-note-UZ_uzmobile">Policy: ${reason}<`);
    const healthy = table([pair({ key: "UZ_uzmobile" })], true, [standingOf({ ...held, reason: "over", held: false })]);
    expect(healthy).not.toContain("policy-note-UZ_uzmobile");
  });

  it("says a probing pair's probes so far, and a pair with no figures shows a dash", () => {
    const probing = "probing: 4 of the 10 probes a decision needs have completed, 3 delivered";
    const html = table(
      [
        pair({ key: "UZ_uzmobile", is_high_priority: false, state: "probing", state_actor: "policy" }),
        pair({ key: "UZ_beeline", is_high_priority: false }),
      ],
      true,
      [
        standingOf({ state: "probing", reason: probing, success_ratio: 0.75, samples: 4, delivered: 3 }),
        standingOf({
          pair: "UZ_beeline",
          reason: "0 completed attempts in the last 30 min: a decision needs 20",
          success_ratio: null,
          samples: 0,
          delivered: 0,
        }),
      ],
    );
    expect(html).toContain(`data-testid="policy-note-UZ_uzmobile">Policy: ${probing}<`);
    expect(html).toContain('title="Policy: 0 completed attempts in the last 30 min: a decision needs 20">—<');
  });
});

describe("DeletePairDialog", () => {
  function dialog(target: Pair, mayDeleteHighPriority: boolean, sessions?: Pick<Session, "pair" | "state">[]): string {
    const client = new QueryClient();
    if (sessions) client.setQueryData(SESSIONS_KEY, sessions);
    return renderToStaticMarkup(
      <QueryClientProvider client={client}>
        <DeletePairDialog
          pair={target}
          mayDeleteHighPriority={mayDeleteHighPriority}
          onDeleted={() => undefined}
          onClose={() => undefined}
        />
      </QueryClientProvider>,
    );
  }

  it("offers a non-admin nothing to confirm for a high-priority pair", () => {
    const html = dialog(pair({}), false);
    expect(html).toContain("Only an admin can delete it.");
    expect(html).not.toContain("confirm-acknowledge");
    expect(html).not.toContain("confirm-button");
  });

  it("asks an admin to acknowledge, and anyone to confirm a normal pair", () => {
    const admin = dialog(pair({}), true);
    expect(admin).toContain("confirm-acknowledge");
    expect(admin).toContain("confirm-button");

    const normal = dialog(pair({ is_high_priority: false }), false);
    expect(normal).not.toContain("confirm-acknowledge");
    expect(normal).toContain("confirm-button");
  });

  it("says how many of the pair's sessions run and will be stopped", () => {
    const normal = pair({ is_high_priority: false });
    const sessions: Pick<Session, "pair" | "state">[] = [
      { pair: "IN_vi", state: "running" },
      { pair: "IN_vi", state: "backoff" },
      { pair: "IN_vi", state: "stopped" },
      { pair: "UZ_uzmobile", state: "running" },
    ];
    const stops = (html: string) => /data-testid="delete-stops-sessions">([^<]*)</.exec(html)?.[1];
    expect(stops(dialog(normal, false, sessions))).toBe("Its 2 running sessions will be stopped.");
    expect(stops(dialog(normal, false, sessions.slice(1)))).toBe("Its 1 running session will be stopped.");
    expect(stops(dialog(normal, false, sessions.slice(2)))).toBe("None of its sessions is running.");
    expect(stops(dialog(normal, false))).toBe("Any of its sessions still running will be stopped.");
  });
});
