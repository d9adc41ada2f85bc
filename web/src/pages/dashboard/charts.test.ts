import { describe, expect, it } from "vitest";
import { lonePoints, pivot } from "./charts";

describe("trend lines", () => {
  it("break where a step has no value, and mark a value alone between breaks", () => {
    const rows = [
      { t: 1, UZ: 90 },
      { t: 2, UZ: 95 },
      { t: 3, UZ: null },
      { t: 4, UZ: 80 },
      { t: 5, UZ: null },
      { t: 6, UZ: 70 },
    ];
    expect(lonePoints(rows, "UZ")).toEqual([false, false, false, true, false, true]);
  });

  it("keep every step of every series, so a missing value is a gap and not a row of another series", () => {
    const point = (t: string, success_rate: number | null) => ({
      t,
      sent: 1,
      delivered: 1,
      failed: 0,
      completed: 1,
      success_rate,
      latency_p95_ms: null,
    });
    const rows = pivot(
      [
        { key: "UZ", points: [point("2026-12-04T05:00:00Z", 1), point("2026-12-04T05:01:00Z", null)] },
        { key: "KZ", points: [point("2026-12-04T05:00:00Z", 0.5), point("2026-12-04T05:01:00Z", 0.75)] },
      ],
      (p) => p.success_rate,
    );
    expect(rows.map((row) => [row.UZ, row.KZ])).toEqual([
      [1, 0.5],
      [null, 0.75],
    ]);
    expect(lonePoints(rows, "UZ")).toEqual([true, false]);
  });
});
