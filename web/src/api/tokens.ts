// Tokens live in sessionStorage: they survive a reload but not the tab, and
// are never shared between tabs logged in as different users.
import type { TokenPair } from "./types";

const ACCESS_KEY = "smsfleet.access_token";
const REFRESH_KEY = "smsfleet.refresh_token";

export const SESSION_EXPIRED_EVENT = "smsfleet:session-expired";

export function getAccessToken(): string | null {
  return sessionStorage.getItem(ACCESS_KEY);
}

export function getRefreshToken(): string | null {
  return sessionStorage.getItem(REFRESH_KEY);
}

export function saveTokens(tokens: Pick<TokenPair, "access_token" | "refresh_token">): void {
  sessionStorage.setItem(ACCESS_KEY, tokens.access_token);
  sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
}

export function clearTokens(): void {
  sessionStorage.removeItem(ACCESS_KEY);
  sessionStorage.removeItem(REFRESH_KEY);
}

// Changes of this tab's own sign-in under way: a new password, which ends the old tokens on
// the server at once, then signing in with it.
let renewals = 0;

/**
 * Runs `change`, during which a request refused with the old tokens fails on its own rather
 * than ending the session the change is about to sign in again.
 */
export async function renewSignIn<T>(change: () => Promise<T>): Promise<T> {
  renewals += 1;
  try {
    return await change();
  } finally {
    renewals -= 1;
  }
}

export function isRenewingSignIn(): boolean {
  return renewals > 0;
}

/** Drops the tokens and tells the app to go back to the login page. */
export function expireSession(): void {
  clearTokens();
  window.dispatchEvent(new Event(SESSION_EXPIRED_EVENT));
}
