import { useMutation } from "@tanstack/react-query";
import { Fragment, useState, type ReactNode } from "react";
import { createApiKey, revokeApiKey } from "../../api/endpoints";
import { ApiError, errorMessage } from "../../api/errors";
import { API_KEY_SCOPES, type ApiKey, type ApiKeyCreate, type ApiKeyCreated, type ApiKeyScope } from "../../api/types";
import { canWrite, useAuth } from "../../auth/AuthContext";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Dialog, DialogActions } from "../../components/Dialog";
import { SortHeaders, useSort, type SortColumn, type SortValue } from "../../components/sorting";
import { formatDateTime } from "../../format/time";
import { Identifier } from "../../components/Identifier";
import { hasKeyErrors, keyFormErrors, serverErrorsToKeyForm, toKeyPayload, type KeyFormErrors, type KeyFormField } from "./keyForm";
import { quota } from "./quota";

interface KeysPanelProps {
  keys: readonly ApiKey[];
  onChanged: () => void;
}

type KeyColumn = "name" | "key" | "owner" | "scopes" | "quota" | "used" | "created";
const KEY_COLUMNS: ReadonlyArray<SortColumn<KeyColumn>> = [
  { column: "name", label: "Name" },
  { column: "key", label: "Key" },
  { column: "owner", label: "Owner" },
  { column: "scopes", label: "Scopes" },
  { column: "quota", label: "Quota" },
  { column: "used", label: "Last used" },
  { column: "created", label: "Created" },
];
const KEY_READ: Record<KeyColumn, (key: ApiKey) => SortValue> = {
  name: (key) => key.name,
  key: (key) => key.prefix,
  owner: (key) => key.owner,
  scopes: (key) => key.scopes.join(", "),
  quota: (key) => quota(key),
  used: (key) => key.last_used_at,
  created: (key) => key.created_at,
};
const KEY_NUMERIC: ReadonlySet<KeyColumn> = new Set(["used", "created"]);

export function KeysPanel({ keys, onChanged }: KeysPanelProps) {
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const sorting = useSort(keys, KEY_READ, KEY_NUMERIC);
  return (
    <section className="panel" data-testid="keys-panel">
      <header className="panel__header">
        <h2>API keys</h2>
        <button type="button" className="button button--primary" onClick={() => setCreating(true)} data-testid="create-key">
          Create a key
        </button>
      </header>
      {keys.length === 0 ? (
        <p className="empty-state">No API key yet. A key works wherever your sign-in does, within its scopes.</p>
      ) : (
        <div className="table-wrap">
          <table className="table keys-table" data-testid="keys-table">
            <colgroup>
              {[...KEY_COLUMNS.map(({ column }) => column), "actions"].map((column) => (
                <col key={column} className={`keys-table__${column}`} />
              ))}
            </colgroup>
            <thead>
              <tr>
                <SortHeaders columns={KEY_COLUMNS} sort={sorting.sort} onSort={sorting.toggle} />
                <th className="table__actions" />
              </tr>
            </thead>
            <tbody>
              {sorting.rows.map((key) => (
                <tr key={key.id} data-testid="key-row" data-key-id={key.id}>
                  <td>
                    <Identifier value={key.name} />
                  </td>
                  <td>
                    <code>{key.prefix}…</code>
                  </td>
                  <td>{key.owner}</td>
                  <td>{key.scopes.join(", ")}</td>
                  <td>{quota(key)}</td>
                  <td>{formatDateTime(key.last_used_at)}</td>
                  <td>{formatDateTime(key.created_at)}</td>
                  <td className="table__actions" data-testid="key-status">
                    {key.active ? (
                      <button type="button" className="button button--small button--danger" onClick={() => setRevoking(key)} data-testid="revoke-key">
                        Revoke
                      </button>
                    ) : (
                      <span className="badge badge--disabled">revoked</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <CreateKeyDialog
          onClose={() => setCreating(false)}
          onCreated={(key) => {
            setCreating(false);
            setCreated(key);
            onChanged();
          }}
        />
      )}
      {created && <KeyCreatedDialog created={created} onClose={() => setCreated(null)} />}
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.name}?`}
          confirmLabel="Revoke"
          danger
          testId="revoke-key-dialog"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await revokeApiKey(revoking.id);
            setRevoking(null);
            onChanged();
          }}
        >
          <p>Programs using {revoking.prefix}… stop working at once. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function CreateKeyDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (key: ApiKeyCreated) => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<ApiKeyScope[]>(["read"]);
  // A key never does more than its owner: a viewer's can only read.
  const { user } = useAuth();
  const offered = canWrite(user) ? API_KEY_SCOPES : API_KEY_SCOPES.filter((scope) => scope === "read");
  const [daily, setDaily] = useState("");
  const [monthly, setMonthly] = useState("");
  const [errors, setErrors] = useState<KeyFormErrors>({});
  const values = { name, scopes, daily, monthly };
  const toggle = (scope: ApiKeyScope) =>
    setScopes((current) => (current.includes(scope) ? current.filter((s) => s !== scope) : [...current, scope]));
  const creation = useMutation({
    mutationFn: (payload: ApiKeyCreate) => createApiKey(payload),
    onSuccess: onCreated,
    onError: (error) => {
      if (error instanceof ApiError && error.status === 422 && error.fieldErrors.length > 0) {
        setErrors(serverErrorsToKeyForm(error.fieldErrors, error.message));
      } else {
        setErrors({ form: errorMessage(error) });
      }
    },
  });
  const busy = creation.isPending;
  const submit = () => {
    const found = keyFormErrors(values);
    setErrors(found);
    if (!hasKeyErrors(found)) creation.mutate(toKeyPayload(values));
  };
  // A field's message goes once it is changed.
  const edit = (field: KeyFormField, set: (value: string) => void) => (value: string) => {
    set(value);
    setErrors((current) => ({ ...current, [field]: undefined, form: undefined }));
  };
  return (
    <Dialog
      title="Create an API key"
      onClose={onClose}
      testId="create-key-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          submitLabel="Create"
          onSubmit={submit}
          disabled={busy || name.trim() === "" || scopes.length === 0}
          testId="create-key-submit"
        />
      }
    >
      <div className="form-grid">
        <label className="field__label" htmlFor="key-name">
          Name
        </label>
        <FieldControl id="key-name" error={errors.name}>
          <input
            id="key-name"
            className="input"
            value={name}
            maxLength={64}
            onChange={(e) => edit("name", setName)(e.target.value)}
            data-testid="key-name"
          />
        </FieldControl>
        <span className="field__label">Scopes</span>
        <div>
          {offered.map((scope) => (
            <label key={scope} className="checkbox">
              <input type="checkbox" checked={scopes.includes(scope)} onChange={() => toggle(scope)} data-testid={`key-scope-${scope}`} />{" "}
              {scope === "read" ? "read (as a viewer)" : "control (start, stop, edit: as an operator)"}
            </label>
          ))}
          {offered.length < API_KEY_SCOPES.length && (
            <p className="muted" data-testid="key-scope-hint">
              Your keys can only read: control needs the operator role.
            </p>
          )}
          {errors.scopes && (
            <p className="field__error" role="alert" data-testid="error-key-scopes">
              {errors.scopes}
            </p>
          )}
        </div>
        {(
          [
            ["daily", "Daily quota", daily, setDaily],
            ["monthly", "Monthly quota", monthly, setMonthly],
          ] as const
        ).map(([field, label, value, set]) => (
          <Fragment key={field}>
            <label className="field__label" htmlFor={`key-${field}`}>
              {label}
            </label>
            <FieldControl id={`key-${field}`} error={errors[field]}>
              <input
                id={`key-${field}`}
                className="input"
                type="number"
                min={1}
                step={1}
                placeholder="none"
                value={value}
                onChange={(e) => edit(field, set)(e.target.value)}
                data-testid={`key-${field}`}
              />
            </FieldControl>
          </Fragment>
        ))}
      </div>
      {errors.form && (
        <p className="field__error" role="alert" data-testid="error-key-form">
          {errors.form}
        </p>
      )}
    </Dialog>
  );
}

/** A control in the form's second column with its validation message underneath. */
function FieldControl({ id, error, children }: { id: string; error: string | undefined; children: ReactNode }) {
  return (
    <div className={error ? "field field--invalid" : "field"}>
      {children}
      {error && (
        <p className="field__error" role="alert" data-testid={`error-${id}`}>
          {error}
        </p>
      )}
    </div>
  );
}

function KeyCreatedDialog({ created, onClose }: { created: ApiKeyCreated; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <Dialog
      title="Your new API key"
      onClose={onClose}
      testId="key-created-dialog"
      footer={
        <button type="button" className="button button--primary" onClick={onClose} data-testid="key-created-done">
          I have copied it
        </button>
      }
    >
      <p>Copy it now: it is shown this once and never again.</p>
      <code className="secret" data-testid="new-key">
        {created.key}
      </code>
      <p>
        <button
          type="button"
          className="button button--small"
          onClick={() => {
            void navigator.clipboard.writeText(created.key).then(() => setCopied(true));
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </p>
      <p className="muted">
        Send it as <code>X-API-Key: {created.prefix}…</code> or <code>Authorization: Bearer {created.prefix}…</code>.
      </p>
    </Dialog>
  );
}
