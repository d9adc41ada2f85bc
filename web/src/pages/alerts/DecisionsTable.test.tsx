import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { PolicyDecision } from "../../api/types";
import { DecisionsTable } from "./DecisionsTable";

const decision = (changes: Partial<PolicyDecision>): PolicyDecision => ({
  id: "d1",
  at: "2026-01-05T12:05:00Z",
  pair: "UZ_uzmobile",
  country: "UZ",
  action: "paused",
  reason: "UZ_uzmobile paused: 7 of 26 delivered (27 %) in the last 30 min: below the 50 % pause line",
  lower_bound: 0.14,
  upper_bound: 0.46,
  decided_on: "upper_bound",
  success_ratio: 7 / 26,
  samples: 26,
  delivered: 7,
  pause_threshold: 0.5,
  resume_threshold: 0.7,
  window: "last 30 min, at most 50 attempts",
  cooldown_seconds: 120,
  ...changes,
});

/** The Success cell of the only row, as read. */
function success(row: PolicyDecision): string {
  const html = renderToStaticMarkup(<DecisionsTable decisions={[row]} />);
  const match = /data-testid="decision-success">(.*?)<\/td>/.exec(html);
  expect(match).not.toBeNull();
  return match?.[1] ?? "";
}

describe("DecisionsTable", () => {
  it("shows the figures a decision was taken on, and which they are on hover", () => {
    const cell = success(decision({}));
    expect(cell).toContain("(7/26)");
    expect(cell).toContain('title="last 30 min, at most 50 attempts"');
  });

  it("shows no figures for a probing decision, taken because its cool-down was over", () => {
    const cell = success(
      decision({
        action: "probing",
        reason: "UZ_uzmobile probing: cool-down of 2 min over",
        lower_bound: null,
        upper_bound: null,
        decided_on: null,
        success_ratio: null,
        samples: null,
        delivered: null,
        window: null,
        cooldown_seconds: null,
      }),
    );
    expect(cell).toContain(">—<");
    expect(cell).not.toContain("null");
  });
});
