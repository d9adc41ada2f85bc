import { useCallback, useMemo, useState } from "react";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import type { UsageKey, UsageQuery } from "../../api/types";
import { ErrorBanner } from "../../components/ErrorBanner";
import { SortHeaders, useSort, type SortColumn, type SortValue } from "../../components/sorting";
import { Spinner } from "../../components/Spinner";
import { API_KEYS_KEY, USAGE_KEY, apiKeysQuery, usageQuery, type Usage } from "../../data/queries";
import { formatMs, formatPercent } from "../dashboard/format";
import "../dashboard/dashboard.css";
import { download } from "./export";
import { JobsPanel } from "./JobsPanel";
import { KeysPanel } from "./KeysPanel";
import { EndpointBars, LatencyHistogram, UsageTrendChart } from "./UsageCharts";
import { Identifier } from "../../components/Identifier";

const RANGES = [7, 30, 90] as const;
// Percentiles are estimated from fine bins, not read off the histogram's buckets.
const QUANTILE_HINT = "Estimated within 2 % of the exact percentile";

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function DeveloperPage() {
  const keys = useQuery(apiKeysQuery());
  const queryClient = useQueryClient();
  const [days, setDays] = useState<(typeof RANGES)[number]>(30);
  const [keyId, setKeyId] = useState("");
  const end = new Date();
  const query: UsageQuery = {
    start_date: isoDay(new Date(end.getTime() - (days - 1) * 86_400_000)),
    end_date: isoDay(end),
    ...(keyId ? { api_key_id: keyId } : {}),
  };
  // A new range keeps the figures on screen until its own arrive.
  const usage = useQuery({ ...usageQuery(query), placeholderData: keepPreviousData });

  const names = useMemo(() => new Map((keys.data ?? []).map((key) => [key.id, key.name])), [keys.data]);
  return (
    <section className="page" data-testid="developer-page">
      <header className="page__header">
        <div>
          <h1>Developer</h1>
          <p className="page__subtitle">
            {/* One item of the subtitle's row; /docs is served by the control plane, not by this app. */}
            <span>
              API keys and how the API is used. The API itself is described at <a href="/docs">/docs</a>.
            </span>
          </p>
        </div>
      </header>

      {keys.error !== null && keys.data === undefined ? (
        <ErrorBanner error={keys.error} onRetry={() => void keys.refetch()} />
      ) : keys.data === undefined ? (
        <Spinner label="Loading keys" />
      ) : (
        <KeysPanel
          keys={keys.data}
          onChanged={() => {
            void queryClient.invalidateQueries({ queryKey: API_KEYS_KEY });
            void queryClient.invalidateQueries({ queryKey: USAGE_KEY });
          }}
        />
      )}

      <JobsPanel />

      <h2 className="section-title">Usage</h2>
      <div className="toolbar toolbar--alerts toolbar--usage">
        <div className="segmented" role="radiogroup" aria-label="Days">
          {RANGES.map((value) => (
            <button
              key={value}
              type="button"
              role="radio"
              aria-checked={days === value}
              className={days === value ? "segmented__item segmented__item--on" : "segmented__item"}
              onClick={() => setDays(value)}
              data-testid={`usage-range-${value}`}
            >
              {value} days
            </button>
          ))}
        </div>
        <select className="input" aria-label="API key" value={keyId} onChange={(e) => setKeyId(e.target.value)} data-testid="usage-key">
          <option value="">Every request</option>
          {(keys.data ?? []).map((key) => (
            <option key={key.id} value={key.id}>
              {key.name} ({key.prefix}…)
            </option>
          ))}
        </select>
        <button
          type="button"
          className="button"
          disabled={!usage.data}
          onClick={() => usage.data && download(usage.data.endpoints, `usage-endpoints-${query.start_date}`, "csv")}
          data-testid="export-csv"
        >
          Export CSV
        </button>
        <button
          type="button"
          className="button"
          disabled={!usage.data}
          onClick={() => usage.data && download([usage.data], `usage-${query.start_date}`, "json")}
          data-testid="export-json"
        >
          Export JSON
        </button>
      </div>

      {usage.error !== null && usage.data === undefined ? (
        <ErrorBanner error={usage.error} onRetry={() => void usage.refetch()} />
      ) : usage.data === undefined ? (
        <Spinner label="Loading usage" />
      ) : (
        <UsageView usage={usage.data} names={names} />
      )}
    </section>
  );
}

type UsageKeyColumn = "key" | "owner" | "requests" | "errors" | "average" | "p95";
const USAGE_KEY_COLUMNS: ReadonlyArray<SortColumn<UsageKeyColumn>> = [
  { column: "key", label: "Key" },
  { column: "owner", label: "Owner" },
  { column: "requests", label: "Requests" },
  { column: "errors", label: "Error rate" },
  { column: "average", label: "Latency avg" },
  { column: "p95", label: "p95" },
];
const USAGE_KEY_NUMERIC: ReadonlySet<UsageKeyColumn> = new Set(["requests", "errors", "average", "p95"]);

// The request log's rows without a key: a user signed in (its owner is that user), or no
// one (no owner): sign-ins and requests refused for want of a valid token or key.
const NO_KEY_SIGNED_IN = "no key (signed in)";
const NO_KEY_ANONYMOUS = "no key (anonymous)";

/** What a row without a key holds, for its title. */
function keylessHint(row: UsageKey): string | undefined {
  if (row.api_key_id) return undefined;
  return row.owner
    ? `Requests by ${row.owner} signed in (the dashboard or a sign-in token), without an API key`
    : "Requests by no one signed in and without a valid API key: sign-ins, and requests refused as unauthenticated (401)";
}

function UsageView({ usage, names }: { usage: Usage; names: Map<string, string> }) {
  const { summary } = usage;
  const keyName = useCallback(
    (row: UsageKey) =>
      row.api_key_id ? (names.get(row.api_key_id) ?? row.api_key_id) : row.owner ? NO_KEY_SIGNED_IN : NO_KEY_ANONYMOUS,
    [names],
  );
  // Read by column; keys reloaded re-sort by the names shown.
  const read = useMemo<Record<UsageKeyColumn, (row: UsageKey) => SortValue>>(
    () => ({
      key: keyName,
      owner: (row) => row.owner,
      requests: (row) => row.requests,
      errors: (row) => row.error_rate,
      average: (row) => row.latency_avg_ms,
      p95: (row) => row.latency_p95_ms,
    }),
    [keyName],
  );
  const sorting = useSort(usage.keys, read, USAGE_KEY_NUMERIC);
  return (
    <>
      <div className="kpis" data-testid="usage-kpis">
        <Figure label="Requests" value={summary.requests.toLocaleString()} testId="usage-requests" />
        <Figure label="Error rate" value={formatPercent(summary.error_rate)} testId="usage-error-rate" />
        <Figure label="Latency avg" value={formatMs(summary.latency_avg_ms)} testId="usage-latency-avg" />
        <Figure label="Latency p95" value={formatMs(summary.latency_p95_ms)} hint={QUANTILE_HINT} testId="usage-p95" />
        <Figure label="Latency p99" value={formatMs(summary.latency_p99_ms)} hint={QUANTILE_HINT} testId="usage-p99" />
      </div>
      <div className="chart-grid">
        <section className="panel">
          <h3>Requests per day</h3>
          <UsageTrendChart days={usage.days} />
        </section>
        <section className="panel">
          <h3>Latency distribution</h3>
          <LatencyHistogram histogram={summary.latency_histogram} bounds={summary.latency_histogram_bounds_ms} />
        </section>
      </div>
      <section className="panel">
        <h3>Busiest endpoints</h3>
        {usage.endpoints.length === 0 ? <p className="empty-state">No request in this range.</p> : <EndpointBars endpoints={usage.endpoints} />}
      </section>
      <section className="panel">
        <h3>By key</h3>
        <div className="table-wrap">
          <table className="table" data-testid="usage-keys-table">
            <thead>
              <tr>
                <SortHeaders columns={USAGE_KEY_COLUMNS} sort={sorting.sort} onSort={sorting.toggle} />
              </tr>
            </thead>
            <tbody>
              {sorting.rows.map((row) => (
                <tr key={`${row.api_key_id}-${row.owner}`} data-testid="usage-key-row" data-key-id={row.api_key_id}>
                  <td title={keylessHint(row)}>
                    <Identifier value={keyName(row)} />
                  </td>
                  <td>{row.owner || <span className="muted">—</span>}</td>
                  <td>{row.requests.toLocaleString()}</td>
                  <td>{formatPercent(row.error_rate)}</td>
                  <td>{formatMs(row.latency_avg_ms)}</td>
                  <td title={QUANTILE_HINT}>{formatMs(row.latency_p95_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}

function Figure({ label, value, hint, testId }: { label: string; value: string; hint?: string; testId: string }) {
  return (
    <div className="kpi" title={hint}>
      <span className="kpi__label">{label}</span>
      <span className="kpi__value" data-testid={testId}>
        {value}
      </span>
    </div>
  );
}
