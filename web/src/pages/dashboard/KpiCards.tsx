import type { ReactNode } from "react";
import type { MetricsTotals } from "../../api/types";
import { EMPTY, formatCount, formatPercent, formatRate, successTone } from "./format";

interface KpiCardsProps {
  /** Totals of the last five minutes. */
  recent: MetricsTotals | undefined;
  /** Totals of the selected range. */
  totals: MetricsTotals | undefined;
  rangeLabel: string;
  activeSessions: number | undefined;
  totalSessions: number | undefined;
}

const RECENT_MINUTES = 5;

export function KpiCards({ recent, totals, rangeLabel, activeSessions, totalSessions }: KpiCardsProps) {
  // Every completed attempt that was not delivered, whatever went wrong.
  const failures = totals ? totals.completed - totals.delivered : undefined;
  return (
    <div className="kpis" data-testid="kpis">
      <Kpi
        label="Sent per minute"
        value={recent ? formatRate(recent.sent / RECENT_MINUTES) : undefined}
        testId="kpi-sent-per-minute"
        hint={
          <>
            <span data-testid="kpi-sent-recent">{formatCount(recent?.sent)}</span> sent in the last 5 min
          </>
        }
      />
      <Kpi
        label="Success rate"
        value={totals ? formatPercent(totals.success_rate) : undefined}
        testId="kpi-success-rate"
        tone={successTone(totals?.success_rate)}
        hint={
          <>
            <span data-testid="kpi-delivered">{formatCount(totals?.delivered)}</span> of{" "}
            <span data-testid="kpi-completed">{formatCount(totals?.completed)}</span> delivered · {rangeLabel}
          </>
        }
      />
      <Kpi
        label="Failures"
        value={failures === undefined ? undefined : formatCount(failures)}
        testId="kpi-failures"
        tone={failures ? "poor" : "none"}
        hint={
          <>
            <span data-testid="kpi-not-delivered">{formatCount(totals?.not_delivered)}</span> not delivered,{" "}
            <span data-testid="kpi-failed">{formatCount(totals?.failed)}</span> not sent · {rangeLabel}
          </>
        }
      />
      <Kpi
        label="Active sessions"
        value={activeSessions === undefined ? undefined : formatCount(activeSessions)}
        testId="kpi-active-sessions"
        hint={totalSessions === undefined ? "Running now" : `running of ${formatCount(totalSessions)}`}
      />
      <Kpi label="Open alerts" value={EMPTY} testId="kpi-open-alerts" hint="Alerts are not tracked yet" />
    </div>
  );
}

interface KpiProps {
  label: string;
  /** Undefined while loading. */
  value: string | undefined;
  testId: string;
  hint: ReactNode;
  tone?: "good" | "fair" | "poor" | "none";
}

function Kpi({ label, value, testId, hint, tone = "none" }: KpiProps) {
  return (
    <div className={`kpi kpi--${tone}`}>
      <div className="kpi__label">{label}</div>
      {value === undefined ? (
        <span className="skeleton kpi__skeleton" data-testid={`${testId}-loading`} />
      ) : (
        <div className="kpi__value" data-testid={testId}>
          {value}
        </div>
      )}
      <div className="kpi__hint">{hint}</div>
    </div>
  );
}
