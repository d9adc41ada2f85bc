// The dashboard's one way to show a moment: in the browser's time zone, 24-hour, in a fixed
// locale so every table, chart and log reads alike: `Dec 4, 06:43:14`, `06:43:14`, `06:43`.
// `hourCycle: "h23"` and not `hour12: false`: the latter gives "24:05" after midnight in some
// browsers. The ISO value stays available where it matters (titles, `<time dateTime>`, downloads).
const LOCALE = "en-US";

export const EMPTY_TIME = "—";

const formats = {
  dateTime: new Intl.DateTimeFormat(LOCALE, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }),
  clock: new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }),
  dateMinute: new Intl.DateTimeFormat(LOCALE, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }),
  minute: new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
  hour: new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", hourCycle: "h23" }),
};

export type Moment = string | number | Date;

/** The moment as a Date; null when it is not one (an unreadable string, NaN). */
export function toDate(value: Moment): Date | null {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Whether two moments fall on the same local day. */
export function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function format(value: Moment | null | undefined, formatter: Intl.DateTimeFormat): string {
  if (value === null || value === undefined || value === "") return EMPTY_TIME;
  const date = toDate(value);
  // What is not a date is shown as it came rather than as "Invalid Date".
  return date === null ? String(value) : formatter.format(date);
}

/** `Dec 4, 06:43:14`: a moment in a table, a list of events, a summary. */
export function formatDateTime(value: Moment | null | undefined): string {
  return format(value, formats.dateTime);
}

/** `06:43:14`: the time of day alone. */
export function formatClock(value: Moment | null | undefined): string {
  return format(value, formats.clock);
}

/** `06:43:14` on the day of `now`, `Dec 4, 06:43:14` on another day. */
export function formatRecent(value: Moment | null | undefined, now: Date = new Date()): string {
  const date = value === null || value === undefined || value === "" ? null : toDate(value);
  if (date === null) return format(value, formats.clock);
  return sameDay(date, now) ? formats.clock.format(date) : formats.dateTime.format(date);
}

/** To the minute, for chart axes and sentences: `06:43`, or `Dec 4, 06:43` with the day. */
export function formatMinute(value: Moment | null | undefined, withDay: boolean): string {
  return format(value, withDay ? formats.dateMinute : formats.minute);
}

/** `06:43` on the day of `now`, `Dec 4, 06:43` on another day. */
export function formatRecentMinute(value: Moment | null | undefined, now: Date = new Date()): string {
  const date = value === null || value === undefined || value === "" ? null : toDate(value);
  if (date === null) return format(value, formats.minute);
  return formats[sameDay(date, now) ? "minute" : "dateMinute"].format(date);
}

/** The hour alone, `00` to `23`: the columns of an hourly grid. */
export function formatHour(value: Moment | null | undefined): string {
  return format(value, formats.hour);
}
