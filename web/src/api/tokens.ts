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
// How long a starting tab's refresh waits for another that holds its login to answer: long
// enough for a busy machine's other tab, most times (1 s was not, on two cores running twenty
// processes). The tab shows its data with its access token meanwhile, and a later answer
// still counts while it has not refreshed.
export const COPY_CHECK_MS = 3000;

interface LoginMessage {
  type: "whose" | "mine";
  login: string;
  /** The question a "mine" answers, so that only the tab that asked it takes the answer. */
  ask: string;
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
        channel?.postMessage({ type: "mine", login: held, ask: event.data.ask } satisfies LoginMessage);
      }
    });
  }
  return channel;
}

/** Answers other tabs for this tab's login from now on (a tab that signs in). */
export function answerForSignIn(): void {
  signInChannel();
}

// This tab's check at start-up, which a refresh waits for, and how to stop listening for its
// answer (a check asked again replaces it).
let copyCheck: Promise<void> = Promise.resolve();
let stopCheck: () => void = () => undefined;

/**
 * Asks the other open tabs, in the background, whether one holds this tab's login: this tab's
 * tokens are then a copy, which it drops, telling the app. The answer counts however late it
 * comes (a busy machine's other tab may take longer than a refresh waits), as long as the
 * tokens are still those asked about: not once this tab signed in or refreshed on its own.
 */
export function checkCopiedSignIn(): void {
  stopCheck();
  const checked = getRefreshToken();
  const login = loginOf(checked);
  const tabs = signInChannel();
  if (login === null || tabs === null) {
    copyCheck = Promise.resolve();
    return;
  }
  // Tells this question's answer apart from others' (no secret: randomUUID needs https).
  const ask = Math.random().toString(36).slice(2);
  copyCheck = new Promise((settle) => {
    const timer = setTimeout(settle, COPY_CHECK_MS);
    const onMessage = (event: MessageEvent<LoginMessage>) => {
      if (getRefreshToken() !== checked) {
        stopCheck();
      } else if (event.data.type === "mine" && event.data.ask === ask) {
        stopCheck();
        clearTokens();
        window.dispatchEvent(new Event(SIGN_IN_COPIED_EVENT));
      }
    };
    stopCheck = () => {
      clearTimeout(timer);
      tabs.removeEventListener("message", onMessage);
      settle();
      stopCheck = () => undefined;
    };
    tabs.addEventListener("message", onMessage);
    tabs.postMessage({ type: "whose", login, ask } satisfies LoginMessage);
  });
}

/** Settles once this tab's check is over: its tokens are then its own to refresh, or gone. */
export function signInChecked(): Promise<void> {
  return copyCheck;
}
