/** Pure helpers of the log drawer: the buffer of lines (following or paused), their times and the search. */
import { formatRecent } from "../../format/time";

/** The drawer keeps at most this many lines; older ones scroll away. */
export const MAX_LINES = 2000;

export const capLines = (lines: string[]): string[] => (lines.length > MAX_LINES ? lines.slice(-MAX_LINES) : lines);

/**
 * How many of `arrived`'s first lines `known` already holds: `arrived` up to there ends
 * with `known`'s last lines. It may start within them, or before them (a followed log
 * begins with its last lines again, more than were shown); the latest such end is taken.
 */
export function overlap(known: readonly string[], arrived: readonly string[]): number {
  if (known.length === 0) return 0;
  for (let end = arrived.length; end > 0; end -= 1) {
    const size = Math.min(end, known.length);
    let same = true;
    for (let back = 1; back <= size && same; back += 1) {
      same = known[known.length - back] === arrived[end - back];
    }
    if (same) return end;
  }
  // Read before the known lines were (a follow's backlog ahead of the first page): when
  // its last line is among them, it brings nothing new.
  const last = arrived[arrived.length - 1];
  return last !== undefined && known.includes(last) ? arrived.length : 0;
}

/**
 * Lines that came over the live connection while the first page was loading may
 * repeat its tail: drop the longest such overlap.
 */
export function mergeTail(fetched: readonly string[], arrived: readonly string[]): string[] {
  return [...fetched, ...arrived.slice(overlap(fetched, arrived))];
}

export interface LogBuffer {
  /** The lines shown. */
  lines: string[];
  /**
   * Just loaded: the live cursor may have started before the first page was read, so the
   * live lines up to the first new one may repeat its tail: that overlap is dropped.
   */
  joining: boolean;
  /** While paused: live lines waiting (the newest MAX_LINES of them) and how many came in all. */
  held: string[];
  heldCount: number;
  paused: boolean;
}

export type LogBufferAction =
  | { type: "loaded"; lines: string[] }
  | { type: "live"; lines: readonly string[] }
  /** The first lines of a follow made again (the live socket reconnected): they may repeat the tail. */
  | { type: "rejoin"; lines: readonly string[] }
  | { type: "pause" }
  | { type: "follow" };

export const EMPTY_BUFFER: LogBuffer = { lines: [], joining: false, held: [], heldCount: 0, paused: false };

/** Following, live lines are appended; paused, they are held until `follow` appends them. */
export function logBuffer(state: LogBuffer, action: LogBufferAction): LogBuffer {
  switch (action.type) {
    case "loaded":
      return { ...state, lines: capLines(action.lines), joining: true };
    case "live":
    case "rejoin": {
      const shown = state.held.length > 0 ? [...state.lines, ...state.held] : state.lines;
      const joining = state.joining || action.type === "rejoin";
      const fresh = joining ? action.lines.slice(overlap(shown, action.lines)) : action.lines;
      // Nothing new (all of it repeated the first page): still joining.
      if (fresh.length === 0) return state;
      if (state.paused) {
        return {
          ...state,
          joining: false,
          held: capLines([...state.held, ...fresh]),
          heldCount: state.heldCount + fresh.length,
        };
      }
      return { ...state, joining: false, lines: capLines([...state.lines, ...fresh]) };
    }
    case "pause":
      return state.paused ? state : { ...state, paused: true };
    case "follow":
      if (!state.paused) return state;
      return {
        ...state,
        lines: state.held.length > 0 ? capLines([...state.lines, ...state.held]) : state.lines,
        held: [],
        heldCount: 0,
        paused: false,
      };
  }
}

/** A piece of a line: `match` pieces are what the search found. */
export interface Segment {
  text: string;
  match: boolean;
}

export interface ShownLine {
  /** Position in the whole buffer: a stable enough key. */
  index: number;
  segments: Segment[];
}

const escapeRegExp = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");

/** A case-insensitive, literal matcher for `query`; null when the query is empty. */
export function searchPattern(query: string): RegExp | null {
  return query === "" ? null : new RegExp(escapeRegExp(query), "gi");
}

/** `line` cut around every match of `pattern`; null when nothing matches. */
export function splitMatches(line: string, pattern: RegExp): Segment[] | null {
  const segments: Segment[] = [];
  let last = 0;
  for (const found of line.matchAll(pattern)) {
    const start = found.index;
    if (start > last) segments.push({ text: line.slice(last, start), match: false });
    segments.push({ text: found[0], match: true });
    last = start + found[0].length;
  }
  if (segments.length === 0) return null;
  if (last < line.length) segments.push({ text: line.slice(last), match: false });
  return segments;
}

/** The lines containing `query` (any case), cut for highlighting; every line when it is empty. */
export function searchLines(lines: readonly string[], query: string): ShownLine[] {
  const pattern = searchPattern(query);
  const shown: ShownLine[] = [];
  lines.forEach((line, index) => {
    const segments = pattern ? splitMatches(line, pattern) : [{ text: line, match: false }];
    if (segments) shown.push({ index, segments });
  });
  return shown;
}

/**
 * The runner stamps every line with its UTC time, `2026-12-04T06:47:53.638Z line 12`: the
 * drawer shows that time as every other time of the dashboard (`06:47:53 UTC`).
 */
const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) /;

/** A log line as the drawer shows it. */
export interface StampedLine {
  /** The stamp as written (ISO, UTC); null for a line without one, shown as it is. */
  iso: string | null;
  /** The shown line: the time (`06:47:53 UTC`, with the day when not today), then the rest. */
  text: string;
  /** How many of `text`'s first characters are the time. */
  timeLength: number;
}

/** `line` with its stamp as the dashboard shows times; a line without a (readable) stamp is kept as it is. */
export function stampedLine(line: string, now: Date = new Date()): StampedLine {
  const iso = STAMP.exec(line)?.[1];
  if (iso === undefined) return { iso: null, text: line, timeLength: 0 };
  const time = formatRecent(iso, now);
  if (time === iso) return { iso: null, text: line, timeLength: 0 };
  return { iso, text: `${time}${line.slice(iso.length)}`, timeLength: time.length };
}

/** `segments` cut at character `at`: what comes before it and what comes after. */
export function cutSegments(segments: readonly Segment[], at: number): [Segment[], Segment[]] {
  const before: Segment[] = [];
  const after: Segment[] = [];
  let position = 0;
  for (const segment of segments) {
    const end = position + segment.text.length;
    if (end <= at) before.push(segment);
    else if (position >= at) after.push(segment);
    else {
      before.push({ text: segment.text.slice(0, at - position), match: segment.match });
      after.push({ text: segment.text.slice(at - position), match: segment.match });
    }
    position = end;
  }
  return [before, after];
}

/** "1 new line held", "12 new lines held". */
export const heldLabel = (count: number): string => `${count} new ${count === 1 ? "line" : "lines"} held`;

/** Saves `lines` as a text file named `filename` through a temporary download link. */
export function saveLines(lines: readonly string[], filename: string): void {
  const text = lines.length > 0 ? `${lines.join("\n")}\n` : "";
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked once the browser has taken the download.
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}
