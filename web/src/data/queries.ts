// The data the pages read, as query options: one cache key per resource, so
// pages that show the same data share it, and live messages reload it by key.
import { infiniteQueryOptions, queryOptions } from "@tanstack/react-query";
import { listAudit, type AuditQuery } from "../api/audit";
import {
  alertsOverview,
  conversationOf,
  getSearchJob,
  listAlerts,
  listApiKeys,
  listBreakers,
  listSearchJobs,
  usageDaily,
  usageEndpoints,
  usageKeys,
  usageSummary,
  listCapChanges,
  listCountries,
  listHosts,
  listPairs,
  listPrograms,
  getPolicySettings,
  listPolicyDecisions,
  listPolicyStanding,
  listSends,
  listTemplates,
  listUsers,
} from "../api/endpoints";
import { ApiError } from "../api/errors";
import { countryGoals, metricsHeatmap, metricsSummary, metricsTimeseries, type SummaryQuery, type TimeseriesQuery } from "../api/metrics";
import type {
  AlertQuery,
  Conversation,
  Country,
  Host,
  MetricsWindow,
  Program,
  SendStatus,
  UsageDay,
  UsageEndpoint,
  UsageKey,
  UsageQuery,
  UsageSummary,
} from "../api/types";

/** Every alert query: alerts fire, resolve and are acknowledged together. */
export const ALERTS_KEY = ["alerts"] as const;
export const POLICY_DECISIONS_KEY = ["policy", "decisions"] as const;

export const alertListQuery = (query: AlertQuery) =>
  queryOptions({ queryKey: [...ALERTS_KEY, "list", query], queryFn: () => listAlerts(query) });

export const alertsOverviewQuery = () =>
  queryOptions({ queryKey: [...ALERTS_KEY, "overview"], queryFn: alertsOverview });

/** The policy's newest decisions, of one country when given. */
export const policyDecisionsQuery = (limit: number, country?: string) =>
  queryOptions({
    queryKey: [...POLICY_DECISIONS_KEY, limit, country ?? ""],
    queryFn: () => listPolicyDecisions(limit, country),
  });

/** Where each pair stands with the policy: its figures and what the next look does, or why not. */
export const POLICY_STANDING_KEY = ["policy", "standing"] as const;
export const policyStandingQuery = () =>
  queryOptions({ queryKey: POLICY_STANDING_KEY, queryFn: listPolicyStanding });

// The global thresholds a pair without its own goes by: they change only with a restart.
export const policySettingsQuery = () =>
  queryOptions({ queryKey: ["policy", "settings"], queryFn: getPolicySettings, staleTime: Infinity });

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
        if (error instanceof ApiError && error.status === 404) return { phone, items: [], older: null, redacted: false };
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

export const USERS_KEY = ["users"] as const;

export const usersQuery = () => queryOptions({ queryKey: USERS_KEY, queryFn: listUsers });

/** The audit log, newest page first: each next page is the one older than the last. */
export const AUDIT_KEY = ["audit"] as const;
const AUDIT_PAGE_SIZE = 50;

export const auditQuery = (query: AuditQuery) =>
  infiniteQueryOptions({
    queryKey: [...AUDIT_KEY, query],
    queryFn: ({ pageParam }) =>
      listAudit({ ...query, limit: AUDIT_PAGE_SIZE, ...(pageParam === undefined ? {} : { before: pageParam }) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.nextBefore ?? undefined,
  });

export const API_KEYS_KEY = ["api-keys"] as const;

export const apiKeysQuery = () => queryOptions({ queryKey: API_KEYS_KEY, queryFn: listApiKeys });

/** A range's API usage: the figures, each day, the busiest endpoints and each key. */
export interface Usage {
  summary: UsageSummary;
  days: UsageDay[];
  endpoints: UsageEndpoint[];
  keys: UsageKey[];
}

export const USAGE_KEY = ["usage"] as const;

export const usageQuery = (query: UsageQuery) =>
  queryOptions({
    queryKey: [...USAGE_KEY, query],
    queryFn: async (): Promise<Usage> => {
      const [summary, days, endpoints, keys] = await Promise.all([
        usageSummary(query),
        usageDaily(query),
        usageEndpoints(query),
        usageKeys(query),
      ]);
      return { summary, days, endpoints, keys };
    },
  });

/** The search jobs and the breakers of the search backends, which they trip. */
export const SEARCH_KEY = ["search"] as const;

export const searchJobsQuery = (offset: number, limit: number) =>
  queryOptions({ queryKey: [...SEARCH_KEY, "jobs", offset, limit], queryFn: () => listSearchJobs(offset, limit) });

export const searchJobQuery = (jobId: string) =>
  queryOptions({ queryKey: [...SEARCH_KEY, "job", jobId], queryFn: () => getSearchJob(jobId) });

export const breakersQuery = () => queryOptions({ queryKey: [...SEARCH_KEY, "breakers"], queryFn: listBreakers });

/** The attempts' figures: completed attempts change them all. */
export const METRICS_KEY = ["metrics"] as const;

export const metricsSummaryQuery = (query: SummaryQuery) =>
  queryOptions({ queryKey: [...METRICS_KEY, "summary", query], queryFn: () => metricsSummary(query) });

export const metricsTimeseriesQuery = (query: TimeseriesQuery) =>
  queryOptions({ queryKey: [...METRICS_KEY, "timeseries", query], queryFn: () => metricsTimeseries(query) });

export const metricsHeatmapQuery = (window: MetricsWindow) =>
  queryOptions({ queryKey: [...METRICS_KEY, "heatmap", window], queryFn: () => metricsHeatmap(window) });

export const countryGoalsQuery = () => queryOptions({ queryKey: ["goals"], queryFn: countryGoals });

/** The cap changes since `since`; `capsNow` (each country's cap as the goals last said it)
 * is in the key, so that a change made since the last read is read at once. */
export const capChangesQuery = (since: string, capsNow: string) =>
  queryOptions({ queryKey: ["cap-changes", since, capsNow], queryFn: () => listCapChanges(since) });
