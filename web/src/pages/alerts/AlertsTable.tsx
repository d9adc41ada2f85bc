import { SEVERITY_RANK, type Alert } from "../../api/types";
import { SortHeader, useSort, type SortValue } from "../../components/sorting";
import { formatDateTime } from "../../format/time";
import { formatDuration } from "../programs/format";
import { ruleLabel } from "./labels";
import { Identifier } from "../../components/Identifier";

interface AlertsTableProps {
  alerts: readonly Alert[];
  emptyText: string;
  /** Absent for read-only users: no acknowledge button. */
  onAcknowledge?: ((alert: Alert) => void) | undefined;
  busyId: string | null;
  now: number;
}

function lasted(alert: Alert, now: number): string {
  const end = alert.resolved_at ? Date.parse(alert.resolved_at) : now;
  return formatDuration((end - Date.parse(alert.started_at)) / 1000);
}

type Column = "severity" | "rule" | "subject" | "started" | "state";

const COLUMNS: Record<Column, (alert: Alert) => SortValue> = {
  severity: (alert) => SEVERITY_RANK[alert.severity],
  rule: (alert) => ruleLabel(alert.rule),
  subject: (alert) => alert.subject,
  started: (alert) => Date.parse(alert.started_at),
  state: (alert) => alert.state,
};
const NUMERIC: ReadonlySet<Column> = new Set(["started"]);
/** The table's columns in order, each sized by its `alerts-table__<name>` class (styles.css). */
const ALERT_COLUMNS = ["severity", "rule", "subject", "summary", "started", "state"] as const;

export function AlertsTable({ alerts, emptyText, onAcknowledge, busyId, now }: AlertsTableProps) {
  const sorting = useSort(alerts, COLUMNS, NUMERIC);
  if (alerts.length === 0) return <p className="empty-state">{emptyText}</p>;
  const header = (column: Column, label: string, className?: string) => (
    <SortHeader label={label} column={column} sort={sorting.sort} onSort={sorting.toggle} className={className} />
  );
  return (
    <div className="table-wrap">
      <table className="table alerts-table" data-testid="alerts-table">
        <colgroup>
          {ALERT_COLUMNS.map((column) => (
            <col key={column} className={`alerts-table__${column}`} />
          ))}
        </colgroup>
        <thead>
          <tr>
            {header("severity", "Severity")}
            {header("rule", "Rule")}
            {header("subject", "Subject")}
            <th scope="col">What happened</th>
            {header("started", "Started")}
            {/* Its acknowledgement in its cell: pinned right, as a table's actions are. */}
            {header("state", "State", "table__actions")}
          </tr>
        </thead>
        <tbody>
          {sorting.rows.map((alert) => (
            <tr key={alert.id} data-testid="alert-row" data-alert-id={alert.id} data-rule={alert.rule}>
              <td>
                <span className={`badge badge--${alert.severity}`} data-testid="alert-severity">
                  {alert.severity}
                </span>
              </td>
              <td>{ruleLabel(alert.rule)}</td>
              <td>
                <Identifier as="code" value={alert.subject} />
                {/* A country's own alert names it once. */}
                {alert.country && alert.country !== alert.subject && <span className="muted"> · {alert.country}</span>}
              </td>
              <td className="alert-summary">{alert.summary}</td>
              <td title={alert.started_at}>{formatDateTime(alert.started_at)}</td>
              <td className="table__actions">
                <span data-testid="alert-state">
                  {alert.state === "firing" ? (
                    <span className="badge badge--firing">firing · {lasted(alert, now)}</span>
                  ) : (
                    <span className="badge badge--resolved">resolved after {lasted(alert, now)}</span>
                  )}
                </span>
                {/* Its acknowledgement under its state: a column of its own left what happened
                    a word a line at 1,280 px. */}
                <div className="alert-ack" data-testid="alert-ack">
                  {alert.acknowledged_by ? (
                  <span title={alert.acknowledged_at ?? undefined}>acknowledged by {alert.acknowledged_by}</span>
                ) : alert.state === "firing" && onAcknowledge ? (
                  <button
                    type="button"
                    className="button button--small"
                    disabled={busyId === alert.id}
                    onClick={() => onAcknowledge(alert)}
                    data-testid="alert-acknowledge"
                  >
                    Acknowledge
                  </button>
                ) : null}
                {/* It got worse after someone acknowledged it: they knew of it, milder. */}
                {!alert.acknowledged_by && alert.milder_acknowledged_by && (
                  <span className="muted alert-ack__milder" title={alert.milder_acknowledged_at ?? undefined} data-testid="alert-milder-ack">
                    {alert.milder_acknowledged_by} acknowledged it as {alert.milder_acknowledged_severity ?? "milder"} at {formatDateTime(alert.milder_acknowledged_at)}; it turned {alert.severity} after
                  </span>
                )}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
