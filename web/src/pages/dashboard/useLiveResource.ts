import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useConnection } from "../../components/connection";
import { useLiveTopic, useOnReconnect } from "../../live/LiveContext";

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

export interface LiveResourceOptions<T> {
  /** The topic whose messages make the data stale. */
  topic: string;
  /** The first message schedules one reload this much later; the messages meanwhile ride along with it. */
  delayMs: number;
  /**
   * While live, reload only when nothing was loaded for this long: windows
   * move on with time even when no message comes. Never a steady poll.
   */
  everyMs: number;
  /** Reload this often while the live connection is down. */
  pollMs?: number;
  /**
   * Applies a message to the data on screen at once; the reload that follows
   * after `delayMs` confirms it. Returns undefined when the message cannot be
   * applied, and the data is reloaded instead.
   */
  apply?: (data: T, message: unknown) => T | undefined;
}

/** Answers that miss messages applied meanwhile are dropped at most this many times in a row. */
const MAX_DROPPED = 3;

/**
 * Data loaded whenever `key` changes and kept current by the messages of
 * `topic` while the live connection is up: there is no steady polling then.
 * Bursts of messages are coalesced: at most one request is in flight, and one
 * more follows it when messages came in meanwhile. Results of superseded keys
 * are dropped. While the connection is down the data is polled every `pollMs`.
 */
export function useLiveResource<T>(load: () => Promise<T>, key: string, options: LiveResourceOptions<T>): LiveResource<T> {
  const { topic, delayMs, everyMs, pollMs = 5000, apply } = options;
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>(null);
  const [loadedKey, setLoadedKey] = useState<string | null>(null);
  const [refreshing, setRefreshing] = useState(false);
  const loadRef = useRef(load);
  const keyRef = useRef(key);
  // Before the effects below run: they load for the current key.
  useLayoutEffect(() => {
    loadRef.current = load;
    keyRef.current = key;
  });
  const dataRef = useRef<{ key: string; value: T } | null>(null);
  const inFlight = useRef(false);
  const again = useRef(false);
  /** Messages applied on screen while the request in flight was out: its answer may lack them. */
  const appliedDuringFlight = useRef(false);
  const dropped = useRef(0);
  const lastLoad = useRef(0);
  const timer = useRef<number | undefined>(undefined);
  const connection = useConnection();

  const run = useCallback(function run() {
    window.clearTimeout(timer.current);
    timer.current = undefined;
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    again.current = false;
    appliedDuringFlight.current = false;
    lastLoad.current = Date.now();
    setRefreshing(true);
    const requestedKey = keyRef.current;
    loadRef
      .current()
      .then(
        (value) => {
          if (requestedKey !== keyRef.current) return;
          if (appliedDuringFlight.current && dropped.current < MAX_DROPPED) {
            // The answer may predate what the messages already put on screen: ask again.
            dropped.current += 1;
            again.current = true;
            return;
          }
          dropped.current = 0;
          dataRef.current = { key: requestedKey, value };
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
    dataRef.current = null;
    dropped.current = 0;
    run();
    return () => {
      window.clearTimeout(timer.current);
      timer.current = undefined;
    };
  }, [key, run]);

  const onMessage = useCallback(
    (message: unknown) => {
      const current = dataRef.current;
      if (apply && current && current.key === keyRef.current) {
        const next = apply(current.value, message);
        if (next !== undefined) {
          dataRef.current = { key: current.key, value: next };
          setData(next);
          if (inFlight.current) appliedDuringFlight.current = true;
        }
      }
      reload(true);
    },
    [reload, apply],
  );
  useLiveTopic(topic, onMessage);
  const onReconnect = useCallback(() => reload(true), [reload]);
  useOnReconnect(onReconnect);

  const live = connection === "live";
  const previous = useRef(live);
  useEffect(() => {
    // Back from offline: what was missed meanwhile is loaded now.
    if (live && !previous.current) run();
    previous.current = live;
  }, [live, run]);

  useEffect(() => {
    if (!live) {
      const handle = window.setInterval(run, Math.min(everyMs, pollMs));
      return () => window.clearInterval(handle);
    }
    // Live: messages keep the data current; reload only what went quiet for `everyMs`.
    const handle = window.setInterval(() => {
      if (Date.now() - lastLoad.current >= everyMs) run();
    }, Math.max(1000, everyMs / 4));
    return () => window.clearInterval(handle);
  }, [live, everyMs, pollMs, run]);

  return { data, error, loading: loadedKey !== key, refreshing, reload };
}
