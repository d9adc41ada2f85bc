import { describe, expect, it } from "vitest";
import { formatCount, formatMs, formatPercent, formatRate, formatSeconds, successTone } from "./format";

describe("dashboard number formats", () => {
  it("format counts, ratios and rates in one locale", () => {
    expect(formatCount(1234)).toBe("1,234");
    expect(formatPercent(0.9734)).toBe("97.3%");
    expect(formatRate(2)).toBe("2.0");
    expect(formatMs(41.6)).toBe("42 ms");
  });

  it("show a dash for missing values", () => {
    expect(formatCount(null)).toBe("—");
    expect(formatPercent(undefined)).toBe("—");
    expect(formatSeconds(null)).toBe("—");
  });

  it("format latencies by size", () => {
    expect(formatSeconds(2_400)).toBe("2.4 s");
    expect(formatSeconds(42_000)).toBe("42 s");
    expect(formatSeconds(101_000)).toBe("1 min 41 s");
    expect(formatSeconds(120_000)).toBe("2 min");
  });

  it("grade success rates", () => {
    expect(successTone(0.95)).toBe("good");
    expect(successTone(0.9)).toBe("good");
    expect(successTone(0.7)).toBe("fair");
    expect(successTone(0.2)).toBe("poor");
    expect(successTone(null)).toBe("none");
  });
});
