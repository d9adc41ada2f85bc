import type { PairState } from "../api/types";

export function StateBadge({ state }: { state: PairState }) {
  return (
    <span className={`badge badge--${state}`} data-testid="state-badge">
      {state}
    </span>
  );
}
