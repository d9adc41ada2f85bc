import { useCallback, useEffect, useRef, useState } from "react";
import { useLiveStatus, useLiveTopic, useOnReconnect } from "../../live/LiveContext";

export interface LiveResource<T> {
  data: T | undefined;
  error: unknown;
  /** True until the first answer for the current key (success or error). */
  loading: boolean;
  /** True while any request is in flight, including refreshes that keep data on screen. */
  refreshing: boolean;
  /** Reload now (a retry button), or after the coalescing delay when `soon`. */
  reload: (soon?: boolean) => void;
}

export interface LiveResourceOptions {
  /** The topic whose messages make the data stale. */
  topic: string;
  /** Messages within this delay are served by one request. */
  delayMs: number;
  /** Reload this often even without messages: windows move on with time. */
  everyMs: number;
  /** Reload this often while the live connection is down. */
  pollMs?: number;
}

/**
 * Data loaded whenever `key` changes and reloaded when a message of `topic`
 * arrives. Bursts of messages are coalesced: at most one request is
 * in flight, and one more follows it when messages came in meanwhile. Results
 * of superseded keys are dropped.
 */
export function useLiveResource<T>(load: () => Promise<T>, key: string, options: LiveResourceOptions): LiveResource<T> {
  const { topic, delayMs, everyMs, pollMs = 5000 } = options;
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>(null);
  const [loadedKey, setLoadedKey] = useState<string | null>(null);
  const [refreshing, setRefreshing] = useState(false);
  const loadRef = useRef(load);
  loadRef.current = load;
  const keyRef = useRef(key);
  keyRef.current = key;
  const inFlight = useRef(false);
  const again = useRef(false);
  const timer = useRef<number | undefined>(undefined);
  const status = useLiveStatus();

  const run = useCallback(() => {
    window.clearTimeout(timer.current);
    timer.current = undefined;
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    again.current = false;
    setRefreshing(true);
    const requestedKey = keyRef.current;
    loadRef
      .current()
      .then(
        (value) => {
          if (requestedKey !== keyRef.current) return;
          setData(value);
          setError(null);
          setLoadedKey(requestedKey);
        },
        (reason: unknown) => {
          if (requestedKey !== keyRef.current) return;
          setError(reason);
          setLoadedKey(requestedKey);
        },
      )
      .finally(() => {
        inFlight.current = false;
        setRefreshing(false);
        // The key changed or messages arrived while this request was out.
        if (again.current || requestedKey !== keyRef.current) run();
      });
  }, []);

  const reload = useCallback(
    (soon = false) => {
      if (!soon) {
        run();
        return;
      }
      if (timer.current === undefined) timer.current = window.setTimeout(run, delayMs);
    },
    [run, delayMs],
  );

  useEffect(() => {
    run();
    return () => {
      window.clearTimeout(timer.current);
      timer.current = undefined;
    };
  }, [key, run]);

  const onMessage = useCallback(() => reload(true), [reload]);
  useLiveTopic(topic, onMessage);
  useOnReconnect(onMessage);

  useEffect(() => {
    const interval = status === "connected" ? everyMs : Math.min(everyMs, pollMs);
    const handle = window.setInterval(run, interval);
    return () => window.clearInterval(handle);
  }, [status, everyMs, pollMs, run]);

  return { data, error, loading: loadedKey !== key, refreshing, reload };
}
