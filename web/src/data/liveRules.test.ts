import { describe, expect, it } from "vitest";
import { MAX_DROPPED, dropAnswerInFlight, newDropGuard, refetchEvery } from "./liveRules";

describe("refetchEvery", () => {
  it("polls nothing while live", () => {
    expect(refetchEvery(true, 5_000)).toBe(false);
  });

  it("reloads a quiet query while live only after its quiet time", () => {
    expect(refetchEvery(true, 5_000, 60_000)).toBe(60_000);
  });

  it("polls while not live, at the shorter of the two", () => {
    expect(refetchEvery(false, 5_000)).toBe(5_000);
    expect(refetchEvery(false, 30_000, 15_000)).toBe(15_000);
    expect(refetchEvery(false, 5_000, 60_000)).toBe(5_000);
  });
});

describe("dropAnswerInFlight", () => {
  it("keeps the data when nothing is in flight", () => {
    const guard = newDropGuard();
    expect(dropAnswerInFlight(guard, false, 100)).toBe(false);
    expect(guard.dropped).toBe(0);
  });

  it("drops an answer in flight when a message was applied", () => {
    const guard = newDropGuard();
    expect(dropAnswerInFlight(guard, true, 100)).toBe(true);
    expect(guard.dropped).toBe(1);
  });

  it("lets an answer through after MAX_DROPPED drops in a row", () => {
    const guard = newDropGuard();
    for (let i = 0; i < MAX_DROPPED; i += 1) expect(dropAnswerInFlight(guard, true, 100)).toBe(true);
    expect(dropAnswerInFlight(guard, true, 100)).toBe(false);
  });

  it("counts again once an answer was kept", () => {
    const guard = newDropGuard();
    for (let i = 0; i < MAX_DROPPED; i += 1) dropAnswerInFlight(guard, true, 100);
    expect(dropAnswerInFlight(guard, true, 200)).toBe(true);
    expect(guard.dropped).toBe(1);
  });
});
