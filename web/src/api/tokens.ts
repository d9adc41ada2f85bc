// Tokens live in sessionStorage: they survive a reload but not the tab, and
// are never shared between tabs logged in as different users.
import type { TokenPair } from "./types";

const ACCESS_KEY = "smsfleet.access_token";
const REFRESH_KEY = "smsfleet.refresh_token";

export const SESSION_EXPIRED_EVENT = "smsfleet:session-expired";
/** This tab dropped its tokens: they were a copy of another open tab's. */
export const SIGN_IN_COPIED_EVENT = "smsfleet:sign-in-copied";

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

// Device tokens live in localStorage, one per user, and outlast signing out: a login that
// sends its user's is not locked out by others' failed logins from the same address.
const DEVICE_KEY = "smsfleet.device_token.";

/** The device token the last login of `username` in this browser was given, if any. */
export function getDeviceToken(username: string): string | null {
  return localStorage.getItem(DEVICE_KEY + username);
}

export function saveDeviceToken(username: string, token: string): void {
  localStorage.setItem(DEVICE_KEY + username, token);
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

// A tab duplicated from a signed-in one starts with a copy of its tokens (sessionStorage is
// copied with it), and a refresh token is good for one refresh: whichever of the two tabs
// refreshed second would end the login of both. So every tab answers for the login it holds,
// and a tab that hears another answer for its own login as it starts drops its copy. Only a
// refresh waits for that answer: the access token is the same login's, good in both tabs.
const SIGN_IN_CHANNEL = "smsfleet.sign-in";
// How long a starting tab listens for another that holds its login: long enough for a busy
// machine's other tab to answer (1 s was not, on two cores running twenty processes). Only
// a refresh waits for it; the tab shows its data with its access token meanwhile.
export const COPY_CHECK_MS = 3000;

interface LoginMessage {
  type: "whose" | "mine";
  login: string;
}

/** The login (`sid` claim) a token belongs to; null when it carries none. */
export function loginOf(token: string | null): string | null {
  const payload = token?.split(".")[1];
  if (!payload) return null;
  try {
    const claims: unknown = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const login = (claims as { sid?: unknown }).sid;
    return typeof login === "string" ? login : null;
  } catch {
    return null;
  }
}

let channel: BroadcastChannel | null = null;

function signInChannel(): BroadcastChannel | null {
  if (channel === null && typeof BroadcastChannel !== "undefined") {
    channel = new BroadcastChannel(SIGN_IN_CHANNEL);
    channel.addEventListener("message", (event: MessageEvent<LoginMessage>) => {
      const held = loginOf(getRefreshToken());
      if (event.data.type === "whose" && held !== null && event.data.login === held) {
        channel?.postMessage({ type: "mine", login: held } satisfies LoginMessage);
      }
    });
  }
  return channel;
}

/** Whether another open tab holds this tab's login: this tab's tokens are then a copy. */
export function isCopiedSignIn(): Promise<boolean> {
  const login = loginOf(getRefreshToken());
  const tabs = signInChannel();
  if (login === null || tabs === null) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onMessage = (event: MessageEvent<LoginMessage>) => {
      if (event.data.type === "mine" && event.data.login === login) finish(true);
    };
    const finish = (copied: boolean) => {
      clearTimeout(timer);
      tabs.removeEventListener("message", onMessage);
      resolve(copied);
    };
    const timer = setTimeout(() => finish(false), COPY_CHECK_MS);
    tabs.addEventListener("message", onMessage);
    tabs.postMessage({ type: "whose", login } satisfies LoginMessage);
  });
}

/** Answers other tabs for this tab's login from now on (a tab that signs in). */
export function answerForSignIn(): void {
  signInChannel();
}

// This tab's check at start-up, which a refresh waits for.
let copyCheck: Promise<void> = Promise.resolve();

/**
 * Asks the other open tabs, in the background, whether one holds this tab's login. A copy
 * drops its tokens and tells the app, unless they changed meanwhile (a sign-in of its own).
 */
export function checkCopiedSignIn(): void {
  const checked = getRefreshToken();
  copyCheck = isCopiedSignIn().then((copied) => {
    if (copied && getRefreshToken() === checked) {
      clearTokens();
      window.dispatchEvent(new Event(SIGN_IN_COPIED_EVENT));
    }
  });
}

/** Settles once this tab's check is over: its tokens are then its own to refresh, or gone. */
export function signInChecked(): Promise<void> {
  return copyCheck;
}
