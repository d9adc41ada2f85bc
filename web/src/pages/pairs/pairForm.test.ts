import { describe, expect, it } from "vitest";
import type { Pair } from "../../api/types";
import {
  addedPrograms,
  emptyForm,
  formFromPair,
  inFormWords,
  noProgramWarning,
  programsStopped,
  serverErrorsToForm,
  SETTABLE_STATES,
  startSessionsLabel,
  stopWarning,
  toUpdatePayload,
  validateForm,
} from "./pairForm";

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

describe("a new pair's programs", () => {
  it("warns before saving a new pair with no program, which would run nothing", () => {
    expect(noProgramWarning(emptyForm(), true)).toBe("No program ticked: this pair will run no session until one is added.");
    expect(noProgramWarning({ ...emptyForm(), programs: ["program1"] }, true)).toBeNull();
    // An edit that takes every program off says which sessions it stops instead.
    expect(noProgramWarning({ ...formFromPair(pair), programs: [] }, false)).toBeNull();
  });
});

describe("a pair's state", () => {
  it("offers only the states a person may set: probing is the policy's", () => {
    expect(SETTABLE_STATES).toEqual(["enabled", "paused", "disabled"]);
  });

  it("leaves a probing pair's state alone when the state is not changed", () => {
    const probing = { ...pair, state: "probing" } as Pair;
    expect(toUpdatePayload({ ...formFromPair(probing), region: "Tashkent" }, probing)).toEqual({ region: "Tashkent" });
  });
});

describe("a pair's phone numbers", () => {
  const check = (phoneNumbers: string) => validateForm({ ...formFromPair(pair), phoneNumbers }, false).phoneNumbers;

  it("flag every line that is not a phone number, not only the first", () => {
    expect(check("hello\n+1234")).toBe('Line 1: "hello" is not a phone number. Line 2: "+1234" is not a phone number.');
  });

  it("number lines as the box shows them, blank ones included", () => {
    expect(check("+998901234567\n\n  hello  \n+998901234568")).toBe('Line 3: "hello" is not a phone number.');
  });

  it("pass when every line is a number", () => {
    expect(check("+998901234567\n+99890 123 45 68\n")).toBeUndefined();
  });

  it("refused by the server are named by their line in the box too", () => {
    const details = [
      { field: "phone_numbers.1", message: "not a valid number" },
      { field: "phone_numbers.2", message: "not a valid number" },
    ];
    expect(serverErrorsToForm(details, "invalid input", "+998901234567\n\n+99812\n+99813").phoneNumbers).toBe(
      "Line 3: not a valid number Line 4: not a valid number",
    );
    expect(serverErrorsToForm(details.slice(0, 1), "invalid input").phoneNumbers).toBe("Line 2: not a valid number");
  });

  it("name the first few bad lines and count the rest", () => {
    const text = Array.from({ length: 8 }, (_, index) => `bad${index + 1}`).join("\n");
    const message = check(text) ?? "";
    expect(message).toContain('Line 5: "bad5" is not a phone number.');
    expect(message).not.toContain("Line 6");
    expect(message).toMatch(/3 more lines are not phone numbers either\.$/);
  });
});

describe("taking programs off a pair", () => {
  const withTwo: Pair = { ...pair, programs: ["program1", "program2", "program3"] };
  const values = { ...formFromPair(withTwo), programs: ["program1"] };
  const session = (program: string, state: "running" | "stopped" | "backoff", on = "UZ_uzmobile") => ({
    pair: on,
    program,
    state,
  });

  it("warns of the sessions it stops: those still running on this pair", () => {
    const sessions = [session("program2", "running"), session("program3", "stopped"), session("program3", "running", "KZ_kcell")];
    expect(programsStopped(values, withTwo, sessions)).toEqual(["program2"]);
    expect(programsStopped(values, withTwo, [...sessions, session("program3", "backoff")])).toEqual(["program2", "program3"]);
    expect(stopWarning(["program2"])).toBe("Saving stops the session of program2 on this pair.");
    expect(stopWarning(["program2", "program3"])).toBe("Saving stops the sessions of program2, program3 on this pair.");
  });

  it("counts every program taken off while the sessions are not known", () => {
    expect(programsStopped(values, withTwo, undefined)).toEqual(["program2", "program3"]);
  });

  it("stops nothing when no program is taken off, or for a new pair", () => {
    expect(programsStopped(formFromPair(withTwo), withTwo, undefined)).toEqual([]);
    expect(programsStopped({ ...emptyForm(), programs: ["program1"] }, undefined, undefined)).toEqual([]);
  });
});

describe("inFormWords", () => {
  it("asks for the box below, not for the API's force", () => {
    expect(inFormWords("IN_vi is high priority: repeat with force to pause it")).toBe(
      "IN_vi is high priority: tick below to pause it anyway",
    );
    expect(
      inFormWords(
        "UZ_x is paused by bob: marked high priority it stays paused, and only an admin can then resume it;" +
          " resume it in the same change (state enabled), or repeat with force to mark it while paused",
      ),
    ).toBe(
      "UZ_x is paused by bob: marked high priority it stays paused, and only an admin can then resume it;" +
        " resume it in the same change (State: enabled), or tick below to mark it while paused anyway",
    );
  });
});
