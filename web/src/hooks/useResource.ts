import { useCallback, useEffect, useEffectEvent, useState } from "react";

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  /** True while a request is in flight, including reloads that keep old data on screen. */
  loading: boolean;
  reload: () => void;
}

interface Settled<T> {
  request: string | null;
  data: T | undefined;
  error: unknown;
}

/**
 * Loads data whenever `key` changes. Results of superseded requests are
 * dropped, so a slow old response never overwrites a newer one.
 */
export function useResource<T>(load: () => Promise<T>, key: string): Resource<T> {
  const [settled, setSettled] = useState<Settled<T>>({ request: null, data: undefined, error: null });
  const [generation, setGeneration] = useState(0);
  const request = `${generation}:${key}`;
  const loadLatest = useEffectEvent(load);

  useEffect(() => {
    let current = true;
    loadLatest().then(
      (data) => {
        if (current) setSettled({ request, data, error: null });
      },
      (error: unknown) => {
        if (current) setSettled((previous) => ({ request, data: previous.data, error }));
      },
    );
    return () => {
      current = false;
    };
  }, [request]);

  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return { data: settled.data, error: settled.error, loading: settled.request !== request, reload };
}
