// The data the pages read, as query options: one cache key per resource, so
// pages that show the same data share it, and live messages reload it by key.
import { infiniteQueryOptions, queryOptions } from "@tanstack/react-query";
import {
  alertsOverview,
  conversationOf,
  listAlerts,
  listCountries,
  listHosts,
  listPairs,
  listPrograms,
  listPolicyDecisions,
  listSends,
  listTemplates,
} from "../api/endpoints";
import { ApiError } from "../api/errors";
import type { AlertQuery, Conversation, Country, Host, Program, SendStatus } from "../api/types";

/** Every alert query: alerts fire, resolve and are acknowledged together. */
export const ALERTS_KEY = ["alerts"] as const;
export const POLICY_DECISIONS_KEY = ["policy", "decisions"] as const;

export const alertListQuery = (query: AlertQuery) =>
  queryOptions({ queryKey: [...ALERTS_KEY, "list", query], queryFn: () => listAlerts(query) });

export const alertsOverviewQuery = () =>
  queryOptions({ queryKey: [...ALERTS_KEY, "overview"], queryFn: alertsOverview });

export const policyDecisionsQuery = (limit: number) =>
  queryOptions({ queryKey: [...POLICY_DECISIONS_KEY, limit], queryFn: () => listPolicyDecisions(limit) });

export const SENDS_KEY = ["sends"] as const;

export const sendListQuery = (status: SendStatus | "") =>
  queryOptions({ queryKey: [...SENDS_KEY, status], queryFn: () => listSends(status || undefined) });

export const templatesQuery = () => queryOptions({ queryKey: ["templates"], queryFn: listTemplates });

/** A number's thread, newest page first; a number never seen has an empty one. */
export const conversationQuery = (phone: string) =>
  infiniteQueryOptions({
    queryKey: ["conversation", phone],
    queryFn: async ({ pageParam }): Promise<Conversation> => {
      try {
        return await conversationOf(phone, pageParam);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return { phone, items: [], older: null };
        throw error;
      }
    },
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.older ?? undefined,
  });

/** Every pair: the Pairs page, the dashboard and the Programs page read the same list. */
export const PAIRS_KEY = ["pairs"] as const;

export const pairsQuery = () => queryOptions({ queryKey: PAIRS_KEY, queryFn: () => listPairs({}) });

export const HOSTS_KEY = ["hosts"] as const;

export const hostsQuery = () => queryOptions({ queryKey: HOSTS_KEY, queryFn: listHosts });

export interface PairLookups {
  /** By name. */
  countries: Country[];
  programs: Program[];
  hosts: Host[];
}

/** What the pair form chooses from. */
export const pairLookupsQuery = () =>
  queryOptions({
    queryKey: ["pair-lookups"],
    queryFn: async (): Promise<PairLookups> => {
      const [countries, programs, hosts] = await Promise.all([listCountries(), listPrograms(), listHosts()]);
      return { countries: [...countries].sort((a, b) => a.name.localeCompare(b.name)), programs, hosts };
    },
  });
