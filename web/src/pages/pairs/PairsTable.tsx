import { Fragment } from "react";
import type { Pair } from "../../api/types";
import { PairStateNote } from "../../components/PairStateNote";
import { SortHeaders, useSort, type SortValue } from "../../components/sorting";
import { StateBadge } from "../../components/StateBadge";
import { Identifier } from "../../components/Identifier";

export interface PairActions {
  onEdit: (pair: Pair) => void;
  onDelete: (pair: Pair) => void;
  onTogglePriority: (pair: Pair) => void;
  /** Enables a paused or disabled pair again. */
  onResume: (pair: Pair) => void;
  /** Admins only: marking and unmarking high priority, and a high-priority pair's Delete, are off for others. */
  mayChangeHighPriority: boolean;
}

interface PairsTableProps {
  pairs: readonly Pair[];
  /** Absent for read-only users: no action column at all. */
  actions?: PairActions | undefined;
  emptyText: string;
  busyKey: string | null;
}

type PairColumn = "key" | "country" | "operator" | "region" | "state" | "phones" | "programs";

// Fixed widths keep the columns of the priority and other sections aligned. Region is
// wide enough for the longest one-word regions ("Chhattisgarh", "Maharashtra"): it wraps
// between words only. Operator and Programs share what is left (`.pairs-table--actions`).
const COLUMNS: ReadonlyArray<{ column: PairColumn; label: string; width?: string }> = [
  { column: "key", label: "Key", width: "150px" },
  { column: "country", label: "Country", width: "170px" },
  { column: "operator", label: "Operator" },
  { column: "region", label: "Region", width: "130px" },
  { column: "state", label: "State", width: "100px" },
  { column: "phones", label: "Test numbers", width: "110px" },
  { column: "programs", label: "Programs" },
];
const READ: Record<PairColumn, (pair: Pair) => SortValue> = {
  key: (pair) => pair.key,
  country: (pair) => pair.country_name,
  operator: (pair) => pair.operator,
  region: (pair) => pair.region,
  state: (pair) => pair.state,
  phones: (pair) => pair.phone_numbers.length,
  programs: (pair) => pair.programs.length,
};
const NUMERIC: ReadonlySet<PairColumn> = new Set(["phones", "programs"]);
const ACTIONS_WIDTH = "230px";

function ColumnWidths({ withActions }: { withActions: boolean }) {
  return (
    <colgroup>
      {COLUMNS.map(({ column, width }) => (
        <col key={column} style={width ? { width } : undefined} />
      ))}
      {withActions && <col style={{ width: ACTIONS_WIDTH }} />}
    </colgroup>
  );
}

export function PairsTable({ pairs, actions, emptyText, busyKey }: PairsTableProps) {
  const sorting = useSort(pairs, READ, NUMERIC);
  if (pairs.length === 0) return <p className="empty-state">{emptyText}</p>;
  return (
    <div className="table-wrap">
      <table className={actions ? "table pairs-table pairs-table--actions" : "table pairs-table"}>
        <ColumnWidths withActions={actions !== undefined} />
        <thead>
          <tr>
            <SortHeaders columns={COLUMNS} sort={sorting.sort} onSort={sorting.toggle} />
            {actions && (
              <th scope="col" className="table__actions">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {sorting.rows.map((pair) => (
            <PairRow key={pair.key} pair={pair} actions={actions} busy={busyKey === pair.key} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PairRow({ pair, actions, busy }: { pair: Pair; actions?: PairActions | undefined; busy: boolean }) {
  return (
    <Fragment>
      <PairCells pair={pair} actions={actions} busy={busy} />
      {pair.state !== "enabled" && (
        // Why its sessions are not running, across the whole row, under it.
        <tr className="pair-note-row" data-testid={`pair-note-row-${pair.key}`}>
          <td colSpan={COLUMNS.length + (actions ? 1 : 0)}>
            <PairStateNote pair={pair} onResume={actions?.onResume} busy={busy} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

function PairCells({ pair, actions, busy }: { pair: Pair; actions?: PairActions | undefined; busy: boolean }) {
  return (
    <tr data-testid={`pair-row-${pair.key}`} data-priority={pair.is_high_priority ? "high" : "normal"}>
      <td className="mono">
        {pair.is_high_priority && (
          <span className="priority-star" title="High priority" aria-label="High priority">
            ★
          </span>
        )}
        <Identifier value={pair.key} />
      </td>
      <td>
        {pair.country_name} <span className="muted">({pair.country})</span>
      </td>
      <td>{pair.operator}</td>
      <td className="pairs-table__region" title={pair.region ?? undefined}>
        {pair.region ?? <span className="muted">—</span>}
      </td>
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
  const adminOnly = pair.is_high_priority && !actions.mayChangeHighPriority;
  return (
    <td className="table__actions">
      <button
        type="button"
        className="button button--small"
        onClick={() => actions.onTogglePriority(pair)}
        disabled={busy || !actions.mayChangeHighPriority}
        data-testid={`toggle-priority-${pair.key}`}
        title={
          !actions.mayChangeHighPriority
            ? pair.is_high_priority
              ? "Only an admin can remove high priority"
              : "Only an admin can mark a pair high priority"
            : pair.is_high_priority
              ? "Remove high priority"
              : "Mark as high priority"
        }
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
        disabled={busy || adminOnly}
        data-testid={`delete-${pair.key}`}
        title={adminOnly ? "Only an admin can delete a high-priority pair" : undefined}
      >
        Delete
      </button>
      {adminOnly && (
        // Said on the row too: a disabled button's title never shows on a touch screen.
        <div className="muted pairs-table__hint" data-testid={`admin-pair-hint-${pair.key}`}>
          Only an admin can unmark or delete.
        </div>
      )}
    </td>
  );
}

export function PairsTableSkeleton() {
  return (
    <div className="table-wrap" data-testid="pairs-loading" aria-busy="true">
      <table className="table pairs-table">
        <ColumnWidths withActions={false} />
        <tbody>
          {Array.from({ length: 5 }, (_, row) => (
            <tr key={row}>
              {COLUMNS.map(({ column }) => (
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
