import { useCallback, useMemo, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import { useQuery, type UseQueryResult } from "@tanstack/react-query";
import type { CapChange, CountryGoal } from "../../api/types";
import { ErrorBanner } from "../../components/ErrorBanner";
import { Spinner } from "../../components/Spinner";
import { useLiveQuery, useLiveUpdates, type LiveQuery } from "../../data/live";
import {
  alertsOverviewQuery,
  capChangesQuery,
  countryGoalsQuery,
  metricsHeatmapQuery,
  metricsSummaryQuery,
  metricsTimeseriesQuery,
} from "../../data/queries";
import { usePairs } from "../../data/pairs";
import { useSessions } from "../../data/sessions";
import {
  CapChart,
  type CapHistory,
  type CapReference,
  GrantTrendChart,
  SuccessTrendChart,
  capAt,
  capReference,
  capWords,
  capsChangedSince,
  countryColors,
  stepMs,
  runningStep,
} from "./charts";
import { GoalReasons } from "./GoalReasons";
import "./dashboard.css";
import { KpiCards, fleetGranted } from "./KpiCards";
import { applyToPairs, applyToTotals } from "./liveMetrics";
import { PairMetricsTable, pairRows } from "./PairMetricsTable";
import { PairTrendPanel } from "./PairTrendPanel";
import { RangePicker } from "./RangePicker";
import { RECENT, rangeFor, type RangeOption } from "./ranges";
import { GRANTED_LABEL } from "./sendCounts";
import { sessionCounts } from "./sessionCounts";
import { SuccessHeatmap } from "./SuccessHeatmap";

/** Completed attempts are published on this topic of the live connection. */
const ATTEMPTS = "attempts";
// While the live connection is up nothing is polled: each attempt is added to the
// counters on screen as it comes, and one reload a few seconds after a burst confirms
// them; the charts follow at a calmer pace. Windows that went quiet are reloaded
// after `quietMs` (the counters after their range's), so they move on with time.
const COUNTERS = { topic: ATTEMPTS, delayMs: 5_000, quietMs: 60_000 } satisfies LiveQuery<unknown>;
const CHARTS = { topic: ATTEMPTS, delayMs: 10_000, quietMs: 60_000 } satisfies LiveQuery<unknown>;
const SLOW = { topic: ATTEMPTS, delayMs: 30_000, quietMs: 300_000, pollMs: 30_000 } satisfies LiveQuery<unknown>;
// Alerts fire and resolve on their own topic.
const ALERTS = { topic: "alerts", delayMs: 500, quietMs: 60_000, pollMs: 15_000 } satisfies LiveQuery<unknown>;

// The range and the open pair live in the URL, so a view can be bookmarked and shared.
function useViewParams() {
  const [params, setParams] = useSearchParams();
  const range = rangeFor(params.get("range"));
  const selected = params.get("pair");
  const update = useCallback(
    (changes: { range?: string | null; pair?: string | null }) => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          for (const [key, value] of Object.entries(changes)) {
            if (value) next.set(key, value);
            else next.delete(key);
          }
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );
  return { range, selected, update };
}

// "Now" whatever range is shown (sent and granted per minute, `RECENT`): reloaded as often
// as each other, so the KPI and the cap chart move on together as the window slides.
const NOW = { topic: ATTEMPTS, delayMs: 5_000, quietMs: 15_000, pollMs: 10_000 } satisfies LiveQuery<unknown>;

/** The grants trend's title: the cap its dashed line stands for, and the countries whose cap is another. */
function grantsTitle(reference: CapReference | null): string {
  return reference === null ? `${GRANTED_LABEL} per country` : `${GRANTED_LABEL} per country · ${capWords(reference)}`;
}

const HOUR_MS = 3_600_000;

/** A country's cap at each step of a pair's trend. */
const pairCapOf = (caps: CapHistory, country: string, step: number) => (t: number) =>
  capAt(caps, country, t, t + step);

/** The countries' caps through the trend from `start` on: their changes read from the hour
 * before it (one read an hour as the range slides), and their caps now, as the goals say;
 * with the read, whose error the page shows (the charts then draw no cap line). */
function useCapHistory(start: string | undefined, goals: readonly CountryGoal[] | undefined) {
  const since = start === undefined ? null : new Date(Math.floor(Date.parse(start) / HOUR_MS) * HOUR_MS).toISOString();
  const capsNow = (goals ?? []).map((goal) => `${goal.country}:${goal.goal_per_minute}`).join(",");
  const changes = useQuery({ ...capChangesQuery(since ?? "", capsNow), enabled: since !== null && goals !== undefined });
  const history = useMemo(
    (): CapHistory | null =>
      changes.data && goals ? { changes: changes.data, now: new Map(goals.map((goal) => [goal.country, goal.goal_per_minute])) } : null,
    [changes.data, goals],
  );
  return { history, changes };
}

export function DashboardPage() {
  const { range, selected, update } = useViewParams();
  const recent = useLiveQuery(metricsSummaryQuery({ window: RECENT.window }), { ...NOW, apply: applyToTotals });
  const byPair = useLiveQuery(metricsSummaryQuery({ window: range.value, group_by: "pair" }), {
    ...COUNTERS,
    quietMs: range.quietMs,
    apply: applyToPairs,
  });
  const alerts = useLiveQuery(alertsOverviewQuery(), ALERTS);
  const goals = useLiveQuery(countryGoalsQuery(), NOW);
  // A session started or stopped changes a country's reason at once, not at the next reload.
  useLiveUpdates("sessions", countryGoalsQuery().queryKey, 1_000, true);
  const trend = useLiveQuery(
    metricsTimeseriesQuery({ window: range.value, step: range.step, group_by: "country" }),
    CHARTS,
  );
  const { history: caps, changes: capChanges } = useCapHistory(trend.data?.start, goals.data);
  const changed = useMemo(
    () => (caps && trend.data ? capsChangedSince(caps, Date.parse(trend.data.start)) : new Map<string, CapChange>()),
    [caps, trend.data],
  );
  const heatmap = useLiveQuery(metricsHeatmapQuery("24h"), SLOW);
  const pairs = usePairs();
  const sessions = useSessions();
  // Until the first answer for the range shown (the last range's stays on screen meanwhile).
  const byPairLoading = byPair.isPending || byPair.isPlaceholderData;

  const rows = useMemo(() => pairRows(pairs.data, byPair.data?.groups), [pairs.data, byPair.data]);
  const counts = useMemo(
    () => (sessions.data ? sessionCounts(pairs.data ?? [], sessions.data) : undefined),
    [pairs.data, sessions.data],
  );
  const totals = byPair.data?.totals;
  const noAttempts = totals !== undefined && totals.sent === 0 && totals.completed === 0;
  const selectedRow = selected ? rows.find((row) => row.key === selected) : undefined;
  const granted = useMemo(() => fleetGranted(goals.data), [goals.data]);
  const colorOf = useMemo(() => countryColors((pairs.data ?? []).map((pair) => pair.country)), [pairs.data]);
  const refreshing = recent.isFetching || byPair.isFetching || goals.isFetching;

  const errors = [
    { resource: recent, testId: "recent-error" },
    { resource: byPair, testId: "summary-error" },
    { resource: goals, testId: "countries-error" },
    { resource: pairs, testId: "pairs-error" },
    { resource: alerts, testId: "alerts-error" },
    { resource: capChanges, testId: "cap-changes-error" },
  ].filter(({ resource }) => resource.error !== null);

  const selectRange = (next: RangeOption) => update({ range: next.value === "1h" ? null : next.value });
  const selectPair = (key: string) => update({ pair: key === selected ? null : key });

  return (
    <section className="page dashboard" data-testid="dashboard-page" data-range={range.value}>
      <header className="page__header">
        <div>
          <h1>Dashboard</h1>
          <p className="page__subtitle">
            Test SMS of the whole fleet · last {range.label}
            {refreshing && <Spinner label="Refreshing" />}
          </p>
        </div>
        <RangePicker value={range} onChange={selectRange} />
      </header>

      {errors.map(({ resource, testId }) => (
        <ErrorBanner key={testId} error={resource.error} onRetry={() => void resource.refetch()} testId={testId} />
      ))}
      {sessions.error !== null && (
        <ErrorBanner error={sessions.error} onRetry={() => void sessions.refetch()} testId="sessions-error" />
      )}

      <KpiCards
        recent={recent.data?.totals}
        granted={granted}
        totals={byPairLoading ? undefined : totals}
        rangeLabel={`last ${range.label}`}
        activeSessions={counts?.running}
        totalSessions={sessions.data?.length}
        stoppingSessions={counts?.stopping}
        heldSessions={counts?.held}
        stoppedSessions={counts?.stoppedByPeople}
        downSessions={counts?.down}
        alerts={alerts.data?.counts}
      />

      {noAttempts && !byPairLoading && (
        <p className="empty-state" data-testid="dashboard-empty">
          No attempts yet in the last {range.label}: numbers and charts fill in as sessions send test SMS.
        </p>
      )}

      {!noAttempts && (
        <div className="dashboard__charts">
          <ChartCard title="Success rate per country" testId="chart-success-trend" resource={trend}>
            {trend.data && trend.data.series.length > 0 ? (
              <SuccessTrendChart
                series={trend.data.series}
                colorOf={colorOf}
                withDay={range.withDay} running={runningStep(trend.data)} />
            ) : (
              <p className="empty-state">No completed attempts in the last {range.label}.</p>
            )}
          </ChartCard>
          <ChartCard
            title={`Granted per minute, ${RECENT.label}, against each country's goal`}
            testId="chart-caps"
            resource={goals}
          >
            {goals.data && goals.data.length > 0 ? (
              <>
                <CapChart goals={goals.data} />
                <GoalReasons goals={goals.data} />
              </>
            ) : (
              <p className="empty-state">No pairs yet.</p>
            )}
          </ChartCard>
          <ChartCard
            title={grantsTitle(capReference(goals.data))}
            testId="chart-grant-trend"
            resource={trend}
          >
            {trend.data && trend.data.series.length > 0 ? (
              <GrantTrendChart
                series={trend.data.series}
                step={trend.data.step}
                cap={capReference(goals.data)?.cap ?? null}
                caps={caps}
                colorOf={colorOf}
                withDay={range.withDay}
                running={runningStep(trend.data)}
              />
            ) : (
              <p className="empty-state">No sends granted in the last {range.label}.</p>
            )}
          </ChartCard>
        </div>
      )}

      <section className="dashboard__section" aria-labelledby="pairs-heading">
        <h2 id="pairs-heading">
          Pairs <span className="muted dashboard__hint">click a pair for its trend</span>
        </h2>
        {pairs.isPending && byPairLoading ? (
          <div className="table-wrap" aria-busy="true" data-testid="pairs-metrics-loading">
            <span className="skeleton" />
          </div>
        ) : (
          <PairMetricsTable rows={rows} selected={selected} onSelect={selectPair} />
        )}
      </section>

      {selected && (
        <PairTrendPanel
          key={selected}
          pairKey={selected}
          pair={selectedRow?.pair}
          metrics={selectedRow?.metrics}
          capOf={caps && selectedRow?.pair ? pairCapOf(caps, selectedRow.pair.country, stepMs(range.step)) : null}
          capChange={selectedRow?.pair ? changed.get(selectedRow.pair.country) : undefined}
          range={range}
          onClose={() => update({ pair: null })}
        />
      )}

      <ChartCard title="Success rate per country and hour · last 24 hours" testId="chart-heatmap" resource={heatmap}>
        {heatmap.data && <SuccessHeatmap heatmap={heatmap.data} />}
      </ChartCard>
    </section>
  );
}

interface ChartCardProps {
  title: string;
  testId: string;
  resource: Pick<UseQueryResult, "error" | "data" | "refetch">;
  children: ReactNode;
}

function ChartCard({ title, testId, resource, children }: ChartCardProps) {
  return (
    <section className="card" data-testid={testId}>
      <header className="card__header">
        <h2>{title}</h2>
      </header>
      {resource.error !== null && resource.data === undefined ? (
        <ErrorBanner error={resource.error} onRetry={() => void resource.refetch()} testId={`${testId}-error`} />
      ) : resource.data === undefined ? (
        <div className="chart-placeholder" aria-busy="true" data-testid={`${testId}-loading`}>
          <Spinner label={`Loading ${title.toLowerCase()}`} />
        </div>
      ) : (
        children
      )}
    </section>
  );
}
