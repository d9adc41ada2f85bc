import type { PolicyDecision } from "../../api/types";
import { SortHeaders, useSort, type SortColumn, type SortValue } from "../../components/sorting";
import { formatPercent } from "../dashboard/format";
import { formatDateTime } from "../../format/time";
import { Identifier } from "../../components/Identifier";

/** The value of the bound a decision was taken on; null when no figure decided it. */
function decidingBound(decision: PolicyDecision): number | null {
  if (decision.decided_on === null) return null;
  return decision.decided_on === "upper_bound" ? decision.upper_bound : decision.lower_bound;
}

type DecisionColumn = "when" | "pair" | "action" | "bound" | "success";
const DECISION_COLUMNS: ReadonlyArray<SortColumn<DecisionColumn>> = [
  { column: "when", label: "When" },
  { column: "pair", label: "Pair" },
  { column: "action", label: "Action" },
  { column: "bound", label: "Decided on" },
  { column: "success", label: "Success" },
];
const DECISION_READ: Record<DecisionColumn, (decision: PolicyDecision) => SortValue> = {
  when: (decision) => Date.parse(decision.at),
  pair: (decision) => decision.pair,
  action: (decision) => decision.action,
  bound: decidingBound,
  success: (decision) => decision.success_ratio,
};
const DECISION_NUMERIC: ReadonlySet<DecisionColumn> = new Set(["when", "bound", "success"]);

function BoundCell({ decision }: { decision: PolicyDecision }) {
  const value = decidingBound(decision);
  if (value === null) return <span className="muted">—</span>;
  // A pause needs the whole interval under its line, a resume the whole interval over its line.
  const onUpper = decision.decided_on === "upper_bound";
  const name = onUpper ? "upper bound" : "lower bound";
  const meaning = onUpper
    ? `under the ${formatPercent(decision.pause_threshold)} pause line`
    : `over the ${formatPercent(decision.resume_threshold)} resume line`;
  return (
    <span title={`The ${name} of the success rate was ${meaning}`}>
      {name} {formatPercent(value)}
    </span>
  );
}

/** The figures a decision was taken on and which they are; a `probing` decision, taken
 * because its pause's cool-down is over, has none. */
function SuccessCell({ decision }: { decision: PolicyDecision }) {
  if (decision.samples === null || decision.delivered === null) {
    return (
      <span className="muted" title="Taken on no figures: its cool-down was over">
        —
      </span>
    );
  }
  return (
    <span title={decision.window ?? undefined}>
      {formatPercent(decision.success_ratio)} ({decision.delivered}/{decision.samples})
    </span>
  );
}

function Thresholds({ decision }: { decision: PolicyDecision }) {
  return (
    <>
      pause {formatPercent(decision.pause_threshold)} · resume {formatPercent(decision.resume_threshold)}
    </>
  );
}

export function DecisionsTable({ decisions }: { decisions: readonly PolicyDecision[] }) {
  const sorting = useSort(decisions, DECISION_READ, DECISION_NUMERIC);
  if (decisions.length === 0) {
    return <p className="empty-state">The policy has not paused, probed or resumed any pair yet.</p>;
  }
  return (
    <div className="table-wrap">
      <table className="table decisions-table" data-testid="decisions-table">
        <colgroup>
          {[...DECISION_COLUMNS.map(({ column }) => column), "thresholds", "why"].map((column) => (
            <col key={column} className={`decisions-table__${column}`} />
          ))}
        </colgroup>
        <thead>
          <tr>
            <SortHeaders columns={DECISION_COLUMNS} sort={sorting.sort} onSort={sorting.toggle} />
            <th scope="col" className="decisions-table__thresholds-head">
              <span>Thresholds</span>
            </th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {sorting.rows.map((decision) => (
            <tr key={decision.id} data-testid="decision-row" data-decision-id={decision.id}>
              <td title={decision.at}>{formatDateTime(decision.at)}</td>
              <td>
                <Identifier as="code" value={decision.pair} />
              </td>
              <td>
                <span className={`badge badge--decision-${decision.action}`}>{decision.action}</span>
              </td>
              <td data-testid="decision-bound">
                <BoundCell decision={decision} />
              </td>
              <td data-testid="decision-success">
                <SuccessCell decision={decision} />
                {/* Shown under 1,500 px, where the Thresholds column folds in here (styles.css). */}
                <span className="decisions-table__thresholds-inline muted">
                  lines: <Thresholds decision={decision} />
                </span>
              </td>
              <td className="decisions-table__thresholds-cell">
                <span>
                  <Thresholds decision={decision} />
                </span>
              </td>
              <td className="alert-summary">{decision.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
