import { describe, expect, it } from "vitest";
import { changedFields, changesLabel, targetDetail, valueText } from "./changes";

describe("changedFields", () => {
  it("keeps only the fields whose value changed, before and after", () => {
    const before = { username: "bob", role: "operator", disabled: false, password_changed: false };
    const after = { username: "bob", role: "viewer", disabled: false, password_changed: true };
    expect(changedFields(before, after)).toEqual([
      { field: "role", before: "operator", after: "viewer" },
      { field: "password_changed", before: "false", after: "true" },
    ]);
  });

  it("shows every field of a record created, with nothing before", () => {
    expect(changedFields(null, { username: "bob", role: "viewer" })).toEqual([
      { field: "username", before: null, after: "bob" },
      { field: "role", before: null, after: "viewer" },
    ]);
  });

  it("shows every field of a record deleted, or kept as it was by a refusal, with nothing after", () => {
    expect(changedFields({ key: "UZ_uzmobile" }, null)).toEqual([{ field: "key", before: "UZ_uzmobile", after: null }]);
  });

  it("tells a field gone or new from one set to null", () => {
    expect(changedFields({ region: null, old: 1 }, { region: "West Bengal", added: null })).toEqual([
      { field: "region", before: "null", after: "West Bengal" },
      { field: "old", before: "1", after: null },
      { field: "added", before: null, after: "null" },
    ]);
  });

  it("compares lists and objects by their contents", () => {
    const before = { phone_numbers: ["+998901234567"], thresholds: { pause: 0.5 } };
    expect(changedFields(before, structuredClone(before))).toEqual([]);
    expect(changedFields(before, { ...before, phone_numbers: ["+998901234567", "+998901234568"] })).toEqual([
      { field: "phone_numbers", before: '[\n  "+998901234567"\n]', after: '[\n  "+998901234567",\n  "+998901234568"\n]' },
    ]);
  });

  it("has nothing to show without records", () => {
    expect(changedFields(null, null)).toEqual([]);
  });
});

describe("valueText", () => {
  it("shows a string as it is and anything else as JSON", () => {
    expect(valueText("viewer")).toBe("viewer");
    expect(valueText("")).toBe("");
    expect(valueText(3)).toBe("3");
    expect(valueText(true)).toBe("true");
    expect(valueText(null)).toBe("null");
    expect(valueText({ a: 1 })).toBe('{\n  "a": 1\n}');
  });
});

describe("changesLabel", () => {
  it("names what changed, or says there is nothing to show", () => {
    expect(changesLabel([])).toBeNull();
    expect(changesLabel([{ field: "role", before: "operator", after: "viewer" }])).toBe("role: operator → viewer");
    expect(changesLabel([
      { field: "role", before: "operator", after: "viewer" },
      { field: "disabled", before: "false", after: "true" },
    ])).toBe("role: operator → viewer · 1 more");
  });

  it("leaves out the fields every change touches: a priority's change reads as one", () => {
    expect(changesLabel([
      { field: "is_high_priority", before: "false", after: "true" },
      { field: "updated_at", before: "2026-01-05T12:00:00Z", after: "2026-01-05T12:05:00Z" },
    ])).toBe("is_high_priority: false → true");
  });

  it("names a field alone when its values would not fit", () => {
    const numbers = { field: "phone_numbers", before: '[\n  "+998901"\n]', after: '[\n  "+998902"\n]' };
    expect(changesLabel([numbers])).toBe("phone_numbers");
    expect(changesLabel([{ field: "message", before: "x".repeat(40), after: "y" }])).toBe("message");
  });

  it("reads a cap's cut and a session's start by what changed, not by their bookkeeping", () => {
    expect(changesLabel([
      { field: "cap", before: "10", after: "8" },
      { field: "previous_cap", before: "null", after: "10" },
      { field: "cap_changed_at", before: "null", after: "2026-01-05T12:00:00Z" },
    ])).toBe("cap: 10 → 8");
    expect(changesLabel([
      { field: "desired", before: "stopped", after: "running" },
      { field: "desired_at", before: "2026-01-05T11:00:00Z", after: "2026-01-05T12:00:00Z" },
      { field: "desired_actor", before: "demo", after: "admin" },
      { field: "generation", before: "3", after: "4" },
    ])).toBe("desired: stopped → running");
    expect(changesLabel([
      { field: "desired_reason", before: "night", after: "stuck" },
      { field: "generation", before: "3", after: "4" },
      { field: "restart_requested_at", before: "null", after: "2026-01-05T12:00:00Z" },
    ])).toBe("restart_requested_at · 1 more");
  });

  it("counts the fields of a record created or deleted", () => {
    const created = [
      { field: "key", before: null, after: "UZ_ucell" },
      { field: "state", before: null, after: "enabled" },
    ];
    expect(changesLabel(created)).toBe("2 fields");
    expect(changesLabel([{ field: "key", before: "UZ_ucell", after: null }])).toBe("1 field");
  });
});

describe("changesLabel of a state", () => {
  it("says the state's change first, a pause or a resume read at a glance", () => {
    const state = { field: "state", before: "enabled", after: "paused" };
    const changed = { field: "state_changed_at", before: null, after: "2026-01-05T12:00:00Z" };
    expect(changesLabel([state, changed])).toBe("enabled → paused");
    expect(changesLabel([state, changed, { field: "state_reason", before: null, after: "maintenance" }])).toBe(
      "enabled → paused · 1 more",
    );
  });
});

describe("targetDetail", () => {
  it("names an alert by its rule and subject, anything else by its id alone", () => {
    const alert = { rule: "priority_pair_failing", subject: "IN_vi" };
    expect(targetDetail({ target_kind: "alert", before: alert, after: { ...alert, state: "open" } })).toBe(
      "priority_pair_failing · IN_vi",
    );
    expect(targetDetail({ target_kind: "alert", before: null, after: null })).toBeNull();
    expect(targetDetail({ target_kind: "pair", before: null, after: { rule: "x", subject: "y" } })).toBeNull();
  });
});
