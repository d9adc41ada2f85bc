import { describe, expect, it } from "vitest";
import { bucketLabels } from "./UsageCharts";

describe("bucketLabels", () => {
  it("labels a bucket per upper bound and an open-ended one past the last", () => {
    expect(bucketLabels([1, 1000, 5000])).toEqual(["≤ 1 ms", "≤ 1,000 ms", "≤ 5,000 ms", "> 5,000 ms"]);
  });

  it("labels nothing without bounds", () => {
    expect(bucketLabels([])).toEqual([]);
  });
});
