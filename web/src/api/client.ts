import createClient, { type Middleware } from "openapi-fetch";
import { ApiError, isRefusal, networkError, toApiError } from "./errors";
import type { paths } from "./schema";
import { expireSession, getAccessToken, getRefreshToken, isRenewingSignIn, saveTokens, signInChecked } from "./tokens";
import type { TokenPair } from "./types";

// Paths that must never trigger a refresh: they are how a session starts.
const AUTH_PATHS = new Set(["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"]);

// A retry needs the request body, which fetch consumes: keep a copy per request id, with
// the access token it was sent with.
const pendingRetries = new Map<string, { request: Request; token: string | null }>();

/**
 * A refresh's outcome: the access token to go on with, or null, and whether the session is
 * over (the control plane refused the refresh token) or only this try (no answer: offline,
 * or the control plane busy). A refresh that got no answer may still have replaced the
 * refresh token on the server; the one kept refreshes again for a few seconds after (the
 * refresh grace), so it is kept rather than the session ended.
 */
interface Refreshed {
  token: string | null;
  refused: boolean;
}

// Several requests can fail with 401 at once; they share one refresh call.
let refreshing: Promise<Refreshed> | null = null;

async function refreshAccessToken(): Promise<Refreshed> {
  // A copy of another tab's tokens must not use their refresh token: its check drops them.
  await signInChecked();
  const refreshToken = getRefreshToken();
  if (!refreshToken) return { token: null, refused: true };
  try {
    const response = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    // A sign-in while the refresh was on its way holds newer tokens than either answer.
    if (getRefreshToken() !== refreshToken) return { token: getAccessToken(), refused: false };
    if (!response.ok) return { token: null, refused: isRefusal(response.status) };
    const tokens = (await response.json()) as TokenPair;
    saveTokens(tokens);
    return { token: tokens.access_token, refused: false };
  } catch {
    return { token: null, refused: false };
  }
}

function sharedRefresh(): Promise<Refreshed> {
  refreshing ??= refreshAccessToken().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/**
 * The access token to send again after `refused` was turned away: the one a sign-in saved
 * since the request left (a new password signs in again while the old tokens' requests are
 * still out), else a refreshed one; null when there is none, the session being over or not.
 */
async function tokenAfterRefusal(refused: string | null): Promise<Refreshed> {
  const current = getAccessToken();
  if (current !== null && current !== refused) return { token: current, refused: false };
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

    const { token, refused } = await tokenAfterRefusal(sent.token);
    if (!token) {
      // Unanswered, the request fails on its own, and the next one refreshes again.
      if (refused && !isRenewingSignIn()) expireSession();
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
