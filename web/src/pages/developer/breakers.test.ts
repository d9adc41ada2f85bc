import { describe, expect, it } from "vitest";
import { breakerClass, breakerTitle, breakerWords } from "./breakers";

describe("breakerWords", () => {
  it("says each state in plain words", () => {
    expect(breakerWords("closed")).toBe("working");
    expect(breakerWords("open")).toBe("failing, calls paused");
    expect(breakerWords("half-open")).toBe("trying again");
  });

  it("keeps a state it does not know as it is", () => {
    expect(breakerWords("forced-open")).toBe("forced-open");
  });
});

describe("breakerTitle", () => {
  it("keeps the raw state and the failures", () => {
    expect(breakerTitle({ state: "closed", failures: 0, reset_seconds: 10 })).toBe("circuit breaker: closed · 0 failures");
    expect(breakerTitle({ state: "half-open", failures: 1, reset_seconds: 10 })).toBe("circuit breaker: half-open · 1 failure");
  });

  it("says when an open breaker lets a call through again", () => {
    expect(breakerTitle({ state: "open", failures: 3, reset_seconds: 10 })).toBe(
      "circuit breaker: open · 3 failures · tried again after 10 s",
    );
  });
});

describe("breakerClass", () => {
  it("gives one class per state, whichever separator", () => {
    expect(breakerClass("half-open")).toBe("badge--breaker-half-open");
    expect(breakerClass("half_open")).toBe("badge--breaker-half-open");
  });
});
