export function Spinner({ label = "Loading" }: { label?: string }) {
  return (
    <span className="spinner" role="status" aria-label={label} data-testid="spinner">
      <span className="spinner__circle" aria-hidden="true" />
    </span>
  );
}

/** A page-wide wait; `shown` says it on screen too (else only to screen readers). */
export function FullPageSpinner({ label, shown = false }: { label: string; shown?: boolean }) {
  return (
    <div className="full-page-center">
      <div className="full-page-center__wait">
        <Spinner label={label} />
        {shown && (
          <p className="muted" data-testid="full-page-wait">
            {label}
          </p>
        )}
      </div>
    </div>
  );
}
