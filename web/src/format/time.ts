// The dashboard's one way to show a moment: in UTC, the zone every text the server writes
// (reasons, alert summaries, session events) and the CLI and Telegram speak, so that a page
// never sets two zones side by side. 24-hour, in a fixed locale so every table, chart and
// log reads alike. The rule for the label: every time an operator reads in a sentence, a
// cell, a log line or a tooltip says " UTC" (`Dec 4, 06:43:14 UTC`, `06:43:14 UTC`); only
// the bare ticks of a chart axis or a grid's hour row (`formatMinute`, `formatHour`) go
// without, their axis or row saying "UTC" once. `hourCycle: "h23"` and not `hour12: false`:
// the latter gives "24:05" after midnight in some browsers. The ISO value stays available
// where it matters (titles, `<time dateTime>`, downloads).
const LOCALE = "en-US";
const TIME_ZONE = "UTC";

/** What a time shown alone says after it, and what an axis of bare times says once. */
export const ZONE_LABEL = "UTC";

export const EMPTY_TIME = "—";

const formats = {
  dateTime: new Intl.DateTimeFormat(LOCALE, {
    timeZone: TIME_ZONE,
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }),
  clock: new Intl.DateTimeFormat(LOCALE, {
    timeZone: TIME_ZONE,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }),
  dateMinute: new Intl.DateTimeFormat(LOCALE, {
    timeZone: TIME_ZONE,
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }),
  minute: new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
  hour: new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, hour: "2-digit", hourCycle: "h23" }),
};

export type Moment = string | number | Date;

/** The moment as a Date; null when it is not one (an unreadable string, NaN). */
export function toDate(value: Moment): Date | null {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Whether two moments fall on the same UTC day. */
export function sameDay(a: Date, b: Date): boolean {
  return a.getUTCFullYear() === b.getUTCFullYear() && a.getUTCMonth() === b.getUTCMonth() && a.getUTCDate() === b.getUTCDate();
}

function format(value: Moment | null | undefined, formatter: Intl.DateTimeFormat, labelled: boolean): string {
  if (value === null || value === undefined || value === "") return EMPTY_TIME;
  const date = toDate(value);
  // What is not a date is shown as it came rather than as "Invalid Date", and without a zone.
  if (date === null) return String(value);
  return labelled ? `${formatter.format(date)} ${ZONE_LABEL}` : formatter.format(date);
}

/** `Dec 4, 06:43:14 UTC`: a moment in a table, a list of events, a summary. */
export function formatDateTime(value: Moment | null | undefined): string {
  return format(value, formats.dateTime, true);
}

/** `06:43:14 UTC`: the time of day alone. */
export function formatClock(value: Moment | null | undefined): string {
  return format(value, formats.clock, true);
}

/** `06:43:14 UTC` on the (UTC) day of `now`, `Dec 4, 06:43:14 UTC` on another day. */
export function formatRecent(value: Moment | null | undefined, now: Date = new Date()): string {
  const date = value === null || value === undefined || value === "" ? null : toDate(value);
  if (date === null) return format(value, formats.clock, true);
  return format(date, sameDay(date, now) ? formats.clock : formats.dateTime, true);
}

/** `06:43 UTC` on the (UTC) day of `now`, `Dec 4, 06:43 UTC` on another day. */
export function formatRecentMinute(value: Moment | null | undefined, now: Date = new Date()): string {
  const date = value === null || value === undefined || value === "" ? null : toDate(value);
  if (date === null) return format(value, formats.minute, true);
  return format(date, sameDay(date, now) ? formats.minute : formats.dateMinute, true);
}

/** `Dec 4, 06:43 UTC`: a step of a chart on its tooltip. */
export function formatDateMinute(value: Moment | null | undefined): string {
  return format(value, formats.dateMinute, true);
}

/** A chart axis's tick, bare (the axis says UTC): `06:43`, or `Dec 4, 06:43` with the day. */
export function formatMinute(value: Moment | null | undefined, withDay: boolean): string {
  return format(value, withDay ? formats.dateMinute : formats.minute, false);
}

/** The hour alone, `00` to `23`, bare (the row says UTC): the columns of an hourly grid. */
export function formatHour(value: Moment | null | undefined): string {
  return format(value, formats.hour, false);
}
