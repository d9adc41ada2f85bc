import type { SessionActionResult } from "../../api/types";

interface ActionResultsPanelProps {
  title: string;
  results: readonly SessionActionResult[];
  onDismiss: () => void;
}

/** What a bulk action did to each session it selected. */
export function ActionResultsPanel({ title, results, onDismiss }: ActionResultsPanelProps) {
  const failed = results.filter((result) => !result.ok);
  return (
    <section
      className={failed.length > 0 ? "results-panel results-panel--failed" : "results-panel"}
      aria-label="Bulk action results"
      data-testid="bulk-results"
    >
      <header className="results-panel__header">
        <h2>{title}</h2>
        <span data-testid="bulk-results-summary">
          {results.length - failed.length} ok{failed.length > 0 ? `, ${failed.length} failed` : ""}
        </span>
        <button type="button" className="icon-button" aria-label="Dismiss results" onClick={onDismiss}>
          ×
        </button>
      </header>
      {results.length === 0 ? (
        <p className="muted">No session matched.</p>
      ) : (
        <ul className="results-panel__list">
          {results.map((result) => (
            <li key={result.name} data-testid={`bulk-result-${result.name}`} data-ok={result.ok}>
              <span className={result.ok ? "result-mark result-mark--ok" : "result-mark result-mark--failed"} aria-hidden="true">
                {result.ok ? "✓" : "✗"}
              </span>
              <span className="mono">{result.name}</span>
              {result.ok ? (
                <span className="muted">
                  desired {result.desired ?? "—"} · observed {result.state ?? "—"}
                </span>
              ) : (
                <span className="result-error">{result.error ?? "failed"}</span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
