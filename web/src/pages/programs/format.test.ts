import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, retryText } from "./format";

describe("formatDuration", () => {
  it("shows the two largest units", () => {
    expect(formatDuration(42)).toBe("42s");
    expect(formatDuration(303)).toBe("5m 03s");
    expect(formatDuration(3 * 3600 + 7 * 60 + 59)).toBe("3h 07m");
    expect(formatDuration(2 * 86_400 + 4 * 3600)).toBe("2d 04h");
  });

  it("never goes below zero", () => {
    expect(formatDuration(-5)).toBe("0s");
  });
});

describe("formatBytes", () => {
  it("picks a binary unit", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3 * 1024 ** 3)).toBe("3.0 GiB");
    expect(formatBytes(null)).toBe("—");
  });
});

describe("retryText", () => {
  const retryAt = new Date(Date.UTC(2026, 0, 5, 21, 34, 56)).toISOString();
  const at = (hours: number, minutes: number, seconds: number) => Date.UTC(2026, 0, 5, hours, minutes, seconds);

  it("says when a session in backoff is started again, and how soon", () => {
    expect(retryText(retryAt, at(21, 34, 44))).toBe("retry at 21:34:56 UTC (in 12s)");
    expect(retryText(retryAt, at(21, 32, 0))).toBe("retry at 21:34:56 UTC (in 2m 56s)");
  });

  it("says it retries once the time has come", () => {
    expect(retryText(retryAt, at(21, 34, 56))).toBe("retrying");
    expect(retryText(retryAt, at(21, 40, 0))).toBe("retrying");
  });

  it("names the day of a retry on another day", () => {
    expect(retryText(retryAt, Date.UTC(2026, 0, 4, 23, 0, 0))).toBe("retry at Jan 5, 21:34:56 UTC (in 22h 34m)");
  });
});
