import type { CountryGoal } from "../../api/types";
import { formatRate } from "./format";

/** What the count says of a country: why it is under its goal, or, on goal, that its cap
 * changed within the window (a count over a cap just cut is the minute before the cut). */
function said(goal: CountryGoal): string {
  if (goal.on_goal) return `on goal; ${goal.cap_note ?? ""}`;
  const note = goal.cap_note && goal.reason_kind !== "cap_changed" ? `; ${goal.cap_note}` : "";
  return `${goal.reason ?? ""}${note}`;
}

/** The countries under their goal, each with what holds it back, in words; and those on
 * goal whose cap changed within the window, with the change. */
export function GoalReasons({ goals }: { goals: readonly CountryGoal[] }) {
  const listed = goals.filter((goal) => !goal.on_goal || goal.cap_note);
  const minutes = (goals[0]?.window_seconds ?? 120) / 60;
  return (
    <>
      {listed.every((goal) => goal.on_goal) && (
        <p className="goal-reasons goal-reasons--met" data-testid="goals-met">
          Every country is granted at least 95 % of its goal (last {minutes} min).
        </p>
      )}
      {listed.length > 0 && (
        <ul className="goal-reasons" data-testid="goal-reasons">
          {listed.map((goal) => (
            <li key={goal.country} data-testid={`goal-reason-${goal.country}`}>
              <strong>{goal.country}</strong> {formatRate(goal.achieved_per_minute)} of {goal.goal_per_minute} per
              min: {said(goal)}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
