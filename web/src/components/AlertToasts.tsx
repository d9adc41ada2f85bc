import type { Alert } from "../api/types";
import { useLiveTopic } from "../live/LiveContext";
import { ruleLabel } from "../pages/alerts/labels";
import { ToastStack, useToasts } from "./Toasts";

function isAlert(data: unknown): data is Alert {
  return typeof data === "object" && data !== null && "rule" in data && "state" in data && "summary" in data;
}

/** A toast on every page when an alert fires or resolves; critical ones stay until dismissed. */
export function AlertToasts() {
  const { toasts, show, dismiss } = useToasts();
  useLiveTopic("alerts", (data) => {
    if (!isAlert(data)) return;
    if (data.state === "resolved") {
      show("success", `Resolved: ${ruleLabel(data.rule)} · ${data.subject}`);
    } else if (data.started_at === data.last_seen_at) {
      // Only a new alert: a refresh of an open one would repeat the same news.
      const kind = data.severity === "critical" ? "error" : "warning";
      show(kind, `${data.severity.toUpperCase()} · ${ruleLabel(data.rule)}: ${data.summary}`);
    }
  });
  return <ToastStack toasts={toasts} onDismiss={dismiss} testId="alert-toasts" />;
}
