import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  formatClock,
  formatDateMinute,
  formatDateTime,
  formatHour,
  formatMinute,
  formatRecent,
  formatRecentMinute,
  sameDay,
} from "./time";

// The browser's zone must not matter: the tests run in Tashkent (UTC+5), where 23:30 UTC
// is 04:30 the next day, as an operator there saw the dashboard.
beforeAll(() => {
  vi.stubEnv("TZ", "Asia/Tashkent");
});
afterAll(() => {
  vi.unstubAllEnvs();
});

const utc = (month: number, day: number, hours: number, minutes: number, seconds = 0) =>
  new Date(Date.UTC(2026, month, day, hours, minutes, seconds));
const morning = new Date(Date.UTC(2026, 11, 4, 6, 43, 14, 638));
const afterMidnight = utc(11, 5, 0, 5, 9);
const afternoon = utc(11, 4, 18, 7, 0);
const lateEvening = utc(11, 4, 23, 30, 0);

describe("time formats", () => {
  it("run in a zone other than UTC", () => {
    expect(lateEvening.getHours()).toBe(4);
    expect(lateEvening.getDate()).toBe(5);
  });

  it("give moments in UTC, labelled, whatever the browser's zone", () => {
    expect(formatDateTime(lateEvening)).toBe("Dec 4, 23:30:00 UTC");
    expect(formatClock(lateEvening.toISOString())).toBe("23:30:00 UTC");
    expect(formatDateMinute(lateEvening)).toBe("Dec 4, 23:30 UTC");
  });

  it("give date-times in 24-hour time, without AM or PM", () => {
    expect(formatDateTime(morning.toISOString())).toBe("Dec 4, 06:43:14 UTC");
    expect(formatDateTime(afternoon)).toBe("Dec 4, 18:07:00 UTC");
    expect(formatDateTime(afterMidnight.getTime())).toBe("Dec 5, 00:05:09 UTC");
  });

  it("give times of day alone, with 00 after midnight (never 24)", () => {
    expect(formatClock(morning.toISOString())).toBe("06:43:14 UTC");
    expect(formatClock(afterMidnight)).toBe("00:05:09 UTC");
    expect(formatClock(afternoon)).toBe("18:07:00 UTC");
  });

  it("give the day only when it is not the same UTC day", () => {
    const sameUtcDay = utc(11, 4, 23, 59);
    expect(formatRecent(morning.toISOString(), sameUtcDay)).toBe("06:43:14 UTC");
    expect(formatRecent(morning.toISOString(), afterMidnight)).toBe("Dec 4, 06:43:14 UTC");
    expect(formatRecentMinute(morning, sameUtcDay)).toBe("06:43 UTC");
    expect(formatRecentMinute(morning, afterMidnight)).toBe("Dec 4, 06:43 UTC");
  });

  it("compare UTC days, not the browser's", () => {
    // The same day in Tashkent (Dec 5, 04:30 and 05:10), two days in UTC.
    expect(sameDay(lateEvening, utc(11, 5, 0, 10))).toBe(false);
    expect(formatRecent(lateEvening, utc(11, 5, 0, 10))).toBe("Dec 4, 23:30:00 UTC");
    // Two days in Tashkent (Dec 4, 23:30 and Dec 5, 00:30), one in UTC.
    expect(sameDay(utc(11, 4, 18, 30), utc(11, 4, 19, 30))).toBe(true);
    expect(formatRecentMinute(utc(11, 4, 18, 30), utc(11, 4, 19, 30))).toBe("18:30 UTC");
  });

  it("give bare minutes and hours for chart axes and grids, in UTC", () => {
    expect(formatMinute(morning.getTime(), false)).toBe("06:43");
    expect(formatMinute(afterMidnight.getTime(), true)).toBe("Dec 5, 00:05");
    expect(formatMinute(lateEvening, false)).toBe("23:30");
    expect(formatHour(afterMidnight.getTime())).toBe("00");
    expect(formatHour(afternoon.getTime())).toBe("18");
    expect(formatHour(lateEvening)).toBe("23");
  });

  it("keep what is not a date as it is, and show a dash for nothing", () => {
    expect(formatDateTime("soon")).toBe("soon");
    expect(formatClock("soon")).toBe("soon");
    expect(formatRecent("soon")).toBe("soon");
    expect(formatRecentMinute("soon")).toBe("soon");
    expect(formatDateTime(null)).toBe("—");
    expect(formatDateTime(undefined)).toBe("—");
    expect(formatDateTime("")).toBe("—");
    expect(formatRecent(null)).toBe("—");
  });
});
