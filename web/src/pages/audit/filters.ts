// The Audit page's filters apart from React: read from and written to the URL's query
// string (so a filtered view can be bookmarked and shared), and sent as the API's query.
import type { AuditAction, AuditQuery } from "../../api/audit";
import { auditActionValues } from "../../api/schema";

export interface AuditFilters {
  action: AuditAction | "";
  targetKind: string;
  target: string;
  actor: string;
  /** A time in UTC as a `datetime-local` input gives it ("2026-12-06T14:05", or with seconds): entries at or after it. */
  since: string;
  /** Likewise: entries before it. */
  until: string;
}

export const AUDIT_ACTIONS: readonly AuditAction[] = auditActionValues;

export const NO_FILTERS: AuditFilters = { action: "", targetKind: "", target: "", actor: "", since: "", until: "" };

/** What an action changes, the part of its name before the dot: "pair", "user"… */
export const targetKindOf = (action: AuditAction): string => action.split(".")[0] ?? action;

/** Every kind of target the log names, in the order of the actions. */
export const AUDIT_TARGET_KINDS: readonly string[] = [...new Set(AUDIT_ACTIONS.map(targetKindOf))];

// The URL uses the API's names, so a filtered page's address reads like the call it makes.
const PARAM: Record<keyof AuditFilters, string> = {
  action: "action",
  targetKind: "target_kind",
  target: "target",
  actor: "actor",
  since: "since",
  until: "until",
};

// A minute (seconds allowed) with no zone: the API reads it as UTC, as the page shows times.
const MINUTE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

const minuteOf = (value: string | null): string => {
  const trimmed = (value ?? "").trim();
  return MINUTE.test(trimmed) ? trimmed : "";
};

const isAction = (value: string): value is AuditAction => (AUDIT_ACTIONS as readonly string[]).includes(value);

/** The filters a query string holds; an action, kind or time the log does not know is no filter. */
export function filtersFromParams(params: URLSearchParams): AuditFilters {
  const action = params.get(PARAM.action) ?? "";
  const targetKind = params.get(PARAM.targetKind) ?? "";
  return {
    action: isAction(action) ? action : "",
    targetKind: AUDIT_TARGET_KINDS.includes(targetKind) ? targetKind : "",
    target: (params.get(PARAM.target) ?? "").trim(),
    actor: (params.get(PARAM.actor) ?? "").trim(),
    since: minuteOf(params.get(PARAM.since)),
    until: minuteOf(params.get(PARAM.until)),
  };
}

/** The query string of `filters`: only those set, so an unfiltered page has none. */
export function paramsFromFilters(filters: AuditFilters): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of Object.keys(PARAM) as (keyof AuditFilters)[]) {
    const value = filters[key].trim();
    if (value !== "") params.set(PARAM[key], value);
  }
  return params;
}

/** The API's query for `filters`, without paging. */
export function auditQueryOf(filters: AuditFilters): AuditQuery {
  const query: AuditQuery = {};
  if (filters.action) query.action = filters.action;
  if (filters.targetKind) query.target_kind = filters.targetKind;
  if (filters.target.trim()) query.target = filters.target.trim();
  if (filters.actor.trim()) query.actor = filters.actor.trim();
  if (minuteOf(filters.since)) query.since = filters.since.trim();
  if (minuteOf(filters.until)) query.until = filters.until.trim();
  return query;
}

export const hasFilters = (filters: AuditFilters): boolean => paramsFromFilters(filters).size > 0;

/** To the second: "14:05" is "14:05:00". */
const toSecond = (minute: string): string => (minute.length === 16 ? `${minute}:00` : minute);

/** What is wrong with the filters' time range, in the form's words; null when nothing is
 * (the log is not asked for a range it would refuse). */
export function rangeProblem(filters: AuditFilters): string | null {
  const since = minuteOf(filters.since);
  const until = minuteOf(filters.until);
  if (!since || !until || toSecond(until) > toSecond(since)) return null;
  return "“Before” must be later than “From”: no entry is made at or after one time and before an earlier one.";
}
