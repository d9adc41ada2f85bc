// The fleet's screen sessions, kept current by the `sessions` topic of the live connection.
import { queryOptions, useQuery, type QueryClient } from "@tanstack/react-query";
import { listSessions } from "../api/endpoints";
import type { Session } from "../api/types";
import { useLiveApply, useLiveRefetchInterval, useLiveUpdates } from "./live";
import { applySessionEvent, patchSessions } from "./sessionUpdates";

export const SESSIONS_KEY = ["sessions"] as const;

export const sessionsQuery = () => queryOptions({ queryKey: SESSIONS_KEY, queryFn: () => listSessions() });

/** Shows a change to a session right away, before the next reload confirms it. */
export function patchSession(queryClient: QueryClient, name: string, changes: Partial<Session>): void {
  const state = queryClient.getQueryState<Session[]>(SESSIONS_KEY);
  if (state?.data === undefined) return;
  // The time of answer stays: uptimes count on from it.
  queryClient.setQueryData<Session[]>(SESSIONS_KEY, patchSessions(state.data, name, changes), { updatedAt: state.dataUpdatedAt });
}

/** Reloaded this long after a burst of session messages. */
const DELAY_MS = 250;
/** Without the live connection the list is polled this often. */
const POLL_MS = 5000;

/**
 * The session list. `dataUpdatedAt` is when the server sent it: uptimes count
 * on from there.
 */
export function useSessions() {
  useLiveApply("sessions", SESSIONS_KEY, applySessionEvent);
  useLiveUpdates("sessions", SESSIONS_KEY, DELAY_MS);
  return useQuery({ ...sessionsQuery(), refetchInterval: useLiveRefetchInterval(POLL_MS) });
}

/** Reloads the session list (after an action). */
export const reloadSessions = (queryClient: QueryClient) => queryClient.invalidateQueries({ queryKey: SESSIONS_KEY });
