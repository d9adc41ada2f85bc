import createClient, { type Middleware } from "openapi-fetch";
import { ApiError, networkError, toApiError } from "./errors";
import type { paths } from "./schema";
import { expireSession, getAccessToken, getRefreshToken, isRenewingSignIn, saveTokens, signInChecked } from "./tokens";
import type { TokenPair } from "./types";

// Paths that must never trigger a refresh: they are how a session starts.
const AUTH_PATHS = new Set(["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"]);

// A retry needs the request body, which fetch consumes: keep a copy per request id, with
// the access token it was sent with.
const pendingRetries = new Map<string, { request: Request; token: string | null }>();

// Several requests can fail with 401 at once; they share one refresh call.
let refreshing: Promise<string | null> | null = null;

async function refreshAccessToken(): Promise<string | null> {
  // A copy of another tab's tokens must not use their refresh token: its check drops them.
  await signInChecked();
  const refreshToken = getRefreshToken();
  if (!refreshToken) return null;
  try {
    const response = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    // A sign-in while the refresh was on its way holds newer tokens than either answer.
    if (getRefreshToken() !== refreshToken) return getAccessToken();
    if (!response.ok) return null;
    const tokens = (await response.json()) as TokenPair;
    saveTokens(tokens);
    return tokens.access_token;
  } catch {
    return null;
  }
}

function sharedRefresh(): Promise<string | null> {
  refreshing ??= refreshAccessToken().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/**
 * The access token to send again after `refused` was turned away: the one a sign-in saved
 * since the request left (a new password signs in again while the old tokens' requests are
 * still out), else a refreshed one; null when the session is over.
 */
async function tokenAfterRefusal(refused: string | null): Promise<string | null> {
  const current = getAccessToken();
  if (current !== null && current !== refused) return current;
  return sharedRefresh();
}

export const authMiddleware: Middleware = {
  onRequest({ request, schemaPath, id }) {
    if (AUTH_PATHS.has(schemaPath)) return undefined;
    const token = getAccessToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    pendingRetries.set(id, { request: request.clone(), token });
    return request;
  },
  async onResponse({ response, schemaPath, id }) {
    const sent = pendingRetries.get(id);
    pendingRetries.delete(id);
    if (response.status !== 401 || AUTH_PATHS.has(schemaPath) || !sent) return undefined;

    const token = await tokenAfterRefusal(sent.token);
    if (!token) {
      if (!isRenewingSignIn()) expireSession();
      return undefined;
    }
    sent.request.headers.set("Authorization", `Bearer ${token}`);
    const retried = await fetch(sent.request);
    // Only the tokens that were refused end the session, not newer ones saved meanwhile.
    if (retried.status === 401 && getAccessToken() === token && !isRenewingSignIn()) expireSession();
    return retried;
  },
  onError({ id }) {
    pendingRetries.delete(id);
    return undefined;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(authMiddleware);

interface ClientResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * Awaits an openapi-fetch call and returns its data, or throws an ApiError.
 * Checks `response.ok` rather than `error`, since empty error bodies leave
 * `error` undefined.
 */
export async function call<T>(request: Promise<ClientResult<T>>): Promise<T> {
  let result: ClientResult<T>;
  try {
    result = await request;
  } catch (cause) {
    throw cause instanceof ApiError ? cause : networkError(cause);
  }
  if (!result.response.ok) throw toApiError(result.response, result.error);
  return result.data as T;
}
