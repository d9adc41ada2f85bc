// Domain types read off the generated OpenAPI paths rather than component
// names, so renaming a backend model does not break the app. The lists of
// enum values are generated from the schema's named enums.
import {
  alertRuleValues,
  outcomeValues,
  pairStateValues,
  roleValues,
  scopeValues,
  sendStatusValues,
  sessionActionValues,
  sessionStateValues,
  severityValues,
  type paths,
} from "./schema";

type JsonBody<R> = R extends { content: { "application/json": infer T } } ? T : never;
type RequestJson<Op> = Op extends { requestBody?: infer B }
  ? JsonBody<NonNullable<B>>
  : never;

export type TokenPair = JsonBody<paths["/api/v1/auth/login"]["post"]["responses"][200]>;
export type CurrentUser = JsonBody<paths["/api/v1/auth/me"]["get"]["responses"][200]>;
export type Role = CurrentUser["role"];
/** Least to most allowed: viewer, operator, admin. */
export const ROLES: readonly Role[] = roleValues;

export type UserPublic = JsonBody<paths["/api/v1/users/{username}"]["get"]["responses"][200]>;
export type UserCreate = RequestJson<paths["/api/v1/users"]["post"]>;
export type UserUpdate = RequestJson<paths["/api/v1/users/{username}"]["patch"]>;

export type Country = JsonBody<paths["/api/v1/countries"]["get"]["responses"][200]>[number];
export type Program = JsonBody<paths["/api/v1/programs"]["get"]["responses"][200]>[number];

export type Pair = JsonBody<paths["/api/v1/pairs/{key}"]["get"]["responses"][200]>;
export type PairState = Pair["state"];
export type PairCreate = RequestJson<paths["/api/v1/pairs"]["post"]>;
export type PairUpdate = RequestJson<paths["/api/v1/pairs/{key}"]["patch"]>;
export type PairQuery = NonNullable<paths["/api/v1/pairs"]["get"]["parameters"]["query"]>;

export const PAIR_STATES: readonly PairState[] = pairStateValues;

type SessionResponse = JsonBody<paths["/api/v1/sessions/{name}"]["get"]["responses"][200]>;
export type Session = SessionResponse;
export type SessionState = Session["state"];
export type DesiredState = Session["desired"];
export type SessionQuery = NonNullable<paths["/api/v1/sessions"]["get"]["parameters"]["query"]>;
export type SessionActionResult = JsonBody<paths["/api/v1/sessions/{name}/start"]["post"]["responses"][200]>;
export type BulkActionRequest = RequestJson<paths["/api/v1/sessions/actions"]["post"]>;
export type SessionAction = BulkActionRequest["action"];
export type SessionEvent = JsonBody<paths["/api/v1/sessions/{name}/events"]["get"]["responses"][200]>[number];
export type Host = JsonBody<paths["/api/v1/hosts"]["get"]["responses"][200]>[number];
export type SessionLogs = JsonBody<paths["/api/v1/sessions/{name}/logs"]["get"]["responses"][200]>;

export const SESSION_STATES: readonly SessionState[] = sessionStateValues;
export const SESSION_ACTIONS: readonly SessionAction[] = sessionActionValues;

type SummaryParams = NonNullable<paths["/api/v1/metrics/summary"]["get"]["parameters"]["query"]>;
type TimeseriesParams = NonNullable<paths["/api/v1/metrics/timeseries"]["get"]["parameters"]["query"]>;
export type MetricsWindow = NonNullable<SummaryParams["window"]>;
export type MetricsGroupBy = NonNullable<SummaryParams["group_by"]>;
export type MetricsStep = NonNullable<TimeseriesParams["step"]>;
export type MetricsSummary = JsonBody<paths["/api/v1/metrics/summary"]["get"]["responses"][200]>;
export type MetricsGroup = MetricsSummary["groups"][number];
export type MetricsTotals = MetricsSummary["totals"];
export type MetricsTimeseries = JsonBody<paths["/api/v1/metrics/timeseries"]["get"]["responses"][200]>;
export type MetricsSeries = MetricsTimeseries["series"][number];
export type MetricsPoint = MetricsSeries["points"][number];
export type AttemptOutcome = (typeof outcomeValues)[number];
export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = outcomeValues;
export type MetricsHeatmap = JsonBody<paths["/api/v1/metrics/heatmap"]["get"]["responses"][200]>;
export type CountryGoal = JsonBody<paths["/api/v1/dispatch/goals"]["get"]["responses"][200]>[number];
export type CapChange = JsonBody<paths["/api/v1/countries/cap-changes"]["get"]["responses"][200]>[number];

export type Alert = JsonBody<paths["/api/v1/alerts/{alert_id}"]["get"]["responses"][200]>;
export type AlertQuery = NonNullable<paths["/api/v1/alerts"]["get"]["parameters"]["query"]>;
export type AlertSeverity = Alert["severity"];
export type AlertRule = Alert["rule"];
export type AlertsOverview = JsonBody<paths["/api/v1/alerts/overview"]["get"]["responses"][200]>;
export type PolicyDecision = JsonBody<paths["/api/v1/policy/decisions"]["get"]["responses"][200]>[number];
export type PairStanding = JsonBody<paths["/api/v1/policy/standing"]["get"]["responses"][200]>[number];

/** The most severe first; a new severity in the schema fails to compile until it is ranked. */
export const SEVERITY_RANK: Readonly<Record<AlertSeverity, number>> = { critical: 0, warning: 1, info: 2 };
export const ALERT_SEVERITIES: readonly AlertSeverity[] = [...severityValues].sort(
  (a, b) => SEVERITY_RANK[a] - SEVERITY_RANK[b],
);
export const ALERT_RULES: readonly AlertRule[] = alertRuleValues;

export type ApiKey = JsonBody<paths["/api/v1/auth/api-keys/{key_id}"]["get"]["responses"][200]>;
export type ApiKeyCreate = RequestJson<paths["/api/v1/auth/api-keys"]["post"]>;
export type ApiKeyCreated = JsonBody<paths["/api/v1/auth/api-keys"]["post"]["responses"][201]>;
export type ApiKeyScope = ApiKey["scopes"][number];
export const API_KEY_SCOPES: readonly ApiKeyScope[] = scopeValues;
export type UsageQuery = NonNullable<paths["/api/v1/analytics/usage"]["get"]["parameters"]["query"]>;
export type UsageSummary = JsonBody<paths["/api/v1/analytics/usage"]["get"]["responses"][200]>;
export type UsageDay = JsonBody<paths["/api/v1/analytics/usage/daily"]["get"]["responses"][200]>[number];
export type UsageEndpoint = JsonBody<paths["/api/v1/analytics/usage/endpoints"]["get"]["responses"][200]>[number];
export type UsageKey = JsonBody<paths["/api/v1/analytics/usage/keys"]["get"]["responses"][200]>[number];

export type Send = JsonBody<paths["/api/v1/messages/sends/{send_id}"]["get"]["responses"][200]>;
export type SendStatus = Send["status"];
export type SendRequest = RequestJson<paths["/api/v1/messages/send"]["post"]>;
export type Template = JsonBody<paths["/api/v1/messages/templates/{template_id}"]["get"]["responses"][200]>;
export type Conversation = JsonBody<paths["/api/v1/messages/conversations/{phone}"]["get"]["responses"][200]>;
export type ThreadItem = Conversation["items"][number];

export const SEND_STATUSES: readonly SendStatus[] = sendStatusValues;

export type SearchJob = JsonBody<paths["/api/v1/search/jobs/{job_id}"]["get"]["responses"][200]>;
export type SearchJobPage = JsonBody<paths["/api/v1/search/jobs"]["get"]["responses"][200]>;
export type SearchJobSummary = SearchJobPage["items"][number];
export type SearchJobCreate = RequestJson<paths["/api/v1/search/jobs"]["post"]>;
export type BreakerState = JsonBody<paths["/api/v1/developer/breakers"]["get"]["responses"][200]>[number];
