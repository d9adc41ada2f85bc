// One small typed function per backend call the app makes.
import { api, call } from "./client";
import { getDeviceToken, saveDeviceToken } from "./tokens";
import {
  type AlertQuery,
  type ApiKeyCreate,
  type BulkActionRequest,
  type SearchJobCreate,
  type SendRequest,
  type SendStatus,
  type PairCreate,
  type PairQuery,
  type PairUpdate,
  type SessionAction,
  type SessionQuery,
  type UsageQuery,
  type UserCreate,
  type UserUpdate,
} from "./types";

/** Logs in with this browser's device token of `username`, if any, and keeps the new one. */
export async function login(username: string, password: string) {
  const deviceToken = getDeviceToken(username);
  const tokens = await call(
    api.POST("/api/v1/auth/login", {
      body: { username, password, ...(deviceToken ? { device_token: deviceToken } : {}) },
    }),
  );
  saveDeviceToken(username, tokens.device_token);
  return tokens;
}

export const logout = (refreshToken: string) =>
  call(api.POST("/api/v1/auth/logout", { body: { refresh_token: refreshToken } }));

export const fetchCurrentUser = () => call(api.GET("/api/v1/auth/me"));

export const listUsers = () => call(api.GET("/api/v1/users"));

export const createUser = (body: UserCreate) => call(api.POST("/api/v1/users", { body }));

export const updateUser = (username: string, body: UserUpdate) =>
  call(api.PATCH("/api/v1/users/{username}", { params: { path: { username } }, body }));

export const deleteUser = (username: string) =>
  call(api.DELETE("/api/v1/users/{username}", { params: { path: { username } } }));

/** Every token of `username` is refused from now: signed out everywhere. */
export const logoutUser = (username: string) =>
  call(api.POST("/api/v1/users/{username}/logout", { params: { path: { username } } }));

export const listCountries = () => call(api.GET("/api/v1/countries"));

/** The countries' cap changes made at or after `since`, oldest first. */
export const listCapChanges = (since: string) =>
  call(api.GET("/api/v1/countries/cap-changes", { params: { query: { since } } }));

export const listPrograms = () => call(api.GET("/api/v1/programs"));

export const listPairs = (query: PairQuery) => call(api.GET("/api/v1/pairs", { params: { query } }));

export const createPair = (body: PairCreate) => call(api.POST("/api/v1/pairs", { body }));

export const updatePair = (key: string, body: PairUpdate, force = false) =>
  call(
    api.PATCH("/api/v1/pairs/{key}", {
      params: { path: { key }, query: force ? { force } : {} },
      body,
    }),
  );

export const deletePair = (key: string, force = false) =>
  call(
    api.DELETE("/api/v1/pairs/{key}", {
      params: { path: { key }, query: force ? { force } : {} },
    }),
  );

export const listHosts = () => call(api.GET("/api/v1/hosts"));

export const listSessions = (query: SessionQuery = {}) =>
  call(api.GET("/api/v1/sessions", { params: { query } }));

export const getSession = (name: string) =>
  call(api.GET("/api/v1/sessions/{name}", { params: { path: { name } } }));

export interface ActionOptions {
  reason?: string | undefined;
  force?: boolean | undefined;
}

function actionBody({ reason, force }: ActionOptions) {
  return { ...(reason?.trim() ? { reason: reason.trim() } : {}), force: force ?? false };
}

export const sessionAction = (name: string, action: SessionAction, options: ActionOptions = {}) => {
  const init = { params: { path: { name } }, body: actionBody(options) };
  switch (action) {
    case "start":
      return call(api.POST("/api/v1/sessions/{name}/start", init));
    case "stop":
      return call(api.POST("/api/v1/sessions/{name}/stop", init));
    case "restart":
      return call(api.POST("/api/v1/sessions/{name}/restart", init));
  }
};

export const bulkSessionAction = (body: BulkActionRequest) =>
  call(api.POST("/api/v1/sessions/actions", { body }));

export const sessionLogs = (name: string, lines = 200) =>
  call(api.GET("/api/v1/sessions/{name}/logs", { params: { path: { name }, query: { lines } } }));

export const sessionEvents = (name: string, limit = 50) =>
  call(api.GET("/api/v1/sessions/{name}/events", { params: { path: { name }, query: { limit } } }));

export const listAlerts = (query: AlertQuery) => call(api.GET("/api/v1/alerts", { params: { query } }));

export const alertsOverview = () => call(api.GET("/api/v1/alerts/overview"));

export const acknowledgeAlert = (alertId: string) =>
  call(api.POST("/api/v1/alerts/{alert_id}/ack", { params: { path: { alert_id: alertId } } }));

export const sendTestMessage = (message: string) => call(api.POST("/api/v1/alerts/test", { body: { message } }));

export const listPolicyDecisions = (limit = 50, country?: string) =>
  call(api.GET("/api/v1/policy/decisions", { params: { query: { limit, ...(country ? { country } : {}) } } }));

export const listPolicyStanding = () => call(api.GET("/api/v1/policy/standing"));

export const getPolicySettings = () => call(api.GET("/api/v1/policy/settings"));

// Every key the page may show: an admin's listing holds everyone's, revoked ones too.
export const listApiKeys = () => call(api.GET("/api/v1/auth/api-keys", { params: { query: { limit: 1000 } } }));

export const createApiKey = (body: ApiKeyCreate) => call(api.POST("/api/v1/auth/api-keys", { body }));

export const revokeApiKey = (keyId: string) =>
  call(api.DELETE("/api/v1/auth/api-keys/{key_id}", { params: { path: { key_id: keyId } } }));

export const usageSummary = (query: UsageQuery) => call(api.GET("/api/v1/analytics/usage", { params: { query } }));

export const usageDaily = (query: UsageQuery) => call(api.GET("/api/v1/analytics/usage/daily", { params: { query } }));

export const usageEndpoints = (query: UsageQuery) =>
  call(api.GET("/api/v1/analytics/usage/endpoints", { params: { query } }));

export const usageKeys = (query: UsageQuery) => call(api.GET("/api/v1/analytics/usage/keys", { params: { query } }));

export const listSends = (status?: SendStatus) =>
  call(api.GET("/api/v1/messages/sends", { params: { query: status ? { status } : {} } }));

export const createSend = (body: SendRequest) => call(api.POST("/api/v1/messages/send", { body }));

export const cancelSend = (sendId: string) =>
  call(api.POST("/api/v1/messages/sends/{send_id}/cancel", { params: { path: { send_id: sendId } } }));

/** `again`: send it although an SMS of it reached the gateway (refused otherwise). */
export const retrySend = (sendId: string, again = false) =>
  call(api.POST("/api/v1/messages/sends/{send_id}/retry", { params: { path: { send_id: sendId } }, body: { again } }));

export const listTemplates = () => call(api.GET("/api/v1/messages/templates"));

export const conversationOf = (phone: string, before?: string) =>
  call(
    api.GET("/api/v1/messages/conversations/{phone}", {
      params: { path: { phone }, query: before ? { before } : {} },
    }),
  );

export const listSearchJobs = (offset: number, limit: number) =>
  call(api.GET("/api/v1/search/jobs", { params: { query: { offset, limit } } }));

export const getSearchJob = (jobId: string) =>
  call(api.GET("/api/v1/search/jobs/{job_id}", { params: { path: { job_id: jobId } } }));

export const createSearchJob = (body: SearchJobCreate) => call(api.POST("/api/v1/search/jobs", { body }));

export const cancelSearchJob = (jobId: string) =>
  call(api.POST("/api/v1/search/jobs/{job_id}/cancel", { params: { path: { job_id: jobId } } }));

export const retrySearchJob = (jobId: string) =>
  call(api.POST("/api/v1/search/jobs/{job_id}/retry", { params: { path: { job_id: jobId } } }));

export const listBreakers = () => call(api.GET("/api/v1/developer/breakers"));
