import type { ReactNode } from "react";
import { Link } from "react-router";
import type { AlertsOverview, CountryGoal, MetricsTotals } from "../../api/types";
import { formatCount, formatPercent, formatRate, successTone } from "./format";
import { RECENT } from "./ranges";
import { SENT_NOTE } from "./sendCounts";
import type { DownCounts } from "./sessionCounts";

/** The fleet's sends granted per minute over `RECENT` and its goal (`fleetGranted`). */
export interface Granted {
  perMinute: number;
  goal: number;
}

/**
 * The fleet's grants per minute and its goal: each country's figures added up, both over
 * the same countries. A country in which no session is wanted running (its pairs saved and
 * never started, or every session stopped by someone) or that an admin halted is expected
 * to send nothing: neither its goal nor its grants of the last minutes (before its sessions
 * were stopped) count. A paused one's shortfall is real, and counts, as does one whose
 * sessions wait for a test number.
 */
export function fleetGranted(goals: readonly CountryGoal[] | undefined): Granted | undefined {
  if (!goals) return undefined;
  const expected = goals.filter((goal) => goal.reason_kind !== "no_session" && goal.reason_kind !== "halted");
  return {
    perMinute: expected.reduce((sum, goal) => sum + goal.achieved_per_minute, 0),
    goal: expected.reduce((sum, goal) => sum + goal.goal_per_minute, 0),
  };
}

interface KpiCardsProps {
  /** Totals of the last minutes (`RECENT`). */
  recent: MetricsTotals | undefined;
  /** Undefined while loading. */
  granted: Granted | undefined;
  /** Totals of the selected range. */
  totals: MetricsTotals | undefined;
  rangeLabel: string;
  activeSessions: number | undefined;
  totalSessions: number | undefined;
  /** Sessions stopping, their programs still running (a pair the policy paused lets them finish their sends): not down. */
  stoppingSessions?: number | undefined;
  /** Sessions held stopped by their pairs (paused, disabled, or with no test number): not down. */
  heldSessions?: number | undefined;
  /** Sessions wanted stopped (a person stopped them, or left them stopped), of pairs that run: not down either. */
  stoppedSessions?: number | undefined;
  /** Sessions wanted running, by pairs that run, and not running, by state. */
  downSessions?: DownCounts | undefined;
  /** The alerts firing now; undefined while loading. */
  alerts: AlertsOverview["counts"] | undefined;
}

/** What each state of a session down is called on the card. */
const DOWN_WORDS: Record<keyof DownCounts, string> = {
  fatal: "fatal (no longer restarted)",
  backoff: "waiting to restart",
  exited: "exited",
  stopped: "not started",
};

/** `2 down: 1 fatal (no longer restarted), 1 waiting to restart`. */
export function downHint(counts: DownCounts): string {
  const parts = (Object.keys(DOWN_WORDS) as (keyof DownCounts)[])
    .filter((state) => counts[state])
    .map((state) => `${formatCount(counts[state] ?? 0)} ${DOWN_WORDS[state]}`);
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return `${formatCount(total)} down: ${parts.join(", ")}`;
}

/** What the Failures card's "broken off" counts: every attempt that says nothing of its route. */
const BROKEN_OFF_TITLE =
  "Stopped, killed or never reported with the attempt in flight, or not sent because its program" +
  " was not ready within half a second of its grant (grant_stale): counted in no rate";

export function KpiCards({
  recent,
  granted,
  totals,
  rangeLabel,
  activeSessions,
  totalSessions,
  stoppingSessions,
  heldSessions,
  stoppedSessions,
  downSessions,
  alerts,
}: KpiCardsProps) {
  // Every completed attempt that was not delivered, whatever went wrong (attempts broken
  // off by a stop are not completed: they say nothing of the routes).
  const failures = totals ? totals.completed - totals.delivered : undefined;
  const down = Object.values(downSessions ?? {}).reduce((sum, count) => sum + count, 0);
  return (
    <div className="kpis" data-testid="kpis">
      <Kpi
        label="Granted per minute"
        title="Sends the limiter allowed per minute over the last 2 min, as each country's cap counts them: a program sends as soon as it is granted, or gives the grant up if it could not in time (a country's reason says so). Sends are reported later, once their outcome is known. The goal adds up the caps of the countries where a session is wanted running, held ones too (a paused pair's, or one with no test number), whose shortfall their reason below says; the grants are those same countries'."
        value={granted ? formatRate(granted.perMinute) : undefined}
        unit="per min"
        testId="kpi-granted-per-minute"
        hint={
          <>
            <span className="kpi__line">
              goal <span data-testid="kpi-goal">{formatCount(granted?.goal)}</span> per min
            </span>
            <span className="kpi__line" title={SENT_NOTE}>
              <span data-testid="kpi-sent-recent">{formatCount(recent?.sent)}</span> sent in the {RECENT.label}, by report time
            </span>
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
            <span data-testid="kpi-failed">{formatCount(totals?.failed)}</span> failed to send
            {totals?.broken_off ? (
              // Not among the failures above: said apart, so the parts add up to the total.
              <span title={BROKEN_OFF_TITLE}>
                {" "}
                · <span data-testid="kpi-broken-off">{formatCount(totals.broken_off)}</span> broken off (in no rate)
              </span>
            ) : null}{" "}
            · {rangeLabel}
          </>
        }
      />
      <Kpi
        label="Active sessions"
        value={activeSessions === undefined ? undefined : formatCount(activeSessions)}
        testId="kpi-active-sessions"
        // Down sessions are what this card is for: said first, in colour, and a click away.
        tone={downSessions?.fatal ? "poor" : down ? "fair" : "none"}
        {...(down ? { to: "/programs" } : {})}
        hint={
          totalSessions === undefined
            ? "Running now"
            : `running of ${formatCount(totalSessions)}${down ? ` · ${downHint(downSessions ?? {})}` : ""}${stoppingSessions ? ` · ${formatCount(stoppingSessions)} stopping` : ""}${heldSessions ? ` · ${formatCount(heldSessions)} held stopped by their pairs (paused, or no test number)` : ""}${stoppedSessions ? ` · ${formatCount(stoppedSessions)} stopped on purpose` : ""}`
        }
      />
      <Kpi
        label="Open alerts"
        value={alerts ? formatCount(alerts.firing) : undefined}
        testId="kpi-open-alerts"
        to="/alerts"
        tone={!alerts ? "none" : alerts.critical > 0 ? "poor" : alerts.firing > 0 ? "fair" : "good"}
        hint={
          alerts === undefined ? (
            "Firing now"
          ) : alerts.firing === 0 ? (
            "None firing · see all alerts"
          ) : (
            <>
              <span data-testid="kpi-alerts-critical">{formatCount(alerts.critical)}</span> critical,{" "}
              <span data-testid="kpi-alerts-unacknowledged">{formatCount(alerts.unacknowledged)}</span> not acknowledged
            </>
          )
        }
      />
    </div>
  );
}

interface KpiProps {
  label: string;
  /** What the figure counts, on hover. */
  title?: string;
  /** Undefined while loading. */
  value: string | undefined;
  /** What the figure is counted in, said after it ("per min"). */
  unit?: string;
  testId: string;
  hint: ReactNode;
  tone?: "good" | "fair" | "poor" | "none";
  /** Where a click on the card leads. */
  to?: string;
}

function Kpi({ label, title, value, unit, testId, hint, tone = "none", to }: KpiProps) {
  const body = (
    <>
      <div className="kpi__label" title={title}>
        {label}
      </div>
      {value === undefined ? (
        <span className="skeleton kpi__skeleton" data-testid={`${testId}-loading`} />
      ) : unit ? (
        <div className="kpi__value">
          <span data-testid={testId}>{value}</span> <span className="kpi__unit">{unit}</span>
        </div>
      ) : (
        <div className="kpi__value" data-testid={testId}>
          {value}
        </div>
      )}
      <div className="kpi__hint">{hint}</div>
    </>
  );
  return to ? (
    <Link to={to} className={`kpi kpi--${tone} kpi--link`} data-testid={`${testId}-card`}>
      {body}
    </Link>
  ) : (
    <div className={`kpi kpi--${tone}`}>{body}</div>
  );
}
