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

// Changed with any change of the record: never what a reader looks for in the label.
const BOOKKEEPING = new Set(["updated_at", "state_changed_at", "state_actor"]);
// A label longer than this would crowd the time beside it.
const LABEL_MAX = 32;

/** The label of the button that shows an entry's changes; null when it has none to show.
 * A change of a state (a pair paused, resumed) says so: it is what a reader looks for.
 * Otherwise what changed, by name (`role: operator → viewer`, `is_high_priority`,
 * `programs +1`), leaving out the fields every change touches; a record created or
 * deleted, by its count of fields. */
export function changesLabel(changes: readonly FieldChange[]): string | null {
  if (changes.length === 0) return null;
  const count = changes.length === 1 ? "1 field" : `${changes.length} fields`;
  if (changes.every((change) => change.before === null) || changes.every((change) => change.after === null)) {
    return count;
  }
  const told = changes.filter((change) => !BOOKKEEPING.has(change.field));
  const state = told.find((change) => change.field === "state");
  if (state?.before != null && state.after != null) {
    const others = told.length - 1;
    return `${state.before} → ${state.after}${others > 0 ? ` · ${others} more` : ""}`;
  }
  const [first, ...rest] = told.length > 0 ? told : changes;
  if (first === undefined) return count;
  if (rest.length === 0) {
    const said = `${first.field}: ${first.before ?? ""} → ${first.after ?? ""}`;
    return said.length <= LABEL_MAX && !said.includes("\n") ? said : first.field;
  }
  return `${first.field} +${rest.length}`;
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
