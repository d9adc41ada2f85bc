import { describe, expect, it } from "vitest";
import { formatClock, formatDateTime, formatHour, formatMinute, formatRecent, formatRecentMinute } from "./time";

// Built from local parts: the expectations hold in any time zone the tests run in.
const morning = new Date(2026, 11, 4, 6, 43, 14, 638);
const afterMidnight = new Date(2026, 11, 5, 0, 5, 9);
const afternoon = new Date(2026, 11, 4, 18, 7, 0);

describe("time formats", () => {
  it("give date-times in 24-hour time, without AM or PM", () => {
    expect(formatDateTime(morning.toISOString())).toBe("Dec 4, 06:43:14");
    expect(formatDateTime(afternoon)).toBe("Dec 4, 18:07:00");
    expect(formatDateTime(afterMidnight.getTime())).toBe("Dec 5, 00:05:09");
  });

  it("give times of day alone, with 00 after midnight (never 24)", () => {
    expect(formatClock(morning.toISOString())).toBe("06:43:14");
    expect(formatClock(afterMidnight)).toBe("00:05:09");
    expect(formatClock(afternoon)).toBe("18:07:00");
  });

  it("give the day only when it is not today", () => {
    const sameDay = new Date(2026, 11, 4, 23, 59, 0);
    expect(formatRecent(morning.toISOString(), sameDay)).toBe("06:43:14");
    expect(formatRecent(morning.toISOString(), afterMidnight)).toBe("Dec 4, 06:43:14");
    expect(formatRecentMinute(morning, sameDay)).toBe("06:43");
    expect(formatRecentMinute(morning, afterMidnight)).toBe("Dec 4, 06:43");
  });

  it("give minutes and hours for chart axes and grids", () => {
    expect(formatMinute(morning.getTime(), false)).toBe("06:43");
    expect(formatMinute(afterMidnight.getTime(), true)).toBe("Dec 5, 00:05");
    expect(formatHour(afterMidnight.getTime())).toBe("00");
    expect(formatHour(afternoon.getTime())).toBe("18");
  });

  it("keep what is not a date as it is, and show a dash for nothing", () => {
    expect(formatDateTime("soon")).toBe("soon");
    expect(formatClock("soon")).toBe("soon");
    expect(formatRecent("soon")).toBe("soon");
    expect(formatDateTime(null)).toBe("—");
    expect(formatDateTime(undefined)).toBe("—");
    expect(formatDateTime("")).toBe("—");
    expect(formatRecent(null)).toBe("—");
  });
});
