import type { MetricsGroup, Pair } from "../../api/types";
import { StateBadge } from "../../components/StateBadge";
import { formatCount, formatMs, formatPercent, successTone } from "./format";

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

export function PairMetricsTable({ rows, selected, onSelect }: PairMetricsTableProps) {
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
        <thead>
          <tr>
            <th scope="col">Pair</th>
            <th scope="col" className="numeric">
              Sent
            </th>
            <th scope="col" className="numeric">
              Delivered
            </th>
            <th scope="col" className="numeric">
              Success
            </th>
            <th scope="col" className="numeric">
              Failures
            </th>
            <th scope="col" className="numeric">
              p95 latency
            </th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <PairMetricsRow key={row.key} row={row} selected={row.key === selected} onSelect={onSelect} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PairMetricsRow({ row, selected, onSelect }: { row: PairRowData; selected: boolean; onSelect: (key: string) => void }) {
  const { key, pair, metrics } = row;
  const failures = metrics ? metrics.completed - metrics.delivered : 0;
  return (
    <tr
      className={selected ? "metrics-table__row metrics-table__row--selected" : "metrics-table__row"}
      onClick={() => onSelect(key)}
      data-testid={`pair-row-${key}`}
      aria-selected={selected}
    >
      <th scope="row">
        <button type="button" className="link-button" onClick={() => onSelect(key)} data-testid={`pair-open-${key}`}>
          <span className="mono">{key}</span>
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
      <td className="numeric" data-testid={`pair-sent-${key}`}>
        {formatCount(metrics?.sent ?? 0)}
      </td>
      <td className="numeric" data-testid={`pair-delivered-${key}`}>
        {formatCount(metrics?.delivered ?? 0)}
      </td>
      <td className={`numeric tone--${successTone(metrics?.success_rate)}`} data-testid={`pair-success-${key}`}>
        {formatPercent(metrics?.success_rate)}
      </td>
      <td className="numeric" data-testid={`pair-failures-${key}`}>
        {formatCount(failures)}
      </td>
      <td className="numeric" data-testid={`pair-p95-${key}`}>
        {formatMs(metrics?.latency_p95_ms)}
      </td>
      <td data-testid={`pair-state-${key}`}>{pair ? <StateBadge state={pair.state} /> : <span className="muted">deleted</span>}</td>
    </tr>
  );
}
