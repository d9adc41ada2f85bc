import { describe, expect, it } from "vitest";

import { placement } from "./Menu";

const rect = (top: number, bottom: number, right: number) => ({ top, bottom, right }) as DOMRect;
const viewport = { width: 1440, height: 900 };

describe("placement", () => {
  it("opens below its trigger when the list fits there", () => {
    expect(placement(rect(100, 130, 1400), 140, viewport)).toEqual({ right: 40, top: 134 });
  });

  it("opens above its trigger near the window's bottom", () => {
    expect(placement(rect(800, 830, 1400), 140, viewport)).toEqual({ right: 40, bottom: 104 });
  });

  it("stays below when there is no room above either", () => {
    expect(placement(rect(100, 130, 1400), 880, viewport)).toEqual({ right: 40, top: 134 });
  });
});
