// What an audit entry changed, field by field, apart from React.
import type { AuditEvent } from "../../api/audit";

type AuditRecord = NonNullable<AuditEvent["before"]>;

export interface FieldChange {
  field: string;
  /** The value as text; null when the record had no such field (or there was no record). */
  before: string | null;
  after: string | null;
}

/** A value as the table shows it: a string as it is, anything else as JSON (lists and
 * objects indented, so a long one reads line by line). */
export function valueText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  return typeof value === "object" && value !== null ? JSON.stringify(value, null, 2) : JSON.stringify(value);
}

const textOf = (record: AuditRecord | null, field: string): string | null =>
  record !== null && Object.hasOwn(record, field) ? valueText(record[field]) : null;

/** The fields that differ between `before` and `after`, in the record's own order (the
 * fields only `after` has last). A record created or deleted has every field changed; a
 * refused change, kept as it was, has its fields before and none after. */
export function changedFields(before: AuditRecord | null, after: AuditRecord | null): FieldChange[] {
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  return fields
    .map((field) => ({ field, before: textOf(before, field), after: textOf(after, field) }))
    .filter((change) => change.before !== change.after);
}

// Changed with any change of the record (its time, who changed it, what it was before):
// never what a reader looks for in the label.
const BOOKKEEPING = new Set([
  "updated_at",
  "state_changed_at",
  "state_actor",
  "previous_cap",
  "cap_changed_at",
  "desired_at",
  "desired_actor",
  "generation",
]);
const FIRST_READ = ["state", "desired", "restart_requested_at"];
// A change said whole up to this long; past it, by its field's name.
const SAID_MAX = 32;

/** The label of the button that shows an entry's changes; null when it has none to show.
 * What changed first, whole when it is short (`role: operator → viewer`, a state's
 * `enabled → paused`), else by name, and how many more (`· 2 more`), leaving out the
 * fields every change touches; a record created or deleted, by its count of fields. */
export function changesLabel(changes: readonly FieldChange[]): string | null {
  if (changes.length === 0) return null;
  if (changes.every((change) => change.before === null) || changes.every((change) => change.after === null)) {
    return changes.length === 1 ? "1 field" : `${changes.length} fields`;
  }
  const told = changes.filter((change) => !BOOKKEEPING.has(change.field));
  const shown = told.length > 0 ? told : changes;
  // What a reader looks for first: a pause or a resume, a start or a stop, a restart.
  const first =
    FIRST_READ.map((field) => shown.find((change) => change.field === field && change.before !== null)).find(
      (change) => change !== undefined,
    ) ?? shown[0];
  if (first === undefined) return null;
  const more = shown.length > 1 ? ` · ${shown.length - 1} more` : "";
  return `${said(first)}${more}`;
}

function said(change: FieldChange): string {
  const values = `${change.before ?? "—"} → ${change.after ?? "—"}`;
  const whole = change.field === "state" ? values : `${change.field}: ${values}`;
  return whole.length <= SAID_MAX && !whole.includes("\n") ? whole : change.field;
}

/** What an entry's target is, beside its id, when the id alone says nothing to a reader:
 * an alert's rule and subject. */
export function targetDetail(event: Pick<AuditEvent, "target_kind" | "before" | "after">): string | null {
  if (event.target_kind !== "alert") return null;
  const record = event.after ?? event.before;
  const rule = record?.rule;
  const subject = record?.subject;
  return typeof rule === "string" && typeof subject === "string" ? `${rule} · ${subject}` : null;
}
