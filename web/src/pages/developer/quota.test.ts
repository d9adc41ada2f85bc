import { describe, expect, it } from "vitest";
import { quota } from "./quota";

const status = (remaining: number, limit: number) => ({
  limit,
  used: limit - remaining,
  remaining,
  resets_at: "2026-01-06T00:00:00Z",
});

describe("quota", () => {
  it("says how many requests are left of each quota, and when", () => {
    expect(quota({ daily: status(5, 5), monthly: null })).toBe("5 of 5 left today");
    expect(quota({ daily: status(0, 5), monthly: status(90, 100) })).toBe("0 of 5 left today · 90 of 100 left this month");
    expect(quota({ daily: null, monthly: status(1, 100) })).toBe("1 of 100 left this month");
  });

  it("says a key without quotas has none", () => {
    expect(quota({ daily: null, monthly: null })).toBe("no quota");
  });
});
