import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

// A tab of its own, loading with the tokens of a login that sessionStorage kept: its requests
// go to a control plane of this test's, its neighbours are channels of this test's own.
const storage = new Map<string, string>();
const dispatched: string[] = [];
vi.stubGlobal("sessionStorage", {
  getItem: (key: string) => storage.get(key) ?? null,
  setItem: (key: string, value: string) => void storage.set(key, value),
  removeItem: (key: string) => void storage.delete(key),
});
vi.stubGlobal("window", {
  location: { origin: "http://control-plane.test" },
  dispatchEvent: (event: Event) => void dispatched.push(event.type),
});

/** The control plane: answers each request by its path and the access token it carries. */
let answer: (path: string, token: string | null) => Response;
/** The requests it was sent: path, access token, and when (the test's clock, in ms). */
const seen: Array<[string, string | null, number]> = [];
vi.stubGlobal("fetch", (input: Request | string, init?: RequestInit) => {
  const request = typeof input === "string" ? new Request(new URL(input, "http://control-plane.test"), init) : input;
  const token = request.headers.get("Authorization")?.replace("Bearer ", "") ?? null;
  const path = new URL(request.url).pathname;
  seen.push([path, token, Date.now() - start]);
  return Promise.resolve(answer(path, token));
});

const me = { username: "admin", role: "admin" };
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const refused = () => json({ detail: "token expired" }, 401);
const paths = () => seen.map(([path]) => path);

/** A refresh token of the login `sid`, as the control plane signs them (the signature unread). */
function refreshTokenOf(sid: string, signature = "signature"): string {
  const encode = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub: "admin", sid, typ: "refresh" })}.${signature}`;
}

const otherTabs: BroadcastChannel[] = [];

interface LoginMessage {
  type: string;
  login: string;
  ask: string;
}

/** Another open tab: what it hears, and a way to speak on the channel as a tab does. */
function anotherTab(): { heard: LoginMessage[]; tab: BroadcastChannel } {
  const tab = new BroadcastChannel("smsfleet.sign-in");
  const heard: LoginMessage[] = [];
  tab.onmessage = (event: MessageEvent<LoginMessage>) => void heard.push(event.data);
  otherTabs.push(tab);
  return { heard, tab };
}

// The real one, taken before the tests fake the clock.
const realSetTimeout = globalThis.setTimeout;

/** Lets the tabs' messages and the requests run until `done` holds (the test's clock stands still). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => realSetTimeout(resolve));
}

let auth: typeof import("./AuthContext");
let endpoints: typeof import("../api/endpoints");
let tokens: typeof import("../api/tokens");
let start: number;
beforeAll(async () => {
  auth = await import("./AuthContext");
  endpoints = await import("../api/endpoints");
  tokens = await import("../api/tokens");
});
beforeEach(() => {
  // The check's wait for an answer runs on this clock, which moves only when told.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  start = Date.now();
  storage.clear();
  dispatched.length = 0;
  seen.length = 0;
  tokens.saveTokens({ access_token: "access-a", refresh_token: refreshTokenOf("login-a") });
});
afterEach(async () => {
  // A check left waiting would hear the next test's tabs.
  await vi.runAllTimersAsync();
  vi.useRealTimers();
  for (const tab of otherTabs.splice(0)) tab.close();
});

describe("a signed-in tab that loads", () => {
  it("asks who it is at once, with the access token it kept, while it listens for other tabs", async () => {
    answer = (_path, token) => (token === "access-a" ? json(me) : refused());
    await expect(auth.resumeSignIn()).resolves.toEqual(me);
    expect(seen).toEqual([["/api/v1/auth/me", "access-a", 0]]);
    // Nobody answered: once the check is over, the login is this tab's own.
    await vi.advanceTimersByTimeAsync(tokens.COPY_CHECK_MS);
    expect(tokens.getAccessToken()).toBe("access-a");
    expect(dispatched).toEqual([]);
  });

  it("refreshes an expired access token only once no other tab answered for its login", async () => {
    answer = (path, token) => {
      if (path === "/api/v1/auth/refresh") return json({ access_token: "access-b", refresh_token: refreshTokenOf("login-a") });
      return token === "access-b" ? json(me) : refused();
    };
    const loaded = auth.resumeSignIn();
    await vi.advanceTimersByTimeAsync(tokens.COPY_CHECK_MS);
    await expect(loaded).resolves.toEqual(me);
    expect(seen).toEqual([
      ["/api/v1/auth/me", "access-a", 0],
      ["/api/v1/auth/refresh", null, tokens.COPY_CHECK_MS],
      ["/api/v1/auth/me", "access-b", tokens.COPY_CHECK_MS],
    ]);
    expect(dispatched).toEqual([]);
  });
});

describe("a tab copied from a signed-in one", () => {
  it("shows its data with the copied access token, then drops the login when the original answers", async () => {
    const original = anotherTab();
    answer = (_path, token) => (token === "access-a" ? json(me) : refused());
    await expect(auth.resumeSignIn()).resolves.toEqual(me);
    expect(seen).toEqual([["/api/v1/auth/me", "access-a", 0]]);

    await until(() => original.heard.length > 0);
    original.tab.postMessage({ type: "mine", login: "login-a", ask: original.heard[0]?.ask });
    await until(() => dispatched.length > 0);
    expect(dispatched).toEqual([tokens.SIGN_IN_COPIED_EVENT]);
    expect(tokens.getRefreshToken()).toBeNull();
    expect(paths()).not.toContain("/api/v1/auth/refresh");
  });

  it("drops the login when the original answers after the refresh stopped waiting", async () => {
    // A busy machine's original tab answers seconds late: the copy has not refreshed yet.
    const original = anotherTab();
    answer = (_path, token) => (token === "access-a" ? json(me) : refused());
    await expect(auth.resumeSignIn()).resolves.toEqual(me);
    await until(() => original.heard.length > 0);
    await vi.advanceTimersByTimeAsync(tokens.COPY_CHECK_MS * 3);
    expect(dispatched).toEqual([]);

    original.tab.postMessage({ type: "mine", login: "login-a", ask: original.heard[0]?.ask });
    await until(() => dispatched.length > 0);
    expect(dispatched).toEqual([tokens.SIGN_IN_COPIED_EVENT]);
    expect(tokens.getRefreshToken()).toBeNull();
  });

  it("takes only the answer to its own question, not one to another tab's", async () => {
    const original = anotherTab();
    answer = (_path, token) => (token === "access-a" ? json(me) : refused());
    await expect(auth.resumeSignIn()).resolves.toEqual(me);
    await until(() => original.heard.length > 0);
    original.tab.postMessage({ type: "mine", login: "login-a", ask: "another tab's question" });
    original.tab.postMessage({ type: "mine", login: "login-a" });
    await vi.advanceTimersByTimeAsync(tokens.COPY_CHECK_MS);
    expect(tokens.getAccessToken()).toBe("access-a");
    expect(dispatched).toEqual([]);
  });

  it("keeps a login it refreshed on its own, whatever answer comes after", async () => {
    const original = anotherTab();
    answer = (path, token) => {
      if (path === "/api/v1/auth/refresh") return json({ access_token: "access-b", refresh_token: refreshTokenOf("login-a", "renewed") });
      return token === "access-b" ? json(me) : refused();
    };
    const loaded = auth.resumeSignIn();
    await vi.advanceTimersByTimeAsync(tokens.COPY_CHECK_MS);
    await expect(loaded).resolves.toEqual(me);
    expect(paths()).toContain("/api/v1/auth/refresh");

    original.tab.postMessage({ type: "mine", login: "login-a", ask: original.heard[0]?.ask });
    await vi.advanceTimersByTimeAsync(tokens.COPY_CHECK_MS);
    expect(tokens.getAccessToken()).toBe("access-b");
    expect(dispatched).toEqual([]);
  });

  it("drops the login rather than refresh it when its access token has expired", async () => {
    const original = anotherTab();
    answer = () => refused();
    const loaded = auth.resumeSignIn();
    // The refused request waits for the check; the original answers only then.
    await until(() => seen.length > 0 && original.heard.length > 0);
    original.tab.postMessage({ type: "mine", login: "login-a", ask: original.heard[0]?.ask });
    await expect(loaded).rejects.toMatchObject({ status: 401 });
    expect(paths()).toEqual(["/api/v1/auth/me"]);
    expect(tokens.getRefreshToken()).toBeNull();
    expect(dispatched[0]).toBe(tokens.SIGN_IN_COPIED_EVENT);
  });
});

describe("the tab a copy was made from", () => {
  it("answers for its login and keeps it, whatever the copy says", async () => {
    answer = (path, token) => {
      if (path === "/api/v1/auth/refresh") return json({ access_token: "access-b", refresh_token: refreshTokenOf("login-a") });
      return token === "access-b" ? json(me) : refused();
    };
    // Loaded alone: no other tab answered.
    const loaded = auth.resumeSignIn();
    await vi.advanceTimersByTimeAsync(tokens.COPY_CHECK_MS);
    await expect(loaded).resolves.toEqual(me);
    expect(seen[0]).toEqual(["/api/v1/auth/me", "access-a", 0]);

    // A copy starts: it asks whose login this is, and answers for it too while it checks.
    const copy = anotherTab();
    copy.tab.postMessage({ type: "whose", login: "login-a", ask: "the copy's" });
    copy.tab.postMessage({ type: "mine", login: "login-a", ask: "the copy's" });
    await until(() => copy.heard.length > 0);
    expect(copy.heard).toEqual([{ type: "mine", login: "login-a", ask: "the copy's" }]);

    // Its access token expires: it refreshes the login it kept.
    tokens.saveTokens({ access_token: "access-expired", refresh_token: refreshTokenOf("login-a") });
    seen.length = 0;
    await expect(endpoints.fetchCurrentUser()).resolves.toEqual(me);
    expect(paths()).toEqual(["/api/v1/auth/me", "/api/v1/auth/refresh", "/api/v1/auth/me"]);
    expect(tokens.getAccessToken()).toBe("access-b");
    expect(dispatched).toEqual([]);
  });
});
