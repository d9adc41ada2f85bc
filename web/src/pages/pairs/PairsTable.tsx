import type { Pair } from "../../api/types";
import { StateBadge } from "../../components/StateBadge";

export interface PairActions {
  onEdit: (pair: Pair) => void;
  onDelete: (pair: Pair) => void;
  onTogglePriority: (pair: Pair) => void;
}

interface PairsTableProps {
  pairs: readonly Pair[];
  /** Absent for read-only users: no action column at all. */
  actions?: PairActions | undefined;
  emptyText: string;
  busyKey: string | null;
}

const COLUMNS = ["Key", "Country", "Operator", "Region", "State", "Test numbers", "Programs"];
// Fixed widths keep the columns of the priority and other sections aligned.
const WIDTHS = ["170px", "190px", undefined, undefined, "100px", "130px", undefined];
const ACTIONS_WIDTH = "250px";

function ColumnWidths({ withActions }: { withActions: boolean }) {
  return (
    <colgroup>
      {WIDTHS.map((width, index) => (
        <col key={COLUMNS[index]} style={width ? { width } : undefined} />
      ))}
      {withActions && <col style={{ width: ACTIONS_WIDTH }} />}
    </colgroup>
  );
}

export function PairsTable({ pairs, actions, emptyText, busyKey }: PairsTableProps) {
  if (pairs.length === 0) return <p className="empty-state">{emptyText}</p>;
  return (
    <div className="table-wrap">
      <table className="table">
        <ColumnWidths withActions={actions !== undefined} />
        <thead>
          <tr>
            {COLUMNS.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
            {actions && (
              <th scope="col" className="table__actions">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {pairs.map((pair) => (
            <PairRow key={pair.key} pair={pair} actions={actions} busy={busyKey === pair.key} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PairRow({ pair, actions, busy }: { pair: Pair; actions?: PairActions | undefined; busy: boolean }) {
  return (
    <tr data-testid={`pair-row-${pair.key}`} data-priority={pair.is_high_priority ? "high" : "normal"}>
      <td className="mono">
        {pair.is_high_priority && (
          <span className="priority-star" title="High priority" aria-label="High priority">
            ★
          </span>
        )}
        {pair.key}
      </td>
      <td>
        {pair.country_name} <span className="muted">({pair.country})</span>
      </td>
      <td>{pair.operator}</td>
      <td>{pair.region ?? <span className="muted">—</span>}</td>
      <td>
        <StateBadge state={pair.state} />
      </td>
      <td className="numeric" data-testid="phone-count">
        {pair.phone_numbers.length}
      </td>
      <td>
        {pair.programs.length === 0 ? (
          <span className="muted">none</span>
        ) : (
          <span className="chips">
            {pair.programs.map((program) => (
              <span key={program} className="chip">
                {program}
              </span>
            ))}
          </span>
        )}
      </td>
      {actions && <RowActions pair={pair} actions={actions} busy={busy} />}
    </tr>
  );
}

function RowActions({ pair, actions, busy }: { pair: Pair; actions: PairActions; busy: boolean }) {
  return (
    <td className="table__actions">
      <button
        type="button"
        className="button button--small"
        onClick={() => actions.onTogglePriority(pair)}
        disabled={busy}
        data-testid={`toggle-priority-${pair.key}`}
        title={pair.is_high_priority ? "Remove high priority" : "Mark as high priority"}
      >
        {pair.is_high_priority ? "☆ Unmark" : "★ Priority"}
      </button>
      <button
        type="button"
        className="button button--small"
        onClick={() => actions.onEdit(pair)}
        disabled={busy}
        data-testid={`edit-${pair.key}`}
      >
        Edit
      </button>
      <button
        type="button"
        className="button button--small button--danger-outline"
        onClick={() => actions.onDelete(pair)}
        disabled={busy}
        data-testid={`delete-${pair.key}`}
      >
        Delete
      </button>
    </td>
  );
}

export function PairsTableSkeleton() {
  return (
    <div className="table-wrap" data-testid="pairs-loading" aria-busy="true">
      <table className="table">
        <ColumnWidths withActions={false} />
        <tbody>
          {Array.from({ length: 5 }, (_, row) => (
            <tr key={row}>
              {COLUMNS.map((column) => (
                <td key={column}>
                  <span className="skeleton" />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
