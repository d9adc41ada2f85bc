import { Fragment, useState } from "react";
import type { AuditEvent } from "../../api/audit";
import { Identifier } from "../../components/Identifier";
import { formatDateTime } from "../../format/time";
import { changedFields, changesLabel, targetDetail, type FieldChange } from "./changes";

const FORCED_HINT = "A high-priority pair's protection was waived";
const COLUMN_COUNT = 6;

/** The log's entries in its own order, newest first: it is a record, not a list to sort. */
export function AuditTable({ events }: { events: readonly AuditEvent[] }) {
  const [openIds, setOpenIds] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpenIds((current) => {
      const next = new Set(current);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <div className="table-wrap">
      <table className="table audit-table" data-testid="audit-table">
        <colgroup>
          {["changes", "when", "who", "action", "target", "reason"].map((column) => (
            <col key={column} className={`audit-table__col--${column}`} />
          ))}
        </colgroup>
        <thead>
          <tr>
            {/* First, where a narrow screen shows it without scrolling the table sideways. */}
            <th scope="col">Before → after</th>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <AuditRow key={event.id} event={event} open={openIds.has(event.id)} onToggle={() => toggle(event.id)} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AuditRow({ event, open, onToggle }: { event: AuditEvent; open: boolean; onToggle: () => void }) {
  const changes = changedFields(event.before, event.after);
  const label = changesLabel(changes);
  const detail = targetDetail(event);
  const changesId = `audit-changes-${event.id}`;
  return (
    <Fragment>
      <tr
        data-testid="audit-row"
        data-action={event.action}
        data-target={event.target}
        data-actor={event.actor}
        className={open ? "audit-table__row--open" : undefined}
      >
        <td>
          {label === null ? (
            <span className="muted">—</span>
          ) : (
            <button
              type="button"
              className="button button--small audit-table__toggle"
              aria-expanded={open}
              aria-controls={changesId}
              onClick={onToggle}
              data-testid="audit-changes-toggle"
            >
              <span aria-hidden="true">{open ? "▾" : "▸"}</span> {label}
            </button>
          )}
        </td>
        <td title={event.at} data-testid="audit-when">
          {formatDateTime(event.at)}
        </td>
        <td data-testid="audit-who">
          <Identifier value={event.actor} testId="audit-actor" /> <span className={`role role--${event.actor_role}`}>{event.actor_role}</span>
          {event.api_key_id !== null && (
            <p className="audit-note" data-testid="audit-api-key">
              with API key <Identifier as="code" value={event.api_key_id} />
            </p>
          )}
        </td>
        <td>
          <Identifier as="code" value={event.action} testId="audit-action" />
          {event.forced && (
            <p className="audit-note">
              <span className="badge badge--warning" title={FORCED_HINT} data-testid="audit-forced">
                forced
              </span>
            </p>
          )}
        </td>
        <td data-testid="audit-target">
          <span className="audit-note">{event.target_kind}</span>
          <br />
          <Identifier as="code" value={event.target} />
          {detail !== null && (
            <p className="audit-note" data-testid="audit-target-detail">
              {detail}
            </p>
          )}
        </td>
        <td className="audit-table__reason" data-testid="audit-reason">
          {event.reason ?? <span className="muted">—</span>}
        </td>
      </tr>
      {open && (
        <tr className="audit-table__changes" id={changesId}>
          <td colSpan={COLUMN_COUNT}>
            <ChangesTable changes={changes} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

function ChangesTable({ changes }: { changes: readonly FieldChange[] }) {
  return (
    <table className="audit-changes" data-testid="audit-changes">
      <colgroup>
        <col className="audit-changes__field" />
        <col />
        <col />
      </colgroup>
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((change) => (
          <tr key={change.field} data-testid="audit-change" data-field={change.field}>
            <td>
              <code>{change.field}</code>
            </td>
            <td data-testid="audit-change-before">
              <ChangedValue value={change.before} />
            </td>
            <td data-testid="audit-change-after">
              <ChangedValue value={change.after} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ChangedValue({ value }: { value: string | null }) {
  if (value === null) {
    return (
      <span className="muted" title="Not in the record">
        —
      </span>
    );
  }
  // A long value (a list of numbers, a message's text) scrolls in its own box.
  return <pre className="audit-value">{value}</pre>;
}
