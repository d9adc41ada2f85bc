import type { CountryGoal } from "../../api/types";
import { formatRate } from "./format";

/** The countries under their goal, each with what holds it back, in words. */
export function GoalReasons({ goals }: { goals: readonly CountryGoal[] }) {
  const under = goals.filter((goal) => !goal.on_goal);
  const minutes = (goals[0]?.window_seconds ?? 120) / 60;
  if (under.length === 0) {
    return (
      <p className="goal-reasons goal-reasons--met" data-testid="goals-met">
        Every country is granted at least 95 % of its goal (last {minutes} min).
      </p>
    );
  }
  return (
    <ul className="goal-reasons" data-testid="goal-reasons">
      {under.map((goal) => (
        <li key={goal.country} data-testid={`goal-reason-${goal.country}`}>
          <strong>{goal.country}</strong> {formatRate(goal.achieved_per_minute)} of {goal.goal_per_minute} per min:{" "}
          {goal.reason}
        </li>
      ))}
    </ul>
  );
}
