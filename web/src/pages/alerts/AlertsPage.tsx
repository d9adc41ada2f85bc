import { useCallback, useState } from "react";
import { useSearchParams } from "react-router";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { acknowledgeAlert } from "../../api/endpoints";
import {
  ALERT_RULES,
  ALERT_SEVERITIES,
  type Alert,
  type AlertQuery,
  type AlertRule,
  type AlertSeverity,
} from "../../api/types";
import { canWrite, useAuth } from "../../auth/AuthContext";
import { ErrorBanner } from "../../components/ErrorBanner";
import { FilterSelect } from "../../components/FilterSelect";
import { Spinner } from "../../components/Spinner";
import { ALERTS_KEY, POLICY_DECISIONS_KEY, alertListQuery, alertsOverviewQuery, policyDecisionsQuery } from "../../data/queries";
import { useLiveUpdates } from "../../data/live";
import { useNow } from "../../hooks/useTicker";
import { AlertsTable } from "./AlertsTable";
import { DecisionsTable } from "./DecisionsTable";
import { ruleLabel } from "./labels";
import { telegramStalled, telegramStatusText } from "./telegramStatus";
import { TestMessageDialog } from "./TestMessageDialog";

// "Firing" is the word the API (state=firing), the badges and the counts use.
type View = "firing" | "history";

const DECISIONS_SHOWN = 50;
const TELEGRAM_OFF_HINT = "Telegram is not configured: see docs/operations.md (Alerts and Telegram).";

interface Filters {
  view: View;
  severity: AlertSeverity | "";
  rule: AlertRule | "";
  country: string;
}

// Filters live in the URL so a filtered view can be bookmarked and shared.
function useFilters(): [Filters, (filters: Filters) => void] {
  const [params, setParams] = useSearchParams();
  const filters: Filters = {
    view: params.get("view") === "history" ? "history" : "firing",
    severity: (params.get("severity") ?? "") as AlertSeverity | "",
    rule: (params.get("rule") ?? "") as AlertRule | "",
    country: params.get("country") ?? "",
  };
  const update = useCallback(
    (next: Filters) => {
      const entries = Object.entries(next).filter(([key, value]) => value !== "" && !(key === "view" && value === "firing"));
      setParams(new URLSearchParams(entries), { replace: true });
    },
    [setParams],
  );
  return [filters, update];
}

function toQuery(filters: Filters): AlertQuery {
  const query: AlertQuery = { limit: 200 };
  if (filters.view === "firing") query.state = "firing";
  if (filters.severity) query.severity = filters.severity;
  if (filters.rule) query.rule = filters.rule;
  if (/^[A-Za-z]{2}$/.test(filters.country)) query.country = filters.country.toUpperCase();
  return query;
}

export function AlertsPage() {
  const { user } = useAuth();
  const writable = canWrite(user);
  const [filters, setFilters] = useFilters();
  const query = toQuery(filters);
  // A new filter keeps the current rows on screen until its own arrive.
  const alerts = useQuery({ ...alertListQuery(query), placeholderData: keepPreviousData });
  const overview = useQuery(alertsOverviewQuery());
  // The country filter narrows the decisions too: the page is about that country.
  const decisions = useQuery({
    ...policyDecisionsQuery(DECISIONS_SHOWN, query.country ?? undefined),
    placeholderData: keepPreviousData,
  });
  const [notice, setNotice] = useState<string | null>(null);
  const [dialogOpen, setDialogOpen] = useState(false);
  const now = useNow();
  const queryClient = useQueryClient();

  useLiveUpdates("alerts", ALERTS_KEY, 0);
  useLiveUpdates("policy", POLICY_DECISIONS_KEY, 0);

  const acknowledge = useMutation({
    mutationFn: (alert: Alert) => acknowledgeAlert(alert.id),
    onSuccess: (_, alert) => {
      setNotice(
        `Acknowledged: no more repeats of “${ruleLabel(alert.rule)}” for ${alert.subject}, unless it gets worse` +
          " (it is then to be acknowledged again).",
      );
      return queryClient.invalidateQueries({ queryKey: ALERTS_KEY });
    },
  });

  const counts = overview.data?.counts;
  const telegram = overview.data?.telegram;
  const telegramOff = telegram?.configured === false;
  return (
    <section className="page" data-testid="alerts-page">
      <header className="page__header">
        <div>
          <h1>Alerts</h1>
          <p className="page__subtitle" data-testid="alerts-counts">
            {counts
              ? `${counts.firing} firing · ${counts.critical} critical · ${counts.unacknowledged} not acknowledged`
              : "…"}
          </p>
        </div>
        {writable && (
          <div className="page__actions">
            <button
              type="button"
              className="button"
              onClick={() => setDialogOpen(true)}
              // Without a bot and chats there is no one to send to: the server would refuse (409).
              disabled={telegramOff}
              title={telegramOff ? TELEGRAM_OFF_HINT : "Send a message to the alert chats, to check Telegram"}
              // Why it is off, said once: in the Telegram banner below, which a touch screen shows too.
              aria-describedby={telegramOff ? "telegram-status" : undefined}
              data-testid="send-test-message"
            >
              Send a test message
            </button>
          </div>
        )}
      </header>

      {telegram && (
        <p
          className={telegramStalled(telegram) ? "banner banner--warning" : "banner banner--info"}
          id="telegram-status"
          data-testid="telegram-status"
        >
          {telegramStatusText(telegram, new Date(now))}
        </p>
      )}
      {notice && (
        <p className="banner banner--success" role="status" data-testid="alerts-notice">
          {notice}
        </p>
      )}
      {acknowledge.error !== null && <ErrorBanner error={acknowledge.error} />}

      <div className="toolbar toolbar--alerts" role="search">
        <div className="segmented" role="tablist" aria-label="Alerts to show">
          {(["firing", "history"] as const).map((view) => (
            <button
              key={view}
              type="button"
              role="tab"
              aria-selected={filters.view === view}
              className={filters.view === view ? "segmented__item segmented__item--on" : "segmented__item"}
              onClick={() => setFilters({ ...filters, view })}
              data-testid={`alerts-view-${view}`}
            >
              {view === "firing" ? "Firing" : "All, with history"}
            </button>
          ))}
        </div>
        <FilterSelect
          name="severity"
          allLabel="All severities"
          options={ALERT_SEVERITIES}
          value={filters.severity}
          onChange={(severity) => setFilters({ ...filters, severity })}
        />
        <FilterSelect
          name="rule"
          allLabel="All rules"
          options={ALERT_RULES}
          optionLabel={ruleLabel}
          value={filters.rule}
          onChange={(rule) => setFilters({ ...filters, rule })}
        />
        <input
          className="input"
          placeholder="Country (e.g. UZ)"
          aria-label="Filter by country"
          maxLength={2}
          value={filters.country}
          onChange={(event) => setFilters({ ...filters, country: event.target.value })}
          data-testid="filter-country"
        />
      </div>

      {alerts.error !== null && alerts.data === undefined ? (
        <ErrorBanner error={alerts.error} onRetry={() => void alerts.refetch()} />
      ) : alerts.data === undefined ? (
        <Spinner label="Loading alerts" />
      ) : (
        <AlertsTable
          alerts={alerts.data}
          emptyText={filters.view === "firing" ? "Nothing is firing." : "No alert matches these filters."}
          onAcknowledge={writable ? (alert) => acknowledge.mutate(alert) : undefined}
          busyId={acknowledge.isPending ? acknowledge.variables.id : null}
          now={now}
        />
      )}

      <h2 className="section-title" data-testid="decisions-title">
        Policy decisions{query.country ? ` in ${query.country}` : ""}
      </h2>
      {decisions.error !== null && decisions.data === undefined ? (
        <ErrorBanner error={decisions.error} onRetry={() => void decisions.refetch()} />
      ) : decisions.data === undefined ? (
        <Spinner label="Loading decisions" />
      ) : (
        <DecisionsTable decisions={decisions.data} />
      )}

      {dialogOpen && (
        <TestMessageDialog
          onClose={() => setDialogOpen(false)}
          onSent={(message) => {
            setDialogOpen(false);
            setNotice(message);
            void queryClient.invalidateQueries({ queryKey: alertsOverviewQuery().queryKey });
          }}
        />
      )}
    </section>
  );
}
