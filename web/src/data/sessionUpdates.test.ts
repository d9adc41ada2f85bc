import { describe, expect, it } from "vitest";
import type { Session } from "../api/types";
import { applySessionEvent, patchSessions } from "./sessionUpdates";

const session = (name: string, changes: Partial<Session> = {}): Session =>
  ({ name, state: "running", uptime_seconds: 60, pid: 42, ...changes }) as Session;

describe("patchSessions", () => {
  it("changes only the session named", () => {
    const list = [session("a"), session("b")];
    const patched = patchSessions(list, "b", { state: "stopping" });
    expect(patched[0]).toBe(list[0]);
    expect(patched[1]).toMatchObject({ name: "b", state: "stopping", pid: 42 });
  });
});

describe("applySessionEvent", () => {
  it("keeps the uptime of a session still alive", () => {
    const [next] = applySessionEvent([session("a")], { session: "a", to_state: "stopping" }) ?? [];
    expect(next).toMatchObject({ state: "stopping", uptime_seconds: 60, pid: 42 });
  });

  it("clears the exit code of an earlier run once a session starts", () => {
    const ended = session("a", { state: "fatal", uptime_seconds: null, pid: null, last_exit_code: -9 });
    const [next] = applySessionEvent([ended], { session: "a", to_state: "starting" }) ?? [];
    expect(next).toMatchObject({ state: "starting", last_exit_code: null });
  });

  it("clears the uptime and pid of a session that ended", () => {
    const [next] = applySessionEvent([session("a")], { session: "a", to_state: "stopped" }) ?? [];
    expect(next).toMatchObject({ state: "stopped", uptime_seconds: null, pid: null });
  });

  it("cannot apply other messages", () => {
    expect(applySessionEvent([session("a")], { session: "a", kind: "log" })).toBeUndefined();
    expect(applySessionEvent([session("a")], "hello")).toBeUndefined();
  });
});
