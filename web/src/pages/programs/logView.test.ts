import { describe, expect, it } from "vitest";
import { EMPTY_BUFFER, MAX_LINES, heldLabel, logBuffer, mergeTail, overlap, searchLines, splitMatches } from "./logView";

describe("overlap", () => {
  it("finds the longest tail of the known lines that the arrived lines start with", () => {
    expect(overlap(["a", "b", "c"], ["b", "c", "d"])).toBe(2);
    expect(overlap(["a", "b"], ["c"])).toBe(0);
    expect(overlap([], ["a"])).toBe(0);
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

describe("heldLabel", () => {
  it("counts in the singular and the plural", () => {
    expect(heldLabel(1)).toBe("1 new line held");
    expect(heldLabel(12)).toBe("12 new lines held");
  });
});
