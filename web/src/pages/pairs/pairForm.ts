// Form state of the add/edit dialog, its client-side checks, and the mapping
// of server validation errors (`details: [{field, message}]`) back onto fields.
import type { FieldError } from "../../api/errors";
import { PAIR_STATES, type Pair, type PairCreate, type PairState, type PairUpdate, type Session } from "../../api/types";

export interface PairFormValues {
  country: string;
  operator: string;
  slug: string;
  region: string;
  isHighPriority: boolean;
  phoneNumbers: string;
  programs: string[];
  host: string;
  state: PairState;
  stateReason: string;
  pauseThreshold: string;
  resumeThreshold: string;
  /** Start on save the sessions of its programs (a new pair) or of the programs added (an edit). */
  startSessions: boolean;
}

export type PairFormField = keyof PairFormValues;
export type PairFormErrors = Partial<Record<PairFormField | "form", string>>;

// Mirrors the server's limits so most mistakes are caught before a round trip.
const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;
const PHONE_SHAPE = /^\+?[0-9][0-9 ()-]{4,24}$/;
const MAX_TEXT = 64;
const MAX_PHONE_NUMBERS = 50;
const MAX_PROGRAMS = 32;

export function emptyForm(): PairFormValues {
  return {
    country: "",
    operator: "",
    slug: "",
    region: "",
    isHighPriority: false,
    phoneNumbers: "",
    programs: [],
    host: "local",
    state: "enabled",
    stateReason: "",
    pauseThreshold: "",
    resumeThreshold: "",
    startSessions: true,
  };
}

export function formFromPair(pair: Pair): PairFormValues {
  return {
    country: pair.country,
    operator: pair.operator,
    slug: pair.slug,
    region: pair.region ?? "",
    isHighPriority: pair.is_high_priority,
    phoneNumbers: pair.phone_numbers.join("\n"),
    programs: [...pair.programs],
    host: pair.host,
    state: pair.state,
    stateReason: pair.state_reason ?? "",
    pauseThreshold: pair.pause_threshold?.toString() ?? "",
    resumeThreshold: pair.resume_threshold?.toString() ?? "",
    // As for a new pair: a program added gets a running session unless told otherwise.
    startSessions: true,
  };
}

/** The programs whose sessions a save creates: all of a new pair's, the ones added to a pair. */
export function addedPrograms(values: PairFormValues, pair: Pair | undefined): string[] {
  return pair ? values.programs.filter((program) => !pair.programs.includes(program)) : values.programs;
}

// States in which a session has no process left: removing its program stops nothing.
const AT_REST: ReadonlySet<Session["state"]> = new Set(["stopped", "exited", "fatal"]);
const isRunning = (session: Pick<Session, "state">): boolean => !AT_REST.has(session.state);

/** The programs taken off a pair whose sessions a save would stop: those whose session on
 * the pair is not at rest, or every program taken off when the sessions are not known. */
export function programsStopped(
  values: PairFormValues,
  pair: Pair | undefined,
  sessions: readonly Pick<Session, "pair" | "program" | "state">[] | undefined,
): string[] {
  if (!pair) return [];
  const removed = pair.programs.filter((program) => !values.programs.includes(program));
  if (!sessions) return removed;
  return removed.filter((program) =>
    sessions.some((session) => session.pair === pair.key && session.program === program && isRunning(session)),
  );
}

/** What the delete dialog says of a pair's sessions: how many run and will be stopped, or,
 * while the sessions are not known, that any running will be. */
export function deleteStopsSessions(pair: Pick<Pair, "key">, sessions: readonly Pick<Session, "pair" | "state">[] | undefined): string {
  if (!sessions) return "Any of its sessions still running will be stopped.";
  const running = sessions.filter((session) => session.pair === pair.key && isRunning(session)).length;
  if (running === 0) return "None of its sessions is running.";
  return running === 1 ? "Its 1 running session will be stopped." : `Its ${running} running sessions will be stopped.`;
}

/** The states a person sets: probing is the success-rate policy's alone (the API refuses it). */
export const SETTABLE_STATES: readonly PairState[] = PAIR_STATES.filter((state) => state !== "probing");

/** The warning before saving a new pair that would run nothing. */
export function noProgramWarning(values: PairFormValues, isNew: boolean): string | null {
  return isNew && values.programs.length === 0 ? "No program ticked: this pair will run no session until one is added." : null;
}

/** The warning before a save that stops sessions. */
export function stopWarning(programs: readonly string[]): string {
  return `Saving stops the ${programs.length === 1 ? "session" : "sessions"} of ${programs.join(", ")} on this pair.`;
}

/** What the start-sessions box says, ticked or not. */
export function startSessionsLabel(added: readonly string[], start: boolean, isNew: boolean): string {
  if (!start) {
    return `Start ${isNew ? "its" : "the new"} sessions on save (unticked: they stay stopped until started on the Programs page).`;
  }
  if (isNew) return `Start its ${added.length === 1 ? "session" : `${added.length} sessions`} on save.`;
  return `Start the ${added.length === 1 ? "session" : "sessions"} of ${added.join(", ")} on save.`;
}

/** The phone lines (`phoneLines`) with their line numbers in the box, blank lines counted. */
export function numberedPhoneLines(text: string): Array<{ line: string; number: number }> {
  return text
    .split("\n")
    .map((line, index) => ({ line: line.trim(), number: index + 1 }))
    .filter(({ line }) => line.length > 0);
}

export function phoneLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

// Bad lines named one by one, up to this many.
const SHOWN_BAD_LINES = 5;

/** Every line of the text that is not a phone number, by its line number in the box
 * (blank lines count): `Line 1: "hello" is not a phone number. Line 3: …`. */
export function phoneErrors(text: string): string | undefined {
  const bad = numberedPhoneLines(text).filter(({ line }) => !PHONE_SHAPE.test(line));
  if (bad.length === 0) return undefined;
  const shown = bad.slice(0, SHOWN_BAD_LINES).map(({ line, number }) => `Line ${number}: "${line}" is not a phone number.`);
  if (bad.length > SHOWN_BAD_LINES) shown.push(`${bad.length - SHOWN_BAD_LINES} more lines are not phone numbers either.`);
  return shown.join(" ");
}

function parseThreshold(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

function thresholdError(text: string): string | undefined {
  const value = parseThreshold(text);
  if (value === null) return undefined;
  return Number.isFinite(value) && value >= 0 && value <= 1 ? undefined : "Enter a ratio between 0 and 1.";
}

export function validateForm(values: PairFormValues, isNew: boolean): PairFormErrors {
  const errors: PairFormErrors = {};
  if (isNew && !values.country) errors.country = "Choose a country.";
  const operator = values.operator.trim();
  if (!operator) errors.operator = "Enter the operator name.";
  else if (operator.length > MAX_TEXT) errors.operator = `At most ${MAX_TEXT} characters.`;
  const slug = values.slug.trim();
  if (isNew && slug && !SLUG_PATTERN.test(slug)) {
    errors.slug = "Lowercase letters, digits and dashes, starting with a letter or digit (max 32).";
  }
  if (values.region.trim().length > MAX_TEXT) errors.region = `At most ${MAX_TEXT} characters.`;

  const phones = phoneLines(values.phoneNumbers);
  const badLines = phoneErrors(values.phoneNumbers);
  if (phones.length > MAX_PHONE_NUMBERS) errors.phoneNumbers = `At most ${MAX_PHONE_NUMBERS} numbers.`;
  else if (badLines) errors.phoneNumbers = badLines;

  if (values.programs.length > MAX_PROGRAMS) errors.programs = `At most ${MAX_PROGRAMS} programs.`;
  const pause = thresholdError(values.pauseThreshold);
  if (pause) errors.pauseThreshold = pause;
  const resume = thresholdError(values.resumeThreshold);
  if (resume) errors.resumeThreshold = resume;
  return errors;
}

export function hasErrors(errors: PairFormErrors): boolean {
  return Object.values(errors).some(Boolean);
}

export function toCreatePayload(values: PairFormValues): PairCreate {
  const payload: PairCreate = {
    country: values.country,
    operator: values.operator.trim(),
    is_high_priority: values.isHighPriority,
    phone_numbers: phoneLines(values.phoneNumbers),
    programs: values.programs,
    host: values.host,
    start_sessions: values.startSessions && values.programs.length > 0,
  };
  if (values.slug.trim()) payload.slug = values.slug.trim();
  if (values.region.trim()) payload.region = values.region.trim();
  const pause = parseThreshold(values.pauseThreshold);
  if (pause !== null) payload.pause_threshold = pause;
  const resume = parseThreshold(values.resumeThreshold);
  if (resume !== null) payload.resume_threshold = resume;
  return payload;
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((item, index) => item === b[index]);

/** Only the fields that changed, so an edit never touches what the user left alone. */
export function toUpdatePayload(values: PairFormValues, pair: Pair): PairUpdate {
  const payload: PairUpdate = {};
  const operator = values.operator.trim();
  if (operator !== pair.operator) payload.operator = operator;
  const region = values.region.trim() || null;
  if (region !== (pair.region ?? null)) payload.region = region;
  if (values.isHighPriority !== pair.is_high_priority) payload.is_high_priority = values.isHighPriority;
  if (values.host !== pair.host) payload.host = values.host;
  if (values.state !== pair.state) {
    payload.state = values.state;
    if (values.stateReason.trim()) payload.state_reason = values.stateReason.trim();
  }
  const phones = phoneLines(values.phoneNumbers);
  if (!sameList(phones, pair.phone_numbers)) payload.phone_numbers = phones;
  if (!sameList([...values.programs].sort(), [...pair.programs].sort())) {
    payload.programs = values.programs;
    if (values.startSessions && addedPrograms(values, pair).length > 0) payload.start_sessions = true;
  }
  const pause = parseThreshold(values.pauseThreshold);
  if (pause !== (pair.pause_threshold ?? null)) payload.pause_threshold = pause;
  const resume = parseThreshold(values.resumeThreshold);
  if (resume !== (pair.resume_threshold ?? null)) payload.resume_threshold = resume;
  return payload;
}

const SERVER_FIELDS: Record<string, PairFormField> = {
  country: "country",
  operator: "operator",
  slug: "slug",
  region: "region",
  is_high_priority: "isHighPriority",
  phone_numbers: "phoneNumbers",
  programs: "programs",
  host: "host",
  state: "state",
  state_reason: "stateReason",
  pause_threshold: "pauseThreshold",
  resume_threshold: "resumeThreshold",
};

/** Maps `phone_numbers.2` to the phone field as "Line 3: …" (the line of the third number in
 * `phoneText`, the box as sent, when given); unknown fields go to the form. */
export function serverErrorsToForm(details: readonly FieldError[], fallback: string, phoneText?: string): PairFormErrors {
  const errors: PairFormErrors = {};
  const lineNumbers = phoneText === undefined ? [] : numberedPhoneLines(phoneText).map(({ number }) => number);
  const append = (key: PairFormField | "form", message: string) => {
    errors[key] = errors[key] ? `${errors[key]} ${message}` : message;
  };
  for (const { field, message } of details) {
    const [name = "", index] = field.replace(/^(body|query)\./, "").split(".");
    const target = SERVER_FIELDS[name];
    if (!target) append("form", field ? `${field}: ${message}` : message);
    else if (index !== undefined && /^\d+$/.test(index)) {
      const line = target === "phoneNumbers" ? lineNumbers[Number(index)] : undefined;
      append(target, `Line ${line ?? Number(index) + 1}: ${message}`);
    }
    else append(target, message);
  }
  if (!hasErrors(errors)) errors.form = fallback;
  return errors;
}

/** The server's question back in the pair form's words: it asks the API's caller to
 * repeat the change with force, the form's user to tick the box below it. */
export function inFormWords(message: string): string {
  return message
    .replace("(state enabled)", "(State: enabled)")
    .replace(/repeat with force to (.+)$/, "tick below to $1 anyway");
}
