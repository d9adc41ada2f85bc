import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

// The client is built at import against the page's origin and storage: a tab of its own.
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
type Answer = (path: string, token: string | null) => Response | Promise<Response>;
let answer: Answer;
const seen: Array<[string, string | null]> = [];
vi.stubGlobal("fetch", async (input: Request | string, init?: RequestInit) => {
  const request = typeof input === "string" ? new Request(new URL(input, "http://control-plane.test"), init) : input;
  const token = request.headers.get("Authorization")?.replace("Bearer ", "") ?? null;
  const path = new URL(request.url).pathname;
  seen.push([path, token]);
  return answer(path, token);
});

const me = { username: "admin", role: "admin" };
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const refused = () => json({ detail: "token revoked: log in again" }, 401);

let client: typeof import("./client");
let tokens: typeof import("./tokens");
beforeAll(async () => {
  client = await import("./client");
  tokens = await import("./tokens");
});
beforeEach(() => {
  storage.clear();
  dispatched.length = 0;
  seen.length = 0;
  tokens.saveTokens({ access_token: "old-access", refresh_token: "old-refresh" });
});

const whoAmI = () => client.api.GET("/api/v1/auth/me");

describe("a refused request", () => {
  it("goes on with a refreshed token", async () => {
    answer = (path, token) => {
      if (path === "/api/v1/auth/refresh") return json({ access_token: "new-access", refresh_token: "new-refresh" });
      return token === "new-access" ? json(me) : refused();
    };
    const { data } = await whoAmI();
    expect(data).toEqual(me);
    expect(tokens.getAccessToken()).toBe("new-access");
    expect(dispatched).toEqual([]);
  });

  it("ends the session when its refresh is refused too", async () => {
    answer = () => refused();
    const { response } = await whoAmI();
    expect(response.status).toBe(401);
    expect(tokens.getAccessToken()).toBeNull();
    expect(dispatched).toEqual(["smsfleet:session-expired"]);
  });

  it("goes on with the tokens of a sign-in saved while it was on its way", async () => {
    // Refused with the old token, answered only once a new password has signed in again.
    answer = (_path, token) => {
      if (token === "old-access") {
        tokens.saveTokens({ access_token: "signed-in-again", refresh_token: "fresh-refresh" });
        return refused();
      }
      return token === "signed-in-again" ? json(me) : refused();
    };
    const { data } = await whoAmI();
    expect(data).toEqual(me);
    expect(seen.map(([path]) => path)).not.toContain("/api/v1/auth/refresh");
    expect(tokens.getAccessToken()).toBe("signed-in-again");
    expect(dispatched).toEqual([]);
  });

  it("keeps the tokens of a sign-in saved while its refresh was on its way", async () => {
    answer = (path, token) => {
      if (path === "/api/v1/auth/refresh") {
        tokens.saveTokens({ access_token: "signed-in-again", refresh_token: "fresh-refresh" });
        return refused();
      }
      return token === "signed-in-again" ? json(me) : refused();
    };
    const { data } = await whoAmI();
    expect(data).toEqual(me);
    expect(tokens.getRefreshToken()).toBe("fresh-refresh");
    expect(dispatched).toEqual([]);
  });

  it("fails on its own, without ending the session, while this tab signs in with a new password", async () => {
    answer = () => refused();
    const { response } = await tokens.renewSignIn(whoAmI);
    expect(response.status).toBe(401);
    expect(tokens.getAccessToken()).toBe("old-access");
    expect(dispatched).toEqual([]);
    // Once the change is over, the same refusal ends the session.
    await whoAmI();
    expect(dispatched).toEqual(["smsfleet:session-expired"]);
  });

  it("keeps the session when its refresh got no answer, and refreshes with the same token next", async () => {
    // The refresh may have reached the control plane, which replaced the refresh token:
    // the one kept still refreshes for a few seconds after (the refresh grace).
    let offline = true;
    const presented: string[] = [];
    answer = (path, token) => {
      if (path === "/api/v1/auth/refresh") {
        if (offline) throw new TypeError("Failed to fetch");
        presented.push("refresh");
        return json({ access_token: "new-access", refresh_token: "new-refresh" });
      }
      return token === "new-access" ? json(me) : refused();
    };
    const { response } = await whoAmI();
    expect(response.status).toBe(401);
    expect(tokens.getRefreshToken()).toBe("old-refresh");
    expect(dispatched).toEqual([]);

    offline = false;
    const { data } = await whoAmI();
    expect(data).toEqual(me);
    expect(presented).toEqual(["refresh"]);
    expect(tokens.getRefreshToken()).toBe("new-refresh");
    expect(dispatched).toEqual([]);
  });

  it("keeps the session when the control plane could not answer its refresh", async () => {
    answer = (path) => (path === "/api/v1/auth/refresh" ? json({ detail: "busy" }, 503) : refused());
    const { response } = await whoAmI();
    expect(response.status).toBe(401);
    expect(tokens.getRefreshToken()).toBe("old-refresh");
    expect(dispatched).toEqual([]);
  });
});
