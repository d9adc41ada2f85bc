export function Spinner({ label = "Loading" }: { label?: string }) {
  return (
    <span className="spinner" role="status" aria-label={label} data-testid="spinner">
      <span className="spinner__circle" aria-hidden="true" />
    </span>
  );
}

export function FullPageSpinner({ label }: { label: string }) {
  return (
    <div className="full-page-center">
      <Spinner label={label} />
    </div>
  );
}
