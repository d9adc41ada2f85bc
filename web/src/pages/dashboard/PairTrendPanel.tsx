import { useEffect, useRef } from "react";
import type { CapChange, MetricsGroup, Pair } from "../../api/types";
import { ErrorBanner } from "../../components/ErrorBanner";
import { Spinner } from "../../components/Spinner";
import { StateBadge } from "../../components/StateBadge";
import { PairTrendChart, runningStep } from "./charts";
import { formatCount, formatPercent, formatSeconds } from "./format";
import { SENT_LABEL, SENT_NOTE } from "./sendCounts";
import type { RangeOption } from "./ranges";
import { useLiveQuery } from "../../data/live";
import { formatMinute } from "../../format/time";
import { metricsTimeseriesQuery } from "../../data/queries";

interface PairTrendPanelProps {
  pairKey: string;
  pair: Pair | undefined;
  metrics: MetricsGroup | undefined;
  /** The cap of the pair's country (per minute) at each step, when known. */
  capOf: ((t: number) => number | null) | null;
  /** The last change of that cap in the range, if any. */
  capChange: CapChange | undefined;
  range: RangeOption;
  onClose: () => void;
}

/** `, 10/min dashed`, or, when it changed in the range, `as it was at each step, dashed
 * (20 → 3/min at 05:37)`. */
export function capNote(capOf: (t: number) => number | null, change: CapChange | undefined): string {
  if (change === undefined) {
    const now = capOf(Date.now());
    return now === null ? "" : `, ${now}/min dashed`;
  }
  return `, as it was at each step, dashed (${change.previous_cap} → ${change.cap}/min at ${formatMinute(Date.parse(change.at), false)})`;
}

export function PairTrendPanel({ pairKey, pair, metrics, capOf, capChange, range, onClose }: PairTrendPanelProps) {
  const trend = useLiveQuery(
    metricsTimeseriesQuery({ window: range.value, step: range.step, group_by: "pair", key: pairKey }),
    { topic: "attempts", delayMs: 5_000, quietMs: 60_000 },
  );
  const series = trend.data?.series.find((line) => line.key === pairKey) ?? trend.data?.series[0];
  // Opened below the pairs' table, out of view: brought into it (once per pair: keyed).
  const panel = useRef<HTMLElement>(null);
  useEffect(() => panel.current?.scrollIntoView({ block: "nearest" }), []);
  return (
    <section className="card pair-panel" data-testid="pair-trend-panel" aria-label={`Trend of ${pairKey}`} ref={panel}>
      <header className="card__header">
        <div>
          <h2 data-testid="pair-trend-title">
            <span className="mono">{pairKey}</span>
            {pair && <span className="muted pair-panel__operator"> {pair.operator}</span>}
          </h2>
          <p className="card__subtitle">
            {pair && <StateBadge state={pair.state} />}
            <span>
              Granted <strong data-testid="pair-trend-granted">{formatCount(metrics?.granted ?? 0)}</strong>
            </span>
            <span title={SENT_NOTE}>
              {SENT_LABEL} <strong data-testid="pair-trend-sent">{formatCount(metrics?.sent ?? 0)}</strong>
            </span>
            <span>
              success <strong data-testid="pair-trend-success">{formatPercent(metrics?.success_rate)}</strong>
            </span>
            <span>
              p50 <strong data-testid="pair-trend-p50">{formatSeconds(metrics?.latency_p50_ms)}</strong>
            </span>
            <span>
              p95 <strong data-testid="pair-trend-p95">{formatSeconds(metrics?.latency_p95_ms)}</strong>
            </span>
            <span>· last {range.label}</span>
            {trend.isFetching && <Spinner label="Refreshing" />}
          </p>
        </div>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose} data-testid="pair-trend-close">
          ×
        </button>
      </header>
      {trend.error !== null && <ErrorBanner error={trend.error} onRetry={() => void trend.refetch()} testId="pair-trend-error" />}
      {trend.isPending ? (
        <div className="chart-placeholder" aria-busy="true">
          <Spinner label="Loading trend" />
        </div>
      ) : trend.data && series && series.points.some((point) => point.sent > 0 || point.granted > 0) ? (
        <>
          <PairTrendChart
            series={series}
            step={trend.data.step}
            capOf={capOf}
            withDay={range.withDay}
            running={runningStep(trend.data)}
          />
          <p className="chart-note" data-testid="pair-trend-note">
            Granted is set against the cap{capOf === null ? "" : ` of ${pair?.country ?? "its country"}${capNote(capOf, capChange)}`}. {SENT_NOTE}
          </p>
        </>
      ) : (
        <p className="empty-state" data-testid="pair-trend-empty">
          No attempts for {pairKey} in the last {range.label}.
        </p>
      )}
    </section>
  );
}
