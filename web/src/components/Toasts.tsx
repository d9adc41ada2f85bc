import { useCallback, useEffect, useRef, useState } from "react";

export interface Toast {
  id: number;
  kind: "success" | "warning" | "error";
  text: string;
}

const LIFETIME_MS = 6000;

/** Short-lived messages in a corner; errors stay until dismissed. */
export function useToasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((list) => list.filter((toast) => toast.id !== id)), []);
  const show = useCallback((kind: Toast["kind"], text: string) => {
    const id = next.current++;
    setToasts((list) => [...list.slice(-4), { id, kind, text }]);
  }, []);
  return { toasts, show, dismiss };
}

interface ToastStackProps {
  toasts: readonly Toast[];
  onDismiss: (id: number) => void;
  testId?: string;
  /** Where on screen: page toasts bottom left, alerts bottom right. */
  corner?: "bottom-left" | "bottom-right";
}

export function ToastStack({ toasts, onDismiss, testId = "toasts", corner = "bottom-left" }: ToastStackProps) {
  return (
    <div className={`toasts toasts--${corner}`} aria-live="polite" data-testid={testId}>
      {toasts.map((toast) => (
        <ToastItem key={toast.id} toast={toast} onDismiss={onDismiss} />
      ))}
    </div>
  );
}

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  useEffect(() => {
    if (toast.kind === "error") return undefined;
    const timer = window.setTimeout(() => onDismiss(toast.id), LIFETIME_MS);
    return () => window.clearTimeout(timer);
  }, [toast, onDismiss]);
  return (
    <div className={`toast toast--${toast.kind}`} role={toast.kind === "error" ? "alert" : "status"} data-testid="toast">
      <span>{toast.text}</span>
      <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => onDismiss(toast.id)}>
        ×
      </button>
    </div>
  );
}
