import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration } from "./format";

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
