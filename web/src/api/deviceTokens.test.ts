import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

// This browser's storage, and the control plane's login answering a new device token each time.
const local = new Map<string, string>();
const session = new Map<string, string>();
const storageOf = (map: Map<string, string>) => ({
  getItem: (key: string) => map.get(key) ?? null,
  setItem: (key: string, value: string) => void map.set(key, value),
  removeItem: (key: string) => void map.delete(key),
});
vi.stubGlobal("localStorage", storageOf(local));
vi.stubGlobal("sessionStorage", storageOf(session));
vi.stubGlobal("window", { location: { origin: "http://control-plane.test" }, dispatchEvent: () => true });

const sent: Array<Record<string, unknown>> = [];
vi.stubGlobal("fetch", async (input: Request) => {
  const body = (await input.json()) as Record<string, unknown>;
  sent.push(body);
  const answer = {
    access_token: "access",
    refresh_token: "refresh",
    token_type: "bearer",
    expires_in: 900,
    device_token: `device-${sent.length}`,
  };
  return new Response(JSON.stringify(answer), { headers: { "Content-Type": "application/json" } });
});

let endpoints: typeof import("./endpoints");
beforeAll(async () => {
  endpoints = await import("./endpoints");
});
beforeEach(() => {
  local.clear();
  sent.length = 0;
});

describe("logging in", () => {
  it("keeps the device token and sends it at the same user's next login", async () => {
    await endpoints.login("alice", "alice-password");
    expect(sent[0]).toEqual({ username: "alice", password: "alice-password" });
    await endpoints.login("alice", "alice-password");
    expect(sent[1]).toMatchObject({ device_token: "device-1" });
    expect(local.get("smsfleet.device_token.alice")).toBe("device-2");
  });

  it("sends no other user's device token", async () => {
    await endpoints.login("alice", "alice-password");
    await endpoints.login("bob", "bob-password");
    expect(sent[1]).not.toHaveProperty("device_token");
    expect(local.get("smsfleet.device_token.alice")).toBe("device-1");
  });
});
