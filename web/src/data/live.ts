// Queries kept current by the live connection: its messages say when data
// changed, so the queries need no polling while it is up.
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";
import { useLiveTopic, useOnReconnect } from "../live/LiveContext";

/**
 * Reloads the queries under `queryKey` after messages of `topic`: the first
 * message schedules one reload `delayMs` later, and the messages meanwhile ride
 * along with it. Reloads too after the live connection comes back (messages
 * may have been missed meanwhile).
 */
export function useLiveUpdates(topic: string, queryKey: QueryKey, delayMs: number): void {
  const queryClient = useQueryClient();
  const timer = useRef<number | undefined>(undefined);
  // Callers may build the key anew each render: its content is what matters.
  const keyText = JSON.stringify(queryKey);

  const reload = useCallback(() => {
    timer.current = undefined;
    void queryClient.invalidateQueries({ queryKey: JSON.parse(keyText) as QueryKey });
  }, [queryClient, keyText]);

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
  useOnReconnect(reloadSoon);
}
