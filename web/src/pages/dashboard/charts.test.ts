import { describe, expect, it } from "vitest";
import type { CapChange, CountryGoal } from "../../api/types";
import {
  capAt,
  capKey,
  capsChangedSince,
  countryColors,
  grantedPerMinute,
  lonePoints,
  pairRows,
  pivot,
  runningKey,
  runningStep,
  capReference,
  capWords,
  basisOf,
  splitRunning,
  withBasis,
  withOwnCaps,
} from "./charts";

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
      granted: 1,
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

describe("the step still running", () => {
  const point = (t: string) => ({
    t,
    sent: 1,
    delivered: 1,
    failed: 0,
    completed: 1,
    granted: 1,
    success_rate: 1,
    latency_p95_ms: null,
  });
  const series = [{ key: "UZ", points: [point("2026-12-04T05:00:00Z"), point("2026-12-04T05:01:00Z")] }];

  it("is the last step when the trend ends inside it, and none when it ends on its close", () => {
    const last = Date.parse("2026-12-04T05:01:00Z");
    expect(runningStep({ end: "2026-12-04T05:01:30Z", step: "1m", series })).toBe(last);
    expect(runningStep({ end: "2026-12-04T05:02:00Z", step: "1m", series })).toBeNull();
    expect(runningStep({ end: "2026-12-04T05:01:30Z", step: "1h", series })).toBe(last);
    expect(runningStep({ end: "2026-12-04T05:01:30Z", step: "1m", series: [] })).toBeNull();
    expect(runningStep(undefined)).toBeNull();
  });

  it("moves to its own column, joined to the step before, so the whole steps end where they do", () => {
    const rows = [
      { t: 1, UZ: 90, KZ: null },
      { t: 2, UZ: 95, KZ: 80 },
      { t: 3, UZ: 40, KZ: null },
    ];
    const split = splitRunning(rows, ["UZ", "KZ"], 3);
    expect(split.map((row) => [row.UZ, row[runningKey("UZ")]])).toEqual([
      [90, undefined],
      [95, 95],
      [null, 40],
    ]);
    expect(split.map((row) => [row.KZ, row[runningKey("KZ")]])).toEqual([
      [null, undefined],
      [80, 80],
      [null, null],
    ]);
    expect(rows[2]?.UZ).toBe(40); // the rows given are left as they were
    expect(splitRunning(rows, ["UZ"], null)).toEqual(rows);
  });
});

describe("a country's colour", () => {
  const fleet = ["UZ", "UA", "TJ", "IN", "IN", "AZ", "US", "KZ"];

  it("is the same whatever series a range has, and in whatever order", () => {
    const colorOf = countryColors(fleet);
    const again = countryColors([...fleet].reverse());
    for (const country of fleet) expect(again(country)).toBe(colorOf(country));
    expect(colorOf("KZ")).toBe(countryColors(fleet)("KZ"));
  });

  it("differs between the fleet's countries", () => {
    const colorOf = countryColors(fleet);
    const codes = [...new Set(fleet)];
    expect(new Set(codes.map(colorOf)).size).toBe(codes.length);
  });

  it("follows from the code alone for a country with no pair", () => {
    expect(countryColors(fleet)("DE")).toBe(countryColors([])("DE"));
    expect(countryColors([])("DE")).toMatch(/^#[0-9a-f]{6}$/);
  });
});

describe("the grants trend", () => {
  const point = (granted: number) => ({
    t: "2026-12-04T05:00:00Z",
    sent: 13,
    delivered: 13,
    failed: 0,
    completed: 13,
    granted,
    success_rate: 1,
    latency_p95_ms: null,
  });

  it("draws each step's grants per minute, whatever the step", () => {
    expect(grantedPerMinute(point(10), "1m")).toBe(10);
    expect(grantedPerMinute(point(49), "5m")).toBe(9.8);
    expect(grantedPerMinute(point(594), "1h")).toBe(9.9);
  });

  it("draws the cap most countries share, and names the countries whose cap is another", () => {
    const goal = (country: string, cap: number) => ({ country, goal_per_minute: cap }) as CountryGoal;
    expect(capReference([goal("UZ", 10), goal("KZ", 10)])).toEqual({ cap: 10, others: [] });
    expect(capWords({ cap: 10, others: [] })).toBe("cap 10/min dashed");
    const lowered = capReference([goal("UZ", 5), goal("KZ", 10), goal("AZ", 10)]);
    expect(lowered).toEqual({ cap: 10, others: [{ country: "UZ", cap: 5 }] });
    expect(capWords(lowered ?? { cap: 0, others: [] })).toBe("cap 10/min dashed; UZ 5");
    // Two countries, two caps: the higher is dashed, the other named.
    expect(capReference([goal("UZ", 5), goal("KZ", 10)])).toEqual({ cap: 10, others: [{ country: "UZ", cap: 5 }] });
    const many = capReference(["AZ", "GE", "IN", "KZ", "TJ", "UA", "UZ", "US"].map((c, n) => goal(c, n < 6 ? n + 1 : 10)));
    expect(capWords(many ?? { cap: 0, others: [] })).toBe("cap 10/min dashed; AZ 1, GE 2, IN 3, KZ 4 and 2 more");
    expect(capReference([])).toBeNull();
    expect(capReference(undefined)).toBeNull();
  });
});

describe("a country's cap through a trend", () => {
  // UZ raised 10 → 20 at 10:35, cut 20 → 3 at 10:37; KZ at 10 throughout.
  const at = (minute: number) => Date.parse(`2026-12-07T10:${String(minute).padStart(2, "0")}:00Z`);
  const change = (country: string, minute: number, previous_cap: number, cap: number): CapChange => ({
    country,
    at: new Date(at(minute) + 2_000).toISOString(),
    previous_cap,
    cap,
  });
  const history = {
    changes: [change("UZ", 35, 10, 20), change("UZ", 37, 20, 3)],
    now: new Map([
      ["UZ", 3],
      ["KZ", 10],
    ]),
  };

  it("is the cap in force at each step, not the cap now", () => {
    expect([34, 35, 36, 37, 38].map((minute) => capAt(history, "UZ", at(minute)))).toEqual([10, 10, 20, 20, 3]);
    expect(capAt(history, "KZ", at(35))).toBe(10);
    expect(capAt(history, "GE", at(35))).toBeNull();
    expect([...capsChangedSince(history, at(36)).keys()]).toEqual(["UZ"]);
    expect(capsChangedSince(history, at(38)).size).toBe(0);
  });

  it("over a step, is the highest it was in the step: grants of a minute halted in part are not over it", () => {
    const halted = {
      changes: [change("UZ", 43, 10, 0), change("UZ", 44, 0, 10)],
      now: new Map([["UZ", 10]]),
    };
    const minute = 60_000;
    expect([42, 43, 44, 45].map((m) => capAt(halted, "UZ", at(m), at(m) + minute))).toEqual([10, 10, 10, 10]);
    expect(capAt(halted, "UZ", at(43) + 3_000)).toBe(0); // at a moment within the halt
    expect(capAt(history, "UZ", at(37), at(37) + minute)).toBe(20); // cut to 3 within the step
  });

  it("is drawn on a line of its own for a country whose cap was not the shared one at some step", () => {
    const rows = [34, 35, 36, 37, 38].map((minute) => ({ t: at(minute), UZ: 9, KZ: 10 }));
    const { rows: drawn, own } = withOwnCaps(rows, ["KZ", "UZ"], 10, (country, t) => capAt(history, country, t));
    expect(own).toEqual(["UZ"]);
    expect(drawn.map((row) => row[capKey("UZ")])).toEqual([10, 10, 20, 20, 3]);
    expect(drawn.every((row) => !(capKey("KZ") in row))).toBe(true);
    expect(withOwnCaps(rows, ["KZ"], 10, (country, t) => capAt(history, country, t)).own).toEqual([]);
  });
});

describe("a pair's trend", () => {
  // A minute of a country capped at 10: 10 granted, 13 reported (some granted the minute before).
  const series = (points: { t: string; granted: number; sent: number; delivered: number }[]) => ({
    key: "UZ_beeline",
    points: points.map((point) => ({ ...point, failed: 0, completed: point.delivered, success_rate: 1, latency_p95_ms: null })),
  });

  it("draws sends a minute: granted by grant time within the cap, sent by report time over it", () => {
    const [row] = pairRows(series([{ t: "2026-12-04T05:00:00Z", granted: 10, sent: 13, delivered: 12 }]), "1m");
    expect(row).toEqual({ t: Date.parse("2026-12-04T05:00:00Z"), granted: 10, sent: 13, delivered: 12, rate: 100 });
  });

  it("draws each count a minute whatever the step, so the cap line reads against any range", () => {
    const [hour] = pairRows(series([{ t: "2026-12-04T05:00:00Z", granted: 594, sent: 612, delivered: 540 }]), "1h");
    expect(hour).toMatchObject({ granted: 9.9, sent: 10.2, delivered: 9 });
    const [five] = pairRows(series([{ t: "2026-12-04T05:00:00Z", granted: 49, sent: 55, delivered: 50 }]), "5m");
    expect(five).toMatchObject({ granted: 9.8, sent: 11, delivered: 10 });
  });

  it("draws nothing without a series", () => {
    expect(pairRows(undefined, "1m")).toEqual([]);
  });
});

describe("a success rate of a step", () => {
  it("is told with how many attempts it is made of, its stretch into the running step too", () => {
    const point = (t: string, completed: number, success_rate: number) => ({
      t,
      completed,
      success_rate,
      sent: completed,
      delivered: 0,
      failed: 0,
      granted: completed,
      latency_p95_ms: null,
    });
    const series = [{ key: "UZ", points: [point("2026-12-07T10:37:00Z", 1, 0), point("2026-12-07T10:38:00Z", 20, 0.95)] }];
    const rows = withBasis(pivot(series, (p) => p.success_rate), series, (p) => p.completed);
    expect(rows.map((row) => basisOf(row, "UZ"))).toEqual([1, 20]);
    expect(basisOf(rows[1], "UZ:running")).toBe(20);
    expect(basisOf(rows[0], "KZ")).toBeUndefined();
    expect(withBasis(rows, series, undefined)).toEqual(rows);
  });
});
