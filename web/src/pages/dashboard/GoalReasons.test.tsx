import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { CountryGoal } from "../../api/types";
import { GoalReasons } from "./GoalReasons";

const goal = (changes: Partial<CountryGoal>): CountryGoal =>
  ({
    country: "UZ",
    goal_per_minute: 10,
    achieved_per_minute: 10,
    window_seconds: 120,
    on_goal: true,
    reason: null,
    reason_kind: null,
    cap_note: null,
    ...changes,
  }) as CountryGoal;

/** The text shown, tags taken out. */
const text = (goals: CountryGoal[]): string =>
  renderToStaticMarkup(<GoalReasons goals={goals} />).replace(/<[^>]+>/g, "|");

const cut = "its cap changed from 10 to 5 20 s ago, less than the 2 min the count is made over";

describe("the goals' reasons", () => {
  it("say every country is on goal when none has a note", () => {
    expect(text([goal({}), goal({ country: "UA" })])).toBe(
      "|Every country is granted at least 95 % of its goal (last 2 min).|",
    );
  });

  it("say a cap changed within the window of a country on goal, so a count over it is read", () => {
    const shown = text([goal({ goal_per_minute: 5, achieved_per_minute: 9.5, cap_note: cut }), goal({ country: "UA" })]);
    expect(shown).toContain("Every country is granted at least 95 %");
    expect(shown).toContain(`UZ| 9.5 of 5 per min: on goal; ${cut}`);
    expect(shown).not.toContain("UA|");
  });

  it("say why a country is under its goal, with its cap's change when that is not the reason", () => {
    const shown = text([
      goal({ on_goal: false, achieved_per_minute: 4, reason: "test numbers busy", reason_kind: "numbers_busy", cap_note: cut }),
      goal({ country: "UA", on_goal: false, achieved_per_minute: 7, reason: cut, reason_kind: "cap_changed", cap_note: cut }),
    ]);
    expect(shown).not.toContain("Every country");
    expect(shown).toContain(`UZ| 4.0 of 10 per min: test numbers busy; ${cut}`);
    expect(shown).toContain(`UA| 7.0 of 10 per min: ${cut}|`);
  });
});
