import { describe, expect, it } from "vitest";

import { templateValues } from "./sendText";

describe("templateValues", () => {
  it("names each value", () => {
    expect(templateValues({ token: "123456", name: "Ali" })).toBe("token = 123456, name = Ali");
  });

  it("says none when there are none", () => {
    expect(templateValues({})).toBe("—");
  });
});
