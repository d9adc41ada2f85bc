import type { PolicyDecision } from "../../api/types";
import { formatPercent } from "../dashboard/format";
import { formatTime } from "../programs/format";

export function DecisionsTable({ decisions }: { decisions: readonly PolicyDecision[] }) {
  if (decisions.length === 0) {
    return <p className="empty-state">The policy has not paused, probed or resumed any pair yet.</p>;
  }
  return (
    <div className="table-wrap">
      <table className="table" data-testid="decisions-table">
        <thead>
          <tr>
            <th>When</th>
            <th>Pair</th>
            <th>Action</th>
            <th>Lower bound</th>
            <th>Success</th>
            <th>Thresholds</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {decisions.map((decision) => (
            <tr key={decision.id} data-testid="decision-row">
              <td title={decision.at}>{formatTime(decision.at)}</td>
              <td>
                <code>{decision.pair}</code>
              </td>
              <td>
                <span className={`badge badge--decision-${decision.action}`}>{decision.action}</span>
              </td>
              <td>{formatPercent(decision.lower_bound)}</td>
              <td>
                {formatPercent(decision.success_ratio)} ({decision.delivered}/{decision.samples})
              </td>
              <td>
                pause &lt; {formatPercent(decision.pause_threshold)} · resume ≥ {formatPercent(decision.resume_threshold)}
              </td>
              <td className="alert-summary">{decision.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
