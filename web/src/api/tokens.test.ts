import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { answerForSignIn, loginOf, saveTokens } from "./tokens";

// This tab's storage; the other tabs are channels of this test's own.
const storage = new Map<string, string>();
vi.stubGlobal("sessionStorage", {
  getItem: (key: string) => storage.get(key) ?? null,
  setItem: (key: string, value: string) => void storage.set(key, value),
  removeItem: (key: string) => void storage.delete(key),
});

/** A token of the login `sid`, as the control plane signs them (the signature unread). */
function tokenOf(sid: string): string {
  const encode = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub: "admin", sid, typ: "refresh" })}.signature`;
}

const otherTabs: BroadcastChannel[] = [];

beforeEach(() => {
  storage.clear();
  saveTokens({ access_token: tokenOf("login-a"), refresh_token: tokenOf("login-a") });
});
afterEach(() => {
  for (const tab of otherTabs.splice(0)) tab.close();
});

describe("a tab copied from a signed-in one", () => {
  it("reads the login a token belongs to", () => {
    expect(loginOf(tokenOf("login-a"))).toBe("login-a");
    expect(loginOf("not-a-token")).toBeNull();
    expect(loginOf("a.%%%.c")).toBeNull();
    expect(loginOf(null)).toBeNull();
  });

  it("answers for the login it holds once signed in, and only for that one", async () => {
    answerForSignIn();
    const asking = new BroadcastChannel("smsfleet.sign-in");
    otherTabs.push(asking);
    const answers: string[] = [];
    asking.onmessage = (event: MessageEvent<{ type: string; login: string; ask: string }>) =>
      void answers.push(`${event.data.login} to ${event.data.ask}`);
    asking.postMessage({ type: "whose", login: "login-b", ask: "first" });
    asking.postMessage({ type: "whose", login: "login-a", ask: "second" });
    await vi.waitFor(() => expect(answers).toEqual(["login-a to second"]));
  });
});
