import { describe, expect, it } from "vitest";
import type { Session } from "../../api/types";
import { bulkPlan, needsForce, unchangedNote } from "./grouping";

const session = (name: string, changes: Partial<Session> = {}): Session =>
  ({ name, state: "running", desired: "running", is_high_priority: false, ...changes }) as Session;

describe("a bulk action", () => {
  const running = [session("a"), session("b"), session("c", { state: "starting" })];
  const stopped = [session("d", { state: "stopped", desired: "stopped" }), session("e", { state: "fatal" })];

  it("counts only the sessions it would change", () => {
    const plan = bulkPlan([...running, ...stopped], "start");
    expect(plan.changed.map((s) => s.name)).toEqual(["d", "e"]);
    expect(plan.unchanged.map((s) => s.name)).toEqual(["a", "b", "c"]);
    expect(unchangedNote(plan, "start", "every session")).toBe("3 others are already running or starting.");
    const stop = bulkPlan([...running, ...stopped], "stop");
    expect(stop.changed.map((s) => s.name)).toEqual(["a", "b", "c", "e"]);
    expect(unchangedNote(stop, "stop", "every session")).toBe("1 other is already stopped.");
  });

  it("says when it would change nothing", () => {
    const plan = bulkPlan(running, "start");
    expect(plan.changed).toEqual([]);
    expect(unchangedNote(plan, "start", "every session in IN")).toBe(
      "3 sessions (every session in IN), all already running or starting: nothing to start.",
    );
    expect(unchangedNote(bulkPlan(stopped.slice(0, 1), "stop"), "stop", "every session of X")).toBe(
      "1 session (every session of X), already stopped: nothing to stop.",
    );
  });

  it("restarts every session wanted running, and leaves those stopped on purpose so", () => {
    const plan = bulkPlan([...running, ...stopped], "restart");
    expect(plan.changed.map((s) => s.name)).toEqual(["a", "b", "c", "e"]);
    expect(unchangedNote(plan, "restart", "every session")).toBe("1 other is already stopped on purpose.");
    expect(unchangedNote(bulkPlan(running, "restart"), "restart", "every session")).toBeNull();
  });
});

describe("a high-priority session", () => {
  const priority = session("p", { is_high_priority: true });

  it("is stopped or restarted only with force while it is wanted running", () => {
    expect(needsForce(priority, "stop")).toBe(true);
    expect(needsForce(priority, "restart")).toBe(true);
    expect(needsForce(priority, "start")).toBe(false);
    // Stopped on purpose: starting it again, by a restart too, interrupts nothing.
    expect(needsForce({ ...priority, desired: "stopped" }, "restart")).toBe(false);
    expect(needsForce(session("a"), "restart")).toBe(false);
  });
});
