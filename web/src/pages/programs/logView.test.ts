import { describe, expect, it } from "vitest";
import {
  EMPTY_BUFFER,
  MAX_LINES,
  cutSegments,
  heldLabel,
  stampedLine,
  logBuffer,
  mergeTail,
  overlap,
  searchLines,
  splitMatches,
} from "./logView";

describe("overlap", () => {
  it("finds the longest tail of the known lines that the arrived lines start with", () => {
    expect(overlap(["a", "b", "c"], ["b", "c", "d"])).toBe(2);
    expect(overlap(["a", "b"], ["c"])).toBe(0);
    expect(overlap([], ["a"])).toBe(0);
  });

  it("finds the known lines when the arrived ones start before them", () => {
    // A followed log begins with its last lines again, more than the page shown holds.
    expect(overlap(["3", "4", "5"], ["1", "2", "3", "4", "5", "6"])).toBe(5);
    expect(overlap(["2", "3"], ["1", "2", "3"])).toBe(3);
    expect(mergeTail(["3", "4", "5"], ["1", "2", "3", "4", "5", "6", "7"])).toEqual(["3", "4", "5", "6", "7"]);
  });

  it("finds nothing new in lines read before the known ones", () => {
    // A follow's backlog read before the first page ends inside it: no line of it is new.
    expect(overlap(["133", "134", "135"], ["1", "2", "133", "134"])).toBe(4);
    expect(mergeTail(["133", "134", "135"], ["1", "2", "133", "134"])).toEqual(["133", "134", "135"]);
    expect(overlap(["3", "4"], ["1", "2"])).toBe(0); // older lines the page does not hold
  });

  it("prefers the longest overlap when lines repeat", () => {
    expect(overlap(["x", "x", "x"], ["x", "x", "y"])).toBe(2);
  });
});

describe("mergeTail", () => {
  it("appends only the lines the first page did not have", () => {
    expect(mergeTail(["1", "2", "3"], ["2", "3", "4"])).toEqual(["1", "2", "3", "4"]);
    expect(mergeTail(["1"], ["2"])).toEqual(["1", "2"]);
  });
});

describe("logBuffer", () => {
  const loaded = logBuffer(EMPTY_BUFFER, { type: "loaded", lines: ["1", "2"] });

  it("drops the live lines that repeat the tail of the first page", () => {
    const next = logBuffer(loaded, { type: "live", lines: ["2", "3"] });
    expect(next.lines).toEqual(["1", "2", "3"]);
    // Joined: a later line equal to the tail is new, not a repeat.
    expect(logBuffer(next, { type: "live", lines: ["3"] }).lines).toEqual(["1", "2", "3", "3"]);
  });

  it("drops what a follow made again repeats, shown or held, and only then", () => {
    const joined = logBuffer(logBuffer(loaded, { type: "live", lines: ["2", "3"] }), { type: "live", lines: ["4"] });
    // The socket reconnected: its follow starts with the log's last lines again.
    const rejoined = logBuffer(joined, { type: "rejoin", lines: ["2", "3", "4", "5"] });
    expect(rejoined.lines).toEqual(["1", "2", "3", "4", "5"]);
    const paused = logBuffer(logBuffer(rejoined, { type: "pause" }), { type: "live", lines: ["6"] });
    const again = logBuffer(paused, { type: "rejoin", lines: ["5", "6", "7"] });
    expect(again.heldCount).toBe(2);
    expect(logBuffer(again, { type: "follow" }).lines).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
    // A plain batch is new lines, even when it looks like the tail.
    expect(logBuffer(rejoined, { type: "live", lines: ["5"] }).lines).toEqual(["1", "2", "3", "4", "5", "5"]);
  });

  it("holds live lines while paused and shows them on follow", () => {
    const paused = logBuffer(logBuffer(loaded, { type: "pause" }), { type: "live", lines: ["3", "4"] });
    expect(paused.lines).toEqual(["1", "2"]);
    expect(paused.heldCount).toBe(2);
    const following = logBuffer(paused, { type: "follow" });
    expect(following.lines).toEqual(["1", "2", "3", "4"]);
    expect(following.heldCount).toBe(0);
    expect(following.paused).toBe(false);
  });

  it("keeps at most MAX_LINES lines, the newest", () => {
    const many = Array.from({ length: MAX_LINES + 5 }, (_, index) => String(index));
    const state = logBuffer(EMPTY_BUFFER, { type: "loaded", lines: many });
    expect(state.lines).toHaveLength(MAX_LINES);
    expect(state.lines[0]).toBe("5");
  });
});

describe("search", () => {
  it("cuts a line around every match, ignoring case", () => {
    expect(splitMatches("Error: an error", /error/gi)).toEqual([
      { text: "Error", match: true },
      { text: ": an ", match: false },
      { text: "error", match: true },
    ]);
    expect(splitMatches("fine", /error/gi)).toBeNull();
  });

  it("matches the query literally and keeps each line's position", () => {
    const shown = searchLines(["a.b", "axb", "A.B"], "a.b");
    expect(shown.map((line) => line.index)).toEqual([0, 2]);
  });

  it("shows every line for an empty query", () => {
    expect(searchLines(["a", "b"], "")).toEqual([
      { index: 0, segments: [{ text: "a", match: false }] },
      { index: 1, segments: [{ text: "b", match: false }] },
    ]);
  });
});

describe("stampedLine", () => {
  const at = new Date(Date.UTC(2026, 11, 4, 6, 47, 53, 638));
  const stamp = at.toISOString();

  it("shows the runner's stamp as a 24-hour UTC time and keeps the stamp as written", () => {
    const line = stampedLine(`${stamp} line 12 ALPHA`, new Date(Date.UTC(2026, 11, 4, 12, 0)));
    expect(line).toEqual({ iso: stamp, text: "06:47:53 UTC line 12 ALPHA", timeLength: "06:47:53 UTC".length });
  });

  it("gives the day of a line from another day", () => {
    const line = stampedLine(`${stamp} tick`, new Date(Date.UTC(2026, 11, 5, 0, 1)));
    expect(line.text).toBe("Dec 4, 06:47:53 UTC tick");
    expect(line.timeLength).toBe("Dec 4, 06:47:53 UTC".length);
  });

  it("keeps a line without a stamp as it is", () => {
    expect(stampedLine("plain output")).toEqual({ iso: null, text: "plain output", timeLength: 0 });
    expect(stampedLine("2026-12-04 06:47:53 not the runner's")).toEqual({
      iso: null,
      text: "2026-12-04 06:47:53 not the runner's",
      timeLength: 0,
    });
    expect(stampedLine("9999-99-99T99:99:99Z broken").iso).toBeNull();
  });
});

describe("cutSegments", () => {
  it("cuts the search's pieces where the time ends, a match across it included", () => {
    const segments = [
      { text: "06:4", match: false },
      { text: "7:53 li", match: true },
      { text: "ne 12", match: false },
    ];
    expect(cutSegments(segments, 8)).toEqual([
      [
        { text: "06:4", match: false },
        { text: "7:53", match: true },
      ],
      [
        { text: " li", match: true },
        { text: "ne 12", match: false },
      ],
    ]);
    expect(cutSegments([{ text: "abc", match: false }], 0)).toEqual([[], [{ text: "abc", match: false }]]);
  });
});

describe("heldLabel", () => {
  it("counts in the singular and the plural", () => {
    expect(heldLabel(1)).toBe("1 new line held");
    expect(heldLabel(12)).toBe("12 new lines held");
  });
});
