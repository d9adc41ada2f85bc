// Queries kept current by the live connection: its messages say when data
// changed, so the queries need no polling while it is up.
import { keepPreviousData, useQuery, useQueryClient, type QueryKey, type UseQueryOptions, type UseQueryResult } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";
import { useConnection } from "../components/connection";
import { useLiveTopic, useOnConnected } from "../live/LiveContext";
import { dropAnswerInFlight, newDropGuard, refetchEvery, type DropGuard } from "./liveRules";

/**
 * Reloads the queries under `queryKey` (only that one when `exact`) after messages of `topic`: the first
 * message schedules one reload `delayMs` later, and the messages meanwhile ride
 * along with it. Reloads too when the live connection is made (at first, and
 * after a drop: messages may have been missed meanwhile), and at once when the
 * network comes back.
 */
export function useLiveUpdates(topic: string, queryKey: QueryKey, delayMs: number, exact = false): void {
  const queryClient = useQueryClient();
  const timer = useRef<number | undefined>(undefined);
  // Callers may build the key anew each render: its content is what matters.
  const keyText = JSON.stringify(queryKey);

  const reload = useCallback(() => {
    timer.current = undefined;
    void queryClient.invalidateQueries({ queryKey: JSON.parse(keyText) as QueryKey, exact });
  }, [queryClient, keyText, exact]);

  const reloadSoon = useCallback(() => {
    timer.current ??= window.setTimeout(reload, delayMs);
  }, [reload, delayMs]);

  useEffect(
    () => () => {
      window.clearTimeout(timer.current);
      timer.current = undefined;
    },
    [keyText],
  );

  useLiveTopic(topic, reloadSoon);
  useOnConnected(reloadSoon);

  // Back from offline (the network, not only the socket): what failed or was missed meanwhile is loaded now.
  const offline = useConnection() === "offline";
  const wasOffline = useRef(offline);
  useEffect(() => {
    if (!offline && wasOffline.current) reload();
    wasOffline.current = offline;
  }, [offline, reload]);
}

/**
 * Applies each message of `topic` to the cached data of `queryKey` at once
 * (`apply` returns undefined when it cannot). An answer in flight then may
 * predate the message: it is dropped (see dropAnswerInFlight), and the reload
 * that follows the message (useLiveUpdates) brings both. The data keeps its
 * time of answer: it says when the server last spoke.
 */
export function useLiveApply<T>(topic: string, queryKey: QueryKey, apply: (data: T, message: unknown) => T | undefined): void {
  const queryClient = useQueryClient();
  const guard = useRef<DropGuard>(newDropGuard());
  useLiveTopic(topic, (message) => {
    const state = queryClient.getQueryState<T>(queryKey);
    if (state?.data === undefined) return;
    const next = apply(state.data, message);
    if (next === undefined) return;
    if (dropAnswerInFlight(guard.current, state.fetchStatus === "fetching", state.dataUpdatedAt)) {
      // Synchronous: the query goes back to its data before the request, to which the message is applied.
      void queryClient.cancelQueries({ queryKey, exact: true });
    }
    const current = queryClient.getQueryData<T>(queryKey);
    if (current === undefined) return;
    queryClient.setQueryData<T>(queryKey, current === state.data ? next : apply(current, message), {
      updatedAt: state.dataUpdatedAt,
    });
  });
}

/** The refetchInterval of a live query: see refetchEvery. */
export function useLiveRefetchInterval(pollMs: number, quietMs?: number): number | false {
  return refetchEvery(useConnection() === "live", pollMs, quietMs);
}

export interface LiveQuery<T> {
  /** The topic whose messages make the data stale. */
  topic: string;
  /** The first message schedules one reload this much later; the messages meanwhile ride along with it. */
  delayMs: number;
  /** While live, reload only when nothing came for this long (see refetchEvery). */
  quietMs: number;
  /** Polled this often while the live connection is down. */
  pollMs?: number;
  /** Applies a message to the data on screen at once (see useLiveApply). */
  apply?: (data: T, message: unknown) => T | undefined;
}

const applyNothing = () => undefined;

/**
 * A query kept current by the messages of a live topic: no polling while the
 * connection is up, polling while it is down. A new key keeps the old data on
 * screen (as placeholder) until its own arrives.
 */
export function useLiveQuery<T, TKey extends QueryKey>(
  query: UseQueryOptions<T, Error, T, TKey>,
  live: LiveQuery<T>,
): UseQueryResult<T> {
  const { topic, delayMs, quietMs, pollMs = 5000, apply = applyNothing } = live;
  useLiveApply(topic, query.queryKey, apply);
  useLiveUpdates(topic, query.queryKey, delayMs, true);
  return useQuery({
    ...query,
    placeholderData: keepPreviousData,
    refetchInterval: useLiveRefetchInterval(pollMs, quietMs),
  });
}
