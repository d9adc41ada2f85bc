import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import { createPortal } from "react-dom";

export interface Toast {
  id: number;
  kind: "success" | "warning" | "error";
  text: string;
  /** How many times the same message came; shown as "×3". */
  count: number;
  /** Bumped on every repeat: the toast's lifetime starts again. */
  seen: number;
}

const LIFETIME_MS = 6000;
/** Kept per stack; older ones make room. */
export const KEPT = 5;
/** Shown per stack; the rest is summed up in one line. */
const VISIBLE = 3;
const RegionContext = createContext<HTMLElement | null>(null);

/** The shell's one place for every stack of toasts, out of the way of tables. */
export function ToastRegion({ children }: { children: ReactNode }) {
  const [region, setRegion] = useState<HTMLElement | null>(null);
  return (
    <RegionContext.Provider value={region}>
      {children}
      <div className="toast-region" ref={setRegion} data-testid="toast-region" />
    </RegionContext.Provider>
  );
}

/**
 * `list` after one more message: a repeat of a toast still there counts up and moves
 * last (newest); a new one goes last, the oldest making room past `KEPT`.
 * `seen` is the message's number, unique per call.
 */
export function withMessage(list: readonly Toast[], kind: Toast["kind"], text: string, seen: number): Toast[] {
  const same = list.find((toast) => toast.kind === kind && toast.text === text);
  if (same) {
    const repeated = { ...same, count: same.count + 1, seen };
    return [...list.filter((toast) => toast !== same), repeated];
  }
  return [...list.slice(-(KEPT - 1)), { id: seen, kind, text, count: 1, seen }];
}

/** Short-lived messages; errors stay until dismissed; the same message repeated is one toast with a count. */
export function useToasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((list) => list.filter((toast) => toast.id !== id)), []);
  const show = useCallback((kind: Toast["kind"], text: string) => {
    const seen = next.current++;
    setToasts((list) => withMessage(list, kind, text, seen));
  }, []);
  return { toasts, show, dismiss };
}

interface ToastStackProps {
  toasts: readonly Toast[];
  onDismiss: (id: number) => void;
  testId?: string;
}

export function ToastStack({ toasts, onDismiss, testId = "toasts" }: ToastStackProps) {
  const region = useContext(RegionContext);
  const hidden = toasts.length - VISIBLE;
  const shown = hidden > 0 ? toasts.slice(-VISIBLE) : toasts;
  const dismissHidden = () => {
    for (const toast of toasts.slice(0, hidden)) onDismiss(toast.id);
  };
  const stack = (
    <div className="toasts" aria-live="polite" data-testid={testId}>
      {hidden > 0 && (
        <div className="toast toast--more" data-testid="toast-more">
          <span>
            {hidden} earlier message{hidden === 1 ? "" : "s"}
          </span>
          <button type="button" className="icon-button" aria-label="Dismiss earlier messages" onClick={dismissHidden}>
            ×
          </button>
        </div>
      )}
      {shown.map((toast) => (
        <ToastItem key={toast.id} toast={toast} onDismiss={onDismiss} />
      ))}
    </div>
  );
  return region ? createPortal(stack, region) : stack;
}

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  useEffect(() => {
    if (toast.kind === "error") return undefined;
    const timer = window.setTimeout(() => onDismiss(toast.id), LIFETIME_MS);
    return () => window.clearTimeout(timer);
  }, [toast.id, toast.kind, toast.seen, onDismiss]);
  return (
    <div className={`toast toast--${toast.kind}`} role={toast.kind === "error" ? "alert" : "status"} data-testid="toast">
      <span>{toast.text}</span>
      {toast.count > 1 && (
        <span className="toast__count" data-testid="toast-count">
          ×{toast.count}
        </span>
      )}
      <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => onDismiss(toast.id)}>
        ×
      </button>
    </div>
  );
}
