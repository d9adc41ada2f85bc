import { describe, expect, it } from "vitest";
import type { Pair, Session } from "../../api/types";
import { sessionCounts } from "./sessionCounts";

const pair = (key: string, state: Pair["state"], numbers = 1): Pair =>
  ({ key, state, phone_numbers: Array.from({ length: numbers }, (_, n) => `+99890000000${n}`) }) as Pair;
const session = (pair: string, state: Session["state"], desired: Session["desired"] = "running"): Session =>
  ({ name: `program1_${pair}`, pair, state, desired }) as Session;

describe("the fleet's session counts", () => {
  it("counts a paused pair's sessions that still finish their sends as stopping, not held stopped", () => {
    const counts = sessionCounts(
      [pair("UZ_uzmobile", "enabled"), pair("UA_3mob", "paused"), pair("US_verizon", "enabled", 0)],
      [
        session("UZ_uzmobile", "running"),
        session("UZ_uzmobile", "exited", "stopped"),
        session("UA_3mob", "stopping"),
        session("UA_3mob", "stopped"),
        session("US_verizon", "stopped"),
      ],
    );
    expect(counts).toEqual({ running: 1, stopping: 1, held: 2, stoppedByPeople: 1, down: {} });
  });

  it("counts a crashed session of a running pair as down, by its state, and a starting one nowhere", () => {
    const counts = sessionCounts(
      [pair("UZ_uzmobile", "enabled"), pair("UA_3mob", "paused")],
      [
        session("UZ_uzmobile", "backoff"),
        session("UZ_uzmobile", "fatal"),
        session("UZ_uzmobile", "fatal"),
        session("UZ_uzmobile", "starting"),
        session("UA_3mob", "fatal"),
      ],
    );
    expect(counts).toEqual({ running: 0, stopping: 0, held: 1, stoppedByPeople: 0, down: { fatal: 2, backoff: 1 } });
  });
});
