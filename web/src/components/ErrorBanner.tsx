import { errorMessage } from "../api/errors";

interface ErrorBannerProps {
  error: unknown;
  onRetry?: () => void;
  testId?: string;
}

export function ErrorBanner({ error, onRetry, testId = "error-banner" }: ErrorBannerProps) {
  return (
    <div className="banner banner--error" role="alert" data-testid={testId}>
      <span>{errorMessage(error)}</span>
      {onRetry && (
        <button type="button" className="button button--small" onClick={onRetry} data-testid="retry">
          Retry
        </button>
      )}
    </div>
  );
}
