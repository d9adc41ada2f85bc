import { describe, expect, it } from "vitest";
import {
  AUDIT_TARGET_KINDS,
  auditQueryOf,
  filtersFromParams,
  hasFilters,
  NO_FILTERS,
  paramsFromFilters,
  rangeProblem,
  targetKindOf,
  type AuditFilters,
} from "./filters";

const filtered: AuditFilters = {
  action: "pair.updated",
  targetKind: "pair",
  target: "UZ_uzmobile",
  actor: "ops",
  since: "2026-12-06T14:05",
  until: "2026-12-06T15:00:30",
};

describe("filtersFromParams", () => {
  it("reads every filter under the API's own names", () => {
    const params = new URLSearchParams(
      "action=pair.updated&target_kind=pair&target=UZ_uzmobile&actor=ops&since=2026-12-06T14:05&until=2026-12-06T15:00:30",
    );
    expect(filtersFromParams(params)).toEqual(filtered);
  });

  it("reads an empty query string as no filter", () => {
    expect(filtersFromParams(new URLSearchParams())).toEqual(NO_FILTERS);
  });

  it("drops an action or target kind the log does not know, rather than ask for it", () => {
    const params = new URLSearchParams("action=pair.exploded&target_kind=planet&actor=ops");
    expect(filtersFromParams(params)).toEqual({ ...NO_FILTERS, actor: "ops" });
  });

  it("drops a time that is not a minute of a day, rather than send the API a 422", () => {
    for (const since of ["yesterday", "2026-12-06", "2026-12-06T14:05Z", "2026-12-06T14:05+05:00", "14:05"]) {
      expect(filtersFromParams(new URLSearchParams({ since })).since).toBe("");
    }
    expect(filtersFromParams(new URLSearchParams({ until: " 2026-12-06T14:05 " })).until).toBe("2026-12-06T14:05");
  });

  it("trims typed values", () => {
    expect(filtersFromParams(new URLSearchParams("actor=%20ops%20&target=%20")).actor).toBe("ops");
    expect(filtersFromParams(new URLSearchParams("target=%20")).target).toBe("");
  });
});

describe("paramsFromFilters", () => {
  it("writes only the filters set, and reads back the same", () => {
    expect(paramsFromFilters({ ...NO_FILTERS, action: "user.created" }).toString()).toBe("action=user.created");
    expect(filtersFromParams(paramsFromFilters(filtered))).toEqual(filtered);
  });

  it("leaves an unfiltered page without a query string", () => {
    expect(paramsFromFilters(NO_FILTERS).toString()).toBe("");
    expect(paramsFromFilters({ ...NO_FILTERS, actor: "  " }).toString()).toBe("");
  });
});

describe("auditQueryOf", () => {
  it("sends the filters set under the API's names", () => {
    expect(auditQueryOf(filtered)).toEqual({
      action: "pair.updated",
      target_kind: "pair",
      target: "UZ_uzmobile",
      actor: "ops",
      since: "2026-12-06T14:05",
      until: "2026-12-06T15:00:30",
    });
    expect(auditQueryOf({ ...NO_FILTERS, actor: " ops " })).toEqual({ actor: "ops" });
  });

  it("sends nothing without filters", () => {
    expect(auditQueryOf(NO_FILTERS)).toEqual({});
  });
});

describe("hasFilters", () => {
  it("tells whether any filter is set", () => {
    expect(hasFilters(NO_FILTERS)).toBe(false);
    expect(hasFilters({ ...NO_FILTERS, target: "   " })).toBe(false);
    expect(hasFilters({ ...NO_FILTERS, targetKind: "user" })).toBe(true);
    expect(hasFilters({ ...NO_FILTERS, since: "2026-12-06T14:05" })).toBe(true);
  });
});

describe("the target kinds", () => {
  it("are the actions' prefixes, each once", () => {
    expect(targetKindOf("api_key.revoked")).toBe("api_key");
    expect(AUDIT_TARGET_KINDS).toContain("pair");
    expect(AUDIT_TARGET_KINDS).toContain("api_key");
    expect(new Set(AUDIT_TARGET_KINDS).size).toBe(AUDIT_TARGET_KINDS.length);
    expect(AUDIT_TARGET_KINDS.every((kind) => !kind.includes("."))).toBe(true);
  });
});

describe("the time range", () => {
  const range = (since: string, until: string) => rangeProblem({ ...NO_FILTERS, since, until });

  it("is a problem when Before is not later than From, to the second", () => {
    expect(range("2026-12-07T03:11", "2026-12-07T03:11:00")).toContain("“Before” must be later than “From”");
    expect(range("2026-12-07T03:11:13", "2026-12-07T03:10")).not.toBeNull();
  });

  it("is none when Before is later, or either is not set", () => {
    expect(range("2026-12-07T03:11", "2026-12-07T03:11:01")).toBeNull();
    expect(range("", "2026-12-07T03:10")).toBeNull();
    expect(range("2026-12-07T03:10", "")).toBeNull();
  });
});
