import { describe, expect, it } from "vitest";
import type { Pair } from "../../api/types";
import { addedPrograms, emptyForm, formFromPair, startSessionsLabel, toUpdatePayload } from "./pairForm";

const pair = {
  key: "UZ_uzmobile",
  country: "UZ",
  operator: "UzMobile",
  slug: "uzmobile",
  region: null,
  is_high_priority: false,
  state: "enabled",
  state_reason: null,
  state_actor: null,
  state_changed_at: null,
  pause_threshold: null,
  resume_threshold: null,
  phone_numbers: [],
  programs: ["program1"],
  host: "local",
} as unknown as Pair;

describe("adding programs to a pair", () => {
  it("asks to start the sessions of the programs added, and only when some are", () => {
    const values = { ...formFromPair(pair), programs: ["program1", "program2"] };
    expect(addedPrograms(values, pair)).toEqual(["program2"]);
    expect(toUpdatePayload(values, pair)).toEqual({ programs: ["program1", "program2"], start_sessions: true });
    expect(toUpdatePayload({ ...values, startSessions: false }, pair)).toEqual({ programs: ["program1", "program2"] });
    // A program removed starts nothing.
    expect(toUpdatePayload({ ...values, programs: [] }, pair)).toEqual({ programs: [] });
  });

  it("counts every program of a new pair as added", () => {
    expect(addedPrograms({ ...emptyForm(), programs: ["program1", "program2"] }, undefined)).toEqual(["program1", "program2"]);
  });

  it("says which sessions start, or that they stay stopped", () => {
    expect(startSessionsLabel(["program2"], true, false)).toBe("Start the session of program2 on save.");
    expect(startSessionsLabel(["program2", "program3"], true, false)).toBe("Start the sessions of program2, program3 on save.");
    expect(startSessionsLabel(["program2"], false, false)).toBe(
      "Start the new sessions on save (unticked: they stay stopped until started on the Programs page).",
    );
    expect(startSessionsLabel(["program1", "program2"], true, true)).toBe("Start its 2 sessions on save.");
    expect(startSessionsLabel(["program1"], true, true)).toBe("Start its session on save.");
  });
});
