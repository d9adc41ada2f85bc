import { describe, expect, it } from "vitest";
import { keyFormErrors, quotaError, serverErrorsToKeyForm, toKeyPayload } from "./keyForm";

const values = (daily: string, monthly = "") => ({ name: " ci ", scopes: ["read" as const], daily, monthly });

describe("a key's quotas", () => {
  it("are whole numbers of at least 1, or empty for none", () => {
    expect(quotaError("", "daily")).toBeUndefined();
    expect(quotaError("1", "daily")).toBeUndefined();
    expect(quotaError(" 500 ", "monthly")).toBeUndefined();
    for (const bad of ["0", "-3", "1.5", "1e3", "ten"]) {
      expect(quotaError(bad, "daily")).toBe("A daily quota is a whole number of at least 1, or empty for none.");
    }
    expect(quotaError("0", "monthly")).toBe("A monthly quota is a whole number of at least 1, or empty for none.");
  });

  it("stay within the server's limits", () => {
    expect(quotaError("100000000", "daily")).toBeUndefined();
    expect(quotaError("100000001", "daily")).toBe("A daily quota is at most 100,000,000.");
    expect(quotaError("1000000000", "monthly")).toBeUndefined();
  });

  it("are checked on the field they belong to", () => {
    expect(keyFormErrors(values("0", "2.5"))).toEqual({
      daily: "A daily quota is a whole number of at least 1, or empty for none.",
      monthly: "A monthly quota is a whole number of at least 1, or empty for none.",
    });
    expect(keyFormErrors(values("", "10"))).toEqual({});
  });

  it("are sent only when given", () => {
    expect(toKeyPayload(values(""))).toEqual({ name: "ci", scopes: ["read"] });
    expect(toKeyPayload(values("5", "100"))).toEqual({ name: "ci", scopes: ["read"], daily_quota: 5, monthly_quota: 100 });
  });
});

describe("the server's validation errors", () => {
  it("go to the field they name, a quota's in plain words", () => {
    expect(
      serverErrorsToKeyForm(
        [
          { field: "body.daily_quota", message: "Input should be greater than or equal to 1" },
          { field: "name", message: "String should have at most 64 characters" },
        ],
        "invalid input",
      ),
    ).toEqual({
      daily: "A daily quota is a whole number from 1 to 100,000,000, or empty for none.",
      name: "String should have at most 64 characters",
    });
  });

  it("go to the form when they name no field of it", () => {
    expect(serverErrorsToKeyForm([{ field: "owner", message: "Extra inputs are not permitted" }], "invalid input")).toEqual({
      form: "owner: Extra inputs are not permitted",
    });
    expect(serverErrorsToKeyForm([], "invalid input")).toEqual({ form: "invalid input" });
  });
});
