import { useMutation } from "@tanstack/react-query";
import { useMemo, useState, type ReactNode } from "react";
import { bulkSessionAction } from "../../api/endpoints";
import { errorMessage } from "../../api/errors";
import {
  SESSION_ACTIONS,
  type BulkActionRequest,
  type Session,
  type SessionAction,
  type SessionActionResult,
} from "../../api/types";
import { Dialog } from "../../components/Dialog";
import { bulkPlan, describeScope, inScope, needsForce, unchangedNote, type BulkScope } from "./grouping";

interface BulkActionDialogProps {
  sessions: readonly Session[];
  initialScope: BulkScope;
  initialAction: SessionAction;
  countries: ReadonlyArray<{ code: string; name: string }>;
  programs: readonly string[];
  pairs: readonly string[];
  isAdmin: boolean;
  onDone: (title: string, results: SessionActionResult[]) => void;
  onClose: () => void;
}

const SHOWN_NAMES = 12;

function toRequest(scope: BulkScope, action: SessionAction, reason: string, force: boolean): BulkActionRequest {
  const base = { action, force, ...(reason.trim() ? { reason: reason.trim() } : {}) };
  switch (scope.kind) {
    case "all":
      return { ...base, all: true };
    case "country":
      return { ...base, all: false, country: scope.country };
    case "program":
      return { ...base, all: false, program: scope.program };
    case "pair":
      return { ...base, all: false, operator: scope.pair };
  }
}

export function BulkActionDialog({
  sessions,
  initialScope,
  initialAction,
  countries,
  programs,
  pairs,
  isAdmin,
  onDone,
  onClose,
}: BulkActionDialogProps) {
  const [action, setAction] = useState<SessionAction>(initialAction);
  const [scope, setScope] = useState<BulkScope>(initialScope);
  const [reason, setReason] = useState("");
  const [acknowledged, setAcknowledged] = useState(false);
  const bulk = useMutation({
    mutationFn: ({ request }: { request: BulkActionRequest; title: string }) => bulkSessionAction(request),
    onSuccess: (results, { title }) => onDone(title, results),
  });
  // The page closes the dialog once done: it stays busy until then.
  const busy = bulk.isPending || bulk.isSuccess;
  const error = bulk.error;

  const targets = useMemo(() => sessions.filter((session) => inScope(session, scope)), [sessions, scope]);
  // Only the sessions the action would change count: a start of running ones does nothing.
  const plan = useMemo(() => bulkPlan(targets, action), [targets, action]);
  const changed = plan.changed;
  const note = unchangedNote(plan, action, describeScope(scope));
  // A stop or a restart of a high-priority pair's running sessions: an admin's, with force.
  const highPriority = targets.filter((session) => needsForce(session, action));
  const forced = isAdmin && highPriority.length > 0;

  const change = (next: { action?: SessionAction; scope?: BulkScope }) => {
    if (next.action) setAction(next.action);
    if (next.scope) setScope(next.scope);
    // What was acknowledged may no longer be what would happen.
    setAcknowledged(false);
    bulk.reset();
  };

  const changeKind = (kind: BulkScope["kind"]) => {
    if (kind === "all") change({ scope: { kind } });
    if (kind === "country") change({ scope: { kind, country: countries[0]?.code ?? "" } });
    if (kind === "program") change({ scope: { kind, program: programs[0] ?? "" } });
    if (kind === "pair") change({ scope: { kind, pair: pairs[0] ?? "" } });
  };

  const confirm = () =>
    bulk.mutate({
      request: toRequest(scope, action, reason, forced),
      title: `${capitalize(action)} ${describeScope(scope)}`,
    });

  return (
    <Dialog
      title="Bulk session action"
      onClose={onClose}
      testId="bulk-dialog"
      wide
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className={action === "stop" ? "button button--danger" : "button button--primary"}
            disabled={busy || changed.length === 0 || (forced && !acknowledged)}
            onClick={confirm}
            data-testid="bulk-confirm"
          >
            {busy
              ? "Working…"
              : changed.length === 0
                ? `Nothing to ${action}`
                : `${capitalize(action)} ${changed.length} session${changed.length === 1 ? "" : "s"}`}
          </button>
        </>
      }
    >
      <div className="form-grid">
        <fieldset className="field form-grid__full">
          <legend className="field__label">Action</legend>
          <div className="segmented" role="radiogroup">
            {SESSION_ACTIONS.map((item) => (
              <label key={item} className={item === action ? "segmented__item segmented__item--on" : "segmented__item"}>
                <input
                  type="radio"
                  name="bulk-action"
                  value={item}
                  checked={item === action}
                  onChange={() => change({ action: item })}
                  data-testid={`bulk-action-${item}`}
                />
                {capitalize(item)}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="field">
          <label className="field__label" htmlFor="bulk-scope">
            Apply to
          </label>
          <select
            id="bulk-scope"
            className="input"
            value={scope.kind}
            onChange={(event) => changeKind(event.target.value as BulkScope["kind"])}
            data-testid="bulk-scope"
          >
            <option value="country">A country</option>
            <option value="program">A program</option>
            <option value="pair">A pair</option>
            <option value="all">All sessions</option>
          </select>
        </div>
        <ScopeValue scope={scope} countries={countries} programs={programs} pairs={pairs} onChange={(next) => change({ scope: next })} />
        <div className="field form-grid__full">
          <label className="field__label" htmlFor="bulk-reason">
            Reason <span className="muted">(optional, kept in the event log)</span>
          </label>
          <input
            id="bulk-reason"
            className="input"
            maxLength={256}
            value={reason}
            onChange={(event) => setReason(event.target.value)}
            data-testid="bulk-reason"
          />
        </div>
      </div>

      <div className="bulk-summary" data-testid="bulk-summary">
        {changed.length === 0 && note !== null ? (
          <p data-testid="bulk-nothing">{note}</p>
        ) : (
          <p>
            This will {action} <strong data-testid="bulk-count">{changed.length}</strong> session
            {changed.length === 1 ? "" : "s"} ({describeScope(scope)}).
            {note !== null && <span data-testid="bulk-unchanged"> {note}</span>}
          </p>
        )}
        {changed.length > 0 && (
          <p className="bulk-summary__names mono">
            {changed
              .slice(0, SHOWN_NAMES)
              .map((session) => session.name)
              .join(", ")}
            {changed.length > SHOWN_NAMES && ` and ${changed.length - SHOWN_NAMES} more`}
          </p>
        )}
      </div>

      {highPriority.length > 0 && (
        <PriorityWarning sessions={highPriority} testId="bulk-high-priority">
          {isAdmin ? (
            <Acknowledge checked={acknowledged} onChange={setAcknowledged}>
              I confirm {action === "stop" ? "stopping" : "restarting"} high-priority sessions (sent with force).
            </Acknowledge>
          ) : (
            <p>Only an admin may {action} them: the control plane will refuse those and act on the others.</p>
          )}
        </PriorityWarning>
      )}
      {error !== null && (
        <p className="banner banner--error" role="alert" data-testid="bulk-error">
          {errorMessage(error)}
        </p>
      )}
    </Dialog>
  );
}

interface ScopeValueProps {
  scope: BulkScope;
  countries: ReadonlyArray<{ code: string; name: string }>;
  programs: readonly string[];
  pairs: readonly string[];
  onChange: (scope: BulkScope) => void;
}

function ScopeValue({ scope, countries, programs, pairs, onChange }: ScopeValueProps) {
  if (scope.kind === "all") return <div />;
  const label = { country: "Country", program: "Program", pair: "Pair" }[scope.kind];
  const value = scope.kind === "country" ? scope.country : scope.kind === "program" ? scope.program : scope.pair;
  const options =
    scope.kind === "country"
      ? countries.map((country) => ({ value: country.code, label: `${country.name} (${country.code})` }))
      : (scope.kind === "program" ? programs : pairs).map((item) => ({ value: item, label: item }));
  return (
    <div className="field">
      <label className="field__label" htmlFor="bulk-scope-value">
        {label}
      </label>
      <select
        id="bulk-scope-value"
        className="input"
        value={value}
        onChange={(event) => {
          const next = event.target.value;
          if (scope.kind === "country") onChange({ kind: "country", country: next });
          else if (scope.kind === "program") onChange({ kind: "program", program: next });
          else onChange({ kind: "pair", pair: next });
        }}
        data-testid="bulk-scope-value"
      >
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function PriorityWarning({ sessions, testId, children }: { sessions: readonly Session[]; testId: string; children: ReactNode }) {
  return (
    <div className="banner banner--warning" role="alert" data-testid={testId}>
      <p>
        {sessions.length} of these session{sessions.length === 1 ? " belongs" : "s belong"} to a high-priority pair:{" "}
        {sessions.map((session) => session.name).join(", ")}.
      </p>
      {children}
    </div>
  );
}

function Acknowledge({ checked, onChange, children }: { checked: boolean; onChange: (checked: boolean) => void; children: ReactNode }) {
  return (
    <label className="checkbox">
      <input type="checkbox" checked={checked} onChange={(event) => onChange(event.target.checked)} data-testid="bulk-acknowledge" />
      {children}
    </label>
  );
}
