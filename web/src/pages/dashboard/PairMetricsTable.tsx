import type { MetricsGroup, Pair } from "../../api/types";
import { SortHeader, useSort, type SortValue } from "../../components/sorting";
import { StateBadge } from "../../components/StateBadge";
import { formatCount, formatPercent, formatSeconds, successTone } from "./format";
import { Identifier } from "../../components/Identifier";

export interface PairRowData {
  key: string;
  pair: Pair | undefined;
  metrics: MetricsGroup | undefined;
}

/** Every known pair, plus pairs that only the metrics still know (deleted since). */
export function pairRows(pairs: readonly Pair[] | undefined, groups: readonly MetricsGroup[] | undefined): PairRowData[] {
  const byKey = new Map<string, PairRowData>();
  for (const pair of pairs ?? []) byKey.set(pair.key, { key: pair.key, pair, metrics: undefined });
  for (const group of groups ?? []) {
    const key = group.pair ?? group.key;
    byKey.set(key, { key, pair: byKey.get(key)?.pair, metrics: group });
  }
  return [...byKey.values()].sort(
    (a, b) => (b.metrics?.sent ?? 0) - (a.metrics?.sent ?? 0) || a.key.localeCompare(b.key),
  );
}

interface PairMetricsTableProps {
  rows: readonly PairRowData[];
  selected: string | null;
  onSelect: (key: string) => void;
}

type Column = "pair" | "completed" | "sent" | "delivered" | "success" | "failures" | "p95" | "state";

const failuresOf = (row: PairRowData) => (row.metrics ? row.metrics.completed - row.metrics.delivered : 0);

const COLUMNS: Record<Column, (row: PairRowData) => SortValue> = {
  pair: (row) => row.key,
  completed: (row) => row.metrics?.completed ?? 0,
  sent: (row) => row.metrics?.sent ?? 0,
  delivered: (row) => row.metrics?.delivered ?? 0,
  success: (row) => row.metrics?.success_rate,
  failures: failuresOf,
  p95: (row) => row.metrics?.latency_p95_ms,
  state: (row) => row.pair?.state ?? "deleted",
};
const NUMERIC: ReadonlySet<Column> = new Set(["completed", "sent", "delivered", "success", "failures", "p95"]);
/** Why Sent may exceed Completed, said wherever the two stand side by side. */
export const COMPLETED_HINT =
  "Completed attempts, delivered or failed, sent or not: what Success is over. An attempt broken off by a pause or a stop, or given up unsent too late after its grant, is not one.";
export const SENT_HINT =
  "Every SMS that reached the gateway, its attempt completed or broken off by a pause or a stop after it was " +
  "sent: it may exceed Completed.";

const HEADERS: readonly { column: Column; label: string; hint?: string }[] = [
  { column: "completed", label: "Completed", hint: COMPLETED_HINT },
  { column: "sent", label: "Sent", hint: SENT_HINT },
  { column: "delivered", label: "Delivered" },
  { column: "success", label: "Success" },
  { column: "failures", label: "Failures" },
  { column: "p95", label: "p95 latency" },
];

export function PairMetricsTable({ rows, selected, onSelect }: PairMetricsTableProps) {
  const sorting = useSort(rows, COLUMNS, NUMERIC);
  if (rows.length === 0) {
    return (
      <p className="empty-state" data-testid="pairs-metrics-empty">
        No country-operator pairs yet.
      </p>
    );
  }
  return (
    <div className="table-wrap">
      <table className="table metrics-table" data-testid="pairs-metrics">
        <caption className="visually-hidden">
          Success is delivered of completed attempts, sent or not. Sent counts every SMS that reached the
          gateway, its attempt broken off by a pause or a stop or not, so it may exceed completed.
        </caption>
        <thead>
          <tr>
            <SortHeader label="Pair" column="pair" sort={sorting.sort} onSort={sorting.toggle} />
            {HEADERS.map(({ column, label, hint }) => (
              <SortHeader
                key={column}
                label={label}
                hint={hint}
                column={column}
                sort={sorting.sort}
                onSort={sorting.toggle}
                className="numeric"
              />
            ))}
            <SortHeader label="State" column="state" sort={sorting.sort} onSort={sorting.toggle} />
          </tr>
        </thead>
        <tbody>
          {sorting.rows.map((row) => (
            <PairMetricsRow key={row.key} row={row} selected={row.key === selected} onSelect={onSelect} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PairMetricsRow({ row, selected, onSelect }: { row: PairRowData; selected: boolean; onSelect: (key: string) => void }) {
  const { key, pair, metrics } = row;
  const failures = failuresOf(row);
  return (
    <tr
      className={selected ? "metrics-table__row metrics-table__row--selected" : "metrics-table__row"}
      onClick={() => onSelect(key)}
      data-testid={`pair-row-${key}`}
      aria-selected={selected}
    >
      <th scope="row">
        <button type="button" className="link-button" onClick={() => onSelect(key)} data-testid={`pair-open-${key}`}>
          <Identifier className="mono" value={key} />
        </button>
        {pair && (
          <span className="metrics-table__operator muted">
            {pair.is_high_priority && (
              <span className="priority-star" title="High priority">
                ★
              </span>
            )}
            {pair.operator}
          </span>
        )}
      </th>
      <td className="numeric" data-testid={`pair-completed-${key}`}>
        {formatCount(metrics?.completed ?? 0)}
      </td>
      <td className="numeric" data-testid={`pair-sent-${key}`}>
        {formatCount(metrics?.sent ?? 0)}
      </td>
      <td className="numeric" data-testid={`pair-delivered-${key}`}>
        {formatCount(metrics?.delivered ?? 0)}
      </td>
      <td
        className={`numeric tone--${successTone(metrics?.success_rate)}`}
        data-testid={`pair-success-${key}`}
        title={metrics ? `${formatCount(metrics.delivered)} delivered of ${formatCount(metrics.completed)} completed` : undefined}
      >
        {formatPercent(metrics?.success_rate)}
      </td>
      <td className="numeric" data-testid={`pair-failures-${key}`}>
        {formatCount(failures)}
      </td>
      <td className="numeric" data-testid={`pair-p95-${key}`}>
        {formatSeconds(metrics?.latency_p95_ms)}
      </td>
      <td data-testid={`pair-state-${key}`}>{pair ? <StateBadge state={pair.state} /> : <span className="muted">deleted</span>}</td>
    </tr>
  );
}
