import { errorMessage } from "../api/errors";
import { useReportUnreachable } from "./connection";

interface ErrorBannerProps {
  error: unknown;
  onRetry?: () => void;
  testId?: string;
}

export function ErrorBanner({ error, onRetry, testId = "error-banner" }: ErrorBannerProps) {
  // Inside the shell, "cannot reach the control plane" shows once, in the shell's banner.
  const handedOver = useReportUnreachable(error, onRetry);
  if (handedOver) return null;
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
