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

/** The label of the button that shows an entry's changes; null when it has none to show. */
export function changesLabel(changes: readonly FieldChange[]): string | null {
  if (changes.length === 0) return null;
  return changes.length === 1 ? "1 field" : `${changes.length} fields`;
}
