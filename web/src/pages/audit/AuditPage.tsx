import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import { useCallback, useState, type SubmitEvent } from "react";
import { useSearchParams } from "react-router";
import { ApiError } from "../../api/errors";
import { useAuth } from "../../auth/AuthContext";
import { ErrorBanner } from "../../components/ErrorBanner";
import { FilterSelect } from "../../components/FilterSelect";
import { Spinner } from "../../components/Spinner";
import { useLiveUpdates } from "../../data/live";
import { AUDIT_KEY, auditQuery } from "../../data/queries";
import "./audit.css";
import { AuditTable } from "./AuditTable";
import {
  AUDIT_ACTIONS,
  AUDIT_TARGET_KINDS,
  auditQueryOf,
  filtersFromParams,
  hasFilters,
  NO_FILTERS,
  paramsFromFilters,
  rangeProblem,
  type AuditFilters,
} from "./filters";

export const NOT_ADMIN_TEXT = "Only admins read the audit log.";

export function AuditPage() {
  const { user } = useAuth();
  return (
    <section className="page" data-testid="audit-page">
      <header className="page__header">
        <div>
          <h1>Audit</h1>
          <p className="page__subtitle">
            <span>
              Who changed programs, pairs, sessions, templates, accounts, API keys and caps, and who was refused: newest
              first.
            </span>
          </p>
        </div>
      </header>
      {user?.role === "admin" ? <AuditLog /> : <NotAdmin />}
    </section>
  );
}

function NotAdmin() {
  return (
    <p className="banner banner--info" role="status" data-testid="audit-not-admin">
      {NOT_ADMIN_TEXT} Ask an admin what changed.
    </p>
  );
}

// Filters live in the URL so a filtered view can be bookmarked and shared.
function useFilters(): [AuditFilters, (filters: AuditFilters) => void, string] {
  const [params, setParams] = useSearchParams();
  const update = useCallback(
    (next: AuditFilters) => setParams(paramsFromFilters(next), { replace: true }),
    [setParams],
  );
  return [filtersFromParams(params), update, params.toString()];
}

function AuditLog() {
  const [filters, setFilters, filtersKey] = useFilters();
  // A new filter keeps the current rows on screen until its own arrive.
  const problem = rangeProblem(filters);
  const log = useInfiniteQuery({
    ...auditQuery(auditQueryOf(filters)),
    placeholderData: keepPreviousData,
    enabled: problem === null,
  });
  // The live connection tells of each new entry (to admins): the pages shown are read again.
  useLiveUpdates("audit", AUDIT_KEY, 250);
  const events = log.data?.pages.flatMap((page) => page.events) ?? [];
  const loadOlder = () => void log.fetchNextPage();
  const olderError = log.isFetchNextPageError ? log.error : null;

  if (log.error instanceof ApiError && log.error.status === 403) return <NotAdmin />;
  return (
    <>
      {/* Keyed by the address's filters: a new address (the menu's link, a bookmark) shows its own, not the last typed. */}
      <AuditFiltersForm key={filtersKey} filters={filters} onApply={setFilters} />
      {problem !== null ? (
        <p className="banner banner--error" role="alert" data-testid="audit-range-problem">
          {problem}
        </p>
      ) : log.error !== null && log.data === undefined ? (
        <ErrorBanner error={log.error} onRetry={() => void log.refetch()} />
      ) : log.data === undefined ? (
        <Spinner label="Loading the audit log" />
      ) : events.length === 0 ? (
        <p className="empty-state" data-testid="audit-empty">
          {hasFilters(filters) ? "No audit entries match these filters." : "No audit entries yet."}
        </p>
      ) : (
        <>
          <p className="page__subtitle" data-testid="audit-count">
            Newest first · {events.length} shown{log.hasNextPage ? " · older ones below" : ""}
            {log.isPlaceholderData && <Spinner label="Filtering" />}
          </p>
          <AuditTable events={events} />
          {olderError !== null && <ErrorBanner error={olderError} onRetry={loadOlder} testId="audit-older-error" />}
          {log.hasNextPage && (
            <div className="pager">
              <button
                type="button"
                className="button"
                onClick={loadOlder}
                disabled={log.isFetchingNextPage}
                data-testid="audit-older"
              >
                {log.isFetchingNextPage ? "Loading…" : "Load older entries"}
              </button>
            </div>
          )}
        </>
      )}
    </>
  );
}

/** The filters: a choice (an action, a kind, a time) applies at once; typed ones on Enter or
 * "Filter", so that a half typed name does not ask the log for every letter. */
function AuditFiltersForm({ filters, onApply }: { filters: AuditFilters; onApply: (filters: AuditFilters) => void }) {
  const [draft, setDraft] = useState(filters);
  const apply = (changes: Partial<AuditFilters>) => {
    const next = { ...draft, ...changes };
    setDraft(next);
    onApply(next);
  };
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    onApply(draft);
  };
  return (
    <form className="toolbar toolbar--audit" role="search" onSubmit={submit}>
      <FilterSelect name="action" allLabel="All actions" options={AUDIT_ACTIONS} value={draft.action} onChange={(action) => apply({ action })} />
      <FilterSelect
        name="target kind"
        allLabel="All targets"
        options={AUDIT_TARGET_KINDS}
        value={draft.targetKind}
        onChange={(targetKind) => apply({ targetKind })}
        testId="filter-target-kind"
      />
      <input
        className="input"
        placeholder="Target (e.g. UZ_uzmobile)"
        aria-label="Filter by target"
        maxLength={80}
        value={draft.target}
        onChange={(event) => setDraft({ ...draft, target: event.target.value })}
        data-testid="filter-target"
      />
      <input
        className="input"
        placeholder="Username"
        aria-label="Filter by who acted"
        maxLength={64}
        value={draft.actor}
        onChange={(event) => setDraft({ ...draft, actor: event.target.value })}
        data-testid="filter-actor"
      />
      <TimeFilter label="From" value={draft.since} onChange={(since) => apply({ since })} testId="filter-since" />
      <TimeFilter label="Before" value={draft.until} onChange={(until) => apply({ until })} testId="filter-until" />
      <button type="submit" className="button" data-testid="audit-filter">
        Filter
      </button>
      {hasFilters(filters) && (
        <button type="button" className="button" onClick={() => apply(NO_FILTERS)} data-testid="audit-clear-filters">
          Clear filters
        </button>
      )}
    </form>
  );
}

/** A time of the range, in UTC as the page shows times, to the second. */
function TimeFilter({
  label,
  value,
  onChange,
  testId,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  testId: string;
}) {
  return (
    <label className="audit-time">
      {label} (UTC)
      <input
        type="datetime-local"
        step={1}
        className="input"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        data-testid={testId}
      />
    </label>
  );
}
