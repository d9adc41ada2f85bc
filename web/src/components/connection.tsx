import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useEffectEvent,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import { ApiError } from "../api/errors";
import { useLiveRefusal, useLiveStatus } from "../live/LiveContext";
import { REFUSED_DELAY_MS, refusedAdvice } from "../live/socket";

/**
 * What the shell shows of the connection: the live socket and the network together;
 * "refused" while the server turns the live socket away (too many open).
 */
export type Connection = "connecting" | "live" | "offline" | "refused";

function subscribeOnline(notify: () => void): () => void {
  window.addEventListener("online", notify);
  window.addEventListener("offline", notify);
  return () => {
    window.removeEventListener("online", notify);
    window.removeEventListener("offline", notify);
  };
}

/** False while the browser knows it has no network. */
export function useBrowserOnline(): boolean {
  return useSyncExternalStore(subscribeOnline, () => navigator.onLine);
}

/**
 * Live only while the socket is signed in and the browser is online; offline
 * once the socket dropped or the network is gone (a socket can outlive the
 * network for a while without noticing).
 */
export function useConnection(): Connection {
  const status = useLiveStatus();
  const online = useBrowserOnline();
  if (!online || status === "reconnecting") return "offline";
  if (status === "refused") return "refused";
  return status === "connected" ? "live" : "connecting";
}

/** Whether an error only says the control plane could not be reached. */
export function isNetworkError(error: unknown): boolean {
  return error instanceof ApiError && error.code === "network_error";
}

interface Unreachable {
  /** Registers a failed request's retry; returns its removal. */
  report: (retry: (() => void) | undefined) => () => void;
}

const UnreachableContext = createContext<Unreachable | null>(null);

/** Inside the shell, network errors of pages show as the shell's one connection banner. */
export function useUnreachable(): Unreachable | null {
  return useContext(UnreachableContext);
}

/** Collects the pages' network errors and shows one banner for all of them and for a lost connection. */
export function ConnectionProvider({ children }: { children: ReactNode }) {
  const retries = useRef(new Map<number, (() => void) | undefined>());
  const next = useRef(1);
  const [failing, setFailing] = useState(0);
  const report = useCallback((retry: (() => void) | undefined) => {
    const id = next.current++;
    retries.current.set(id, retry);
    setFailing(retries.current.size);
    return () => {
      retries.current.delete(id);
      setFailing(retries.current.size);
    };
  }, []);
  const value = useMemo(() => ({ report }), [report]);
  const connection = useConnection();
  const refusal = useLiveRefusal();
  const retryAll = useCallback(() => {
    for (const retry of retries.current.values()) retry?.();
  }, []);
  return (
    <UnreachableContext.Provider value={value}>
      {(connection === "offline" || failing > 0) && (
        <div className="banner banner--error connection-banner" role="alert" data-testid="connection-banner">
          <span>
            {connection === "offline"
              ? "Offline: cannot reach the control plane. Figures on screen may be out of date; they refresh once it is back."
              : "Cannot reach the control plane. Figures on screen may be out of date."}
          </span>
          {failing > 0 && (
            <button type="button" className="button button--small" onClick={retryAll} data-testid="connection-retry">
              Retry now
            </button>
          )}
        </div>
      )}
      {connection === "refused" && (
        <div className="banner banner--warning connection-banner" role="status" data-testid="live-refused-banner">
          <span>
            Live updates are paused: the control plane refused this tab&apos;s live connection ({refusal ?? "too many are open"}).
            {refusedAdvice(refusal)} This tab tries again within {REFUSED_DELAY_MS / 1000} s and meanwhile refreshes its
            figures now and then.
          </span>
        </div>
      )}
      {children}
    </UnreachableContext.Provider>
  );
}

/** Reports a network error to the shell's banner while it lasts. */
export function useReportUnreachable(error: unknown, retry: (() => void) | undefined): boolean {
  const unreachable = useUnreachable();
  const network = unreachable !== null && isNetworkError(error);
  const retryNow = useEffectEvent(() => retry?.());
  useEffect(() => {
    if (!unreachable || !network) return undefined;
    return unreachable.report(() => retryNow());
  }, [network, unreachable]);
  return network;
}
