import { Fragment, useMemo } from "react";
import type { Pair, PairStanding } from "../../api/types";
import { PairStateNote, pairHeldStopped } from "../../components/PairStateNote";
import { SortHeaders, useSort, type SortValue } from "../../components/sorting";
import { StateBadge } from "../../components/StateBadge";
import { Identifier } from "../../components/Identifier";
import { useNow } from "../../hooks/useTicker";
import { formatDuration } from "../programs/format";

export interface PairActions {
  onEdit: (pair: Pair) => void;
  onDelete: (pair: Pair) => void;
  onTogglePriority: (pair: Pair) => void;
  /** Enables a paused or disabled pair again. */
  onResume: (pair: Pair) => void;
  /** Pauses a running pair, asked first with a reason. */
  onPause: (pair: Pair) => void;
  /** Admins only: marking and unmarking high priority, and a high-priority pair's Delete, are off for others. */
  mayChangeHighPriority: boolean;
}

interface PairsTableProps {
  pairs: readonly Pair[];
  /** Each pair's standing with the policy, by key; a pair not in it shows none. */
  standing: ReadonlyMap<string, PairStanding>;
  /** Absent for read-only users: no action column at all. */
  actions?: PairActions | undefined;
  emptyText: string;
  busyKey: string | null;
}

type PairColumn = "key" | "country" | "operator" | "region" | "state" | "success" | "phones" | "programs";

// Each column's width is set in styles.css (`.pairs-table__col--<column>`): fixed widths keep
// the columns of the priority and other sections aligned, and Operator and Programs share
// what is left. Under 1,500 px the Region column folds away and each region shows under its
// operator (`pairs-table__operator-region`), so that at 1,280 px every column still fits
// with its words whole.
const COLUMNS: ReadonlyArray<{ column: PairColumn; label: string; className?: string; hint?: string }> = [
  { column: "key", label: "Key" },
  { column: "country", label: "Country" },
  { column: "operator", label: "Operator" },
  { column: "region", label: "Region", className: "pairs-table__region" },
  { column: "state", label: "State" },
  {
    column: "success",
    label: "Policy success",
    // Not the dashboard's rate, which counts every attempt of its period: the two differ.
    hint: "Delivered of the newest completed attempts the policy reads (at most 20 or 50, since the pair's last change): what it pauses and resumes on. The dashboard's success rate counts every attempt of the period it shows.",
  },
  { column: "phones", label: "Test numbers" },
  { column: "programs", label: "Programs" },
];
const READ: Record<Exclude<PairColumn, "success">, (pair: Pair) => SortValue> = {
  key: (pair) => pair.key,
  country: (pair) => pair.country_name,
  operator: (pair) => pair.operator,
  region: (pair) => pair.region,
  state: (pair) => pair.state,
  phones: (pair) => pair.phone_numbers.length,
  programs: (pair) => pair.programs.length,
};
const NUMERIC: ReadonlySet<PairColumn> = new Set(["success", "phones", "programs"]);
const columnClass = (column: PairColumn | "actions"): string => `pairs-table__col--${column}`;

function ColumnWidths({ withActions }: { withActions: boolean }) {
  return (
    <colgroup>
      {COLUMNS.map(({ column }) => (
        <col key={column} className={columnClass(column)} />
      ))}
      {withActions && <col className={columnClass("actions")} />}
    </colgroup>
  );
}

export function PairsTable({ pairs, standing, actions, emptyText, busyKey }: PairsTableProps) {
  const read = useMemo(
    () => ({ ...READ, success: (pair: Pair) => standing.get(pair.key)?.success_ratio ?? null }),
    [standing],
  );
  const sorting = useSort(pairs, read, NUMERIC);
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
            <PairRow
              key={pair.key}
              pair={pair}
              standing={standing.get(pair.key)}
              actions={actions}
              busy={busyKey === pair.key}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface RowProps {
  pair: Pair;
  standing: PairStanding | undefined;
  actions?: PairActions | undefined;
  busy: boolean;
}

function PairRow({ pair, standing, actions, busy }: RowProps) {
  // What the policy's next look does, said under the row when it acts (a pause coming, a
  // cool-down's end), while it probes (the probes so far), while the route delivers under
  // its pause line (not yet confidently under), and while it holds a high-priority pair,
  // whatever its figures now: until the policy finds it recovered.
  const next =
    standing && (standing.action !== null || pair.state === "probing" || isUnder(standing) || standing.held)
      ? standing
      : undefined;
  return (
    <Fragment>
      <PairCells pair={pair} standing={standing} actions={actions} busy={busy} />
      {(pair.state !== "enabled" || next) && (
        // Why its sessions are not running, across the whole row, under it.
        <tr className="pair-note-row" data-testid={`pair-note-row-${pair.key}`}>
          <td colSpan={COLUMNS.length + (actions ? 1 : 0)}>
            <PairStateNote pair={pair} onResume={actions?.onResume} busy={busy} />
            {next && (
              <div className="pair-note pair-note--policy">
                <span data-testid={`policy-note-${pair.key}`}>{policyNote(next)}</span>
                {next.action !== null && (
                  // Not carried out yet: when it will be.
                  <strong data-testid={`policy-next-look-${pair.key}`}>
                    <PolicyNextLook at={next.next_look_at} />
                  </strong>
                )}
              </div>
            )}
          </td>
        </tr>
      )}
    </Fragment>
  );
}

/** What the policy's next look does in a sentence: `Policy pauses it at its next look
 * (12:03:10 UTC): …` (an action's reason says when), or `Policy: …`. */
export function policyNote(standing: PairStanding): string {
  const verb: Record<NonNullable<PairStanding["action"]>, string> = {
    paused: "pauses it",
    probing: "starts probing it",
    resumed: "resumes it",
    held: "holds it (high priority, it keeps running)",
    recovered: "marks it recovered",
  };
  return standing.action === null
    ? `Policy: ${standing.reason}`
    : `Policy ${verb[standing.action]} ${standing.reason}`;
}

/** When the policy looks next, from `now` (ms): `next look in 12s`, `next look due now`, or
 * that no policy loop looks from this server (stopped, or another replica leads). */
export function nextLookText(nextLookAt: string | null, now: number): string {
  if (nextLookAt === null) return "no look scheduled";
  const at = Date.parse(nextLookAt);
  if (Number.isNaN(at)) return `next look at ${nextLookAt}`;
  const wait = Math.ceil((at - now) / 1000);
  return wait > 0 ? `next look in ${formatDuration(wait)}` : "next look due now";
}

/** The policy's next look, counted down every second. */
export function PolicyNextLook({ at }: { at: string | null }) {
  const now = useNow();
  return <>{nextLookText(at, now)}</>;
}

const isUnder = (standing: PairStanding): boolean =>
  standing.success_ratio !== null && standing.success_ratio < standing.pause_threshold;

function SuccessCell({ standing }: { standing: PairStanding | undefined }) {
  if (!standing || standing.success_ratio === null) {
    return (
      <td className="numeric muted" title={standing ? policyNote(standing) : undefined}>
        —
      </td>
    );
  }
  // Which figures these are (the window's, or those a pause by the policy was taken on),
  // then what the policy makes of them.
  return (
    <td
      className={isUnder(standing) ? "numeric pairs-table__success--under" : "numeric"}
      title={`Figures: ${standing.window}\n${policyNote(standing)}`}
      data-testid="success"
    >
      {Math.round(standing.success_ratio * 100)} %{" "}
      <span className="muted">
        {standing.delivered}/{standing.samples}
      </span>
    </td>
  );
}

function PairCells({ pair, standing, actions, busy }: RowProps) {
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
      <td>
        {pair.operator}
        {pair.region !== null && (
          // Shown only while the Region column is folded away (narrower screens).
          <span className="pairs-table__operator-region muted">{pair.region}</span>
        )}
      </td>
      <td className="pairs-table__region" title={pair.region ?? undefined}>
        {pair.region ?? <span className="muted">—</span>}
      </td>
      <td>
        <StateBadge state={pair.state} />
        {actions && !pairHeldStopped(pair) && (
          // As one click as Resume is: a pause is an everyday action.
          <button
            type="button"
            className="button button--tiny pairs-table__pause"
            onClick={() => actions.onPause(pair)}
            disabled={busy || (pair.is_high_priority && !actions.mayChangeHighPriority)}
            data-testid={`pause-${pair.key}`}
            title={
              pair.is_high_priority && !actions.mayChangeHighPriority
                ? "Only an admin can pause a high-priority pair"
                : `Pause ${pair.key}: its sessions stop until it is resumed`
            }
          >
            Pause
          </button>
        )}
      </td>
      <SuccessCell standing={standing} />
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
