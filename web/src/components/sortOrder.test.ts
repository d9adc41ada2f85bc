import { describe, expect, it } from "vitest";
import { nextSort, sortRows } from "./sortOrder";

interface Row {
  name: string;
  rate: number | null;
}

const rows: Row[] = [
  { name: "b10", rate: 0.5 },
  { name: "a", rate: null },
  { name: "B2", rate: 0.9 },
  { name: "c", rate: 0.5 },
];

describe("sortRows", () => {
  it("sorts text naturally and without regard to case", () => {
    expect(sortRows(rows, (row) => row.name, "asc").map((row) => row.name)).toEqual(["a", "B2", "b10", "c"]);
  });

  it("puts empty values last in both directions and keeps ties in the given order", () => {
    const read = (row: Row) => row.rate;
    expect(sortRows(rows, read, "desc").map((row) => row.name)).toEqual(["B2", "b10", "c", "a"]);
    expect(sortRows(rows, read, "asc").map((row) => row.name)).toEqual(["b10", "c", "B2", "a"]);
  });

  it("leaves the given rows untouched", () => {
    const before = [...rows];
    sortRows(rows, (row) => row.name, "desc");
    expect(rows).toEqual(before);
  });
});

describe("nextSort", () => {
  it("cycles text columns ascending, descending, then unsorted", () => {
    const first = nextSort(null, "name", false);
    expect(first).toEqual({ key: "name", direction: "asc" });
    const second = nextSort(first, "name", false);
    expect(second).toEqual({ key: "name", direction: "desc" });
    expect(nextSort(second, "name", false)).toBeNull();
  });

  it("starts numeric columns with the largest first", () => {
    expect(nextSort(null, "rate", true)).toEqual({ key: "rate", direction: "desc" });
  });

  it("starts over on another column", () => {
    expect(nextSort({ key: "name", direction: "desc" }, "rate", true)).toEqual({ key: "rate", direction: "desc" });
  });
});
