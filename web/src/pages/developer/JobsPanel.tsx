import { useEffect, useRef, useState, type SubmitEvent } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { cancelSearchJob, createSearchJob, retrySearchJob } from "../../api/endpoints";
import { errorMessage } from "../../api/errors";
import type { SearchJob, SearchJobCreate, SearchJobSummary } from "../../api/types";
import { SortHeaders, useSort, type SortColumn, type SortValue } from "../../components/sorting";
import { ToastStack, useToasts } from "../../components/Toasts";
import { SEARCH_KEY, breakersQuery, searchJobQuery, searchJobsQuery } from "../../data/queries";
import { formatDateTime } from "../../format/time";
import { breakerClass, breakerTitle, breakerWords } from "./breakers";
import { download } from "./export";

const PAGE = 10;
const POLL_MS = 1500;
const ACTIVE = new Set(["queued", "running"]);

type JobColumn = "started" | "query" | "algorithm" | "status" | "matches";
const JOB_COLUMNS: ReadonlyArray<SortColumn<JobColumn>> = [
  { column: "started", label: "Started" },
  { column: "query", label: "Query" },
  { column: "algorithm", label: "Algorithm" },
  { column: "status", label: "Status" },
  { column: "matches", label: "Matches" },
];
const JOB_READ: Record<JobColumn, (job: SearchJobSummary) => SortValue> = {
  started: (job) => job.created_at,
  query: (job) => job.query,
  algorithm: (job) => job.algorithm,
  status: (job) => job.status,
  matches: (job) => job.matched,
};
const JOB_NUMERIC: ReadonlySet<JobColumn> = new Set(["started", "matches"]);
const NO_JOBS: SearchJobSummary[] = [];

const anyActive = (jobs: readonly SearchJobSummary[] | undefined) => jobs?.some((job) => ACTIVE.has(job.status)) ?? false;

type JobAction = (id: string) => Promise<unknown>;

/** Search jobs with live status: polled while any is unfinished, a toast when one ends. */
export function JobsPanel() {
  const [offset, setOffset] = useState(0);
  // Polled while a job on the page is unfinished; the breakers with them.
  const jobs = useQuery({
    ...searchJobsQuery(offset, PAGE),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (anyActive(query.state.data?.items) ? POLL_MS : false),
  });
  const items = jobs.data?.items;
  const breakers = useQuery({ ...breakersQuery(), refetchInterval: anyActive(items) ? POLL_MS : false });
  const [query, setQuery] = useState("");
  const [algorithm, setAlgorithm] = useState<SearchJobCreate["algorithm"]>("fulltext");
  const [openId, setOpenId] = useState<string | null>(null);
  const open = useQuery({ ...searchJobQuery(openId ?? ""), enabled: openId !== null });
  const { toasts, show, dismiss } = useToasts();
  const seen = useRef(new Map<string, string>());
  const queryClient = useQueryClient();

  const sorting = useSort(items ?? NO_JOBS, JOB_READ, JOB_NUMERIC);
  useEffect(() => {
    for (const job of items ?? []) {
      const before = seen.current.get(job.id);
      if (before && ACTIVE.has(before) && !ACTIVE.has(job.status)) {
        const outcome = job.status === "done" ? `found ${job.matched ?? 0}` : job.status;
        show(job.status === "failed" ? "error" : "success", `Search “${job.query}”: ${outcome}`);
      }
      seen.current.set(job.id, job.status);
    }
  }, [items, show]);

  const reloadJobs = () => void queryClient.invalidateQueries({ queryKey: SEARCH_KEY });
  const create = useMutation({
    mutationFn: createSearchJob,
    onSuccess: (job) => {
      seen.current.set(job.id, job.status);
      setOffset(0);
      reloadJobs();
    },
  });
  const act = useMutation({
    mutationFn: ({ action, job }: { action: JobAction; job: SearchJobSummary }) => action(job.id),
    onSuccess: reloadJobs,
  });
  // The latest action's failure; one more action clears it.
  const [lastAction, setLastAction] = useState<"create" | "act">("create");
  const actionError = lastAction === "create" ? create.error : act.error;

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    setLastAction("create");
    create.mutate({ query: query.trim(), algorithm, limit: 100 });
  };
  const run = (action: JobAction, job: SearchJobSummary) => {
    setLastAction("act");
    act.mutate({ action, job });
  };
  const failed = actionError ?? open.error;
  const error = failed ? errorMessage(failed) : null;
  const total = jobs.data?.total ?? 0;
  return (
    <section className="panel" data-testid="jobs-panel">
      <header className="panel__header">
        <h2>Search jobs</h2>
        <span className="muted" data-testid="breakers">
          {(breakers.data ?? []).map((b) => (
            <span
              key={b.name}
              className={`badge ${breakerClass(b.state)}`}
              title={breakerTitle(b)}
              data-testid={`breaker-${b.name}`}
              data-state={b.state}
            >
              {b.name}: {breakerWords(b.state)}
            </span>
          ))}
        </span>
      </header>
      <form className="toolbar toolbar--alerts" onSubmit={submit}>
        <input className="input" placeholder="number, code, error…" value={query} maxLength={200} onChange={(e) => setQuery(e.target.value)} data-testid="job-query" aria-label="Search for" />
        <select className="input" value={algorithm} onChange={(e) => setAlgorithm(e.target.value as SearchJobCreate["algorithm"])} aria-label="Algorithm" data-testid="job-algorithm">
          <option value="fulltext">full text</option>
          <option value="exact">exact</option>
          <option value="fuzzy">fuzzy</option>
        </select>
        <button type="submit" className="button button--primary" disabled={query.trim() === ""} data-testid="job-submit">
          Search
        </button>
      </form>
      {(error ?? (jobs.error ? errorMessage(jobs.error) : null)) && (
        <p className="banner banner--error" role="alert" data-testid="jobs-error">
          {error ?? errorMessage(jobs.error)}
        </p>
      )}
      {items && items.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="jobs-table">
            <thead>
              <tr>
                <SortHeaders columns={JOB_COLUMNS} sort={sorting.sort} onSort={sorting.toggle} />
                <th className="table__actions" />
              </tr>
            </thead>
            <tbody>
              {sorting.rows.map((job) => (
                <tr key={job.id} data-testid="job-row" data-job-id={job.id}>
                  <td>{formatDateTime(job.created_at)}</td>
                  <td>
                    <code>{job.query}</code>
                  </td>
                  <td>{job.algorithm}</td>
                  <td data-testid="job-status">{job.status}</td>
                  <td>{job.matched ?? "—"}</td>
                  <td className="table__actions">
                    {job.status === "done" && (
                      <button type="button" className="button button--small" onClick={() => setOpenId(job.id)} data-testid="job-open">
                        Results
                      </button>
                    )}
                    {ACTIVE.has(job.status) && (
                      <button type="button" className="button button--small" onClick={() => run(cancelSearchJob, job)}>
                        Cancel
                      </button>
                    )}
                    {(job.status === "failed" || job.status === "cancelled") && (
                      <button type="button" className="button button--small" onClick={() => run(retrySearchJob, job)}>
                        Retry
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="pager">
            <button type="button" className="button button--small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Newer
            </button>
            <span className="muted">
              {offset + 1}–{Math.min(offset + PAGE, total)} of {total}
            </span>
            <button type="button" className="button button--small" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
              Older
            </button>
          </div>
        </div>
      )}
      {open.data && openId !== null && <JobResults job={open.data} onClose={() => setOpenId(null)} />}
      <ToastStack toasts={toasts} onDismiss={dismiss} testId="job-toasts" />
    </section>
  );
}

function JobResults({ job: open, onClose }: { job: SearchJob; onClose: () => void }) {
  return (
    <div className="panel" data-testid="job-results">
      <header className="panel__header">
        <h3>
          “{open.query}”: {open.matched} found
        </h3>
        <span>
          <button type="button" className="button button--small" onClick={() => download(open.results, `search-${open.id}`, "csv")}>
            CSV
          </button>{" "}
          <button type="button" className="button button--small" onClick={() => download(open.results, `search-${open.id}`, "json")}>
            JSON
          </button>{" "}
          <button type="button" className="button button--small" onClick={onClose}>
            Close
          </button>
        </span>
      </header>
      <ul className="results">
        {open.results.map((match) => (
          <li key={match.document_id} data-testid="job-match">
            <span className="badge badge--info">{match.kind}</span> <code>{match.phone}</code> {match.text}{" "}
            <span className="muted">
              {formatDateTime(match.at)} · score {match.score.toFixed(2)}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}
