import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { createUser, deleteUser, logoutUser, updateUser } from "../../api/endpoints";
import { ApiError, errorMessage } from "../../api/errors";
import { renewSignIn } from "../../api/tokens";
import { ROLES, type Role, type UserPublic, type UserUpdate } from "../../api/types";
import { useAuth } from "../../auth/AuthContext";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Dialog, DialogActions } from "../../components/Dialog";
import { ErrorBanner } from "../../components/ErrorBanner";
import { Field } from "../../components/Field";
import { Identifier } from "../../components/Identifier";
import { Menu } from "../../components/Menu";
import { SortHeaders, useSort, type SortColumn, type SortValue } from "../../components/sorting";
import { Spinner } from "../../components/Spinner";
import { ToastStack, useToasts } from "../../components/Toasts";
import { USERS_KEY, usersQuery } from "../../data/queries";
import { formatDateTime } from "../../format/time";
import {
  addedNotice,
  changeNotice,
  emptyNewUser,
  hasErrors,
  newUserErrors,
  PASSWORD_HINT,
  passwordErrors,
  rowLock,
  USERNAME_HINT,
  type NewUserValues,
  type PasswordValues,
} from "./userForm";

export const NOT_ADMIN_TEXT = "Only admins manage users.";
const ROLE_HINT = "A viewer reads; an operator also starts, stops and edits; an admin also manages users";

type UserColumn = "username" | "role" | "status" | "created";
const USER_COLUMNS: ReadonlyArray<SortColumn<UserColumn>> = [
  { column: "username", label: "Username" },
  { column: "role", label: "Role" },
  { column: "status", label: "Status" },
  { column: "created", label: "Created" },
];
const USER_READ: Record<UserColumn, (user: UserPublic) => SortValue> = {
  username: (user) => user.username,
  role: (user) => user.role,
  status: (user) => (user.disabled ? "disabled" : "active"),
  created: (user) => user.created_at,
};
const USER_NUMERIC: ReadonlySet<UserColumn> = new Set(["created"]);

type OpenDialog =
  | { kind: "add" }
  | { kind: "password"; user: UserPublic }
  | { kind: "delete"; user: UserPublic }
  | { kind: "logout-self"; user: UserPublic };

export function UsersPage() {
  const { user } = useAuth();
  return (
    <section className="page" data-testid="users-page">
      <header className="page__header">
        <div>
          <h1>Users</h1>
          <p className="page__subtitle">
            <span>Who signs in to smsfleet, and as what: a viewer reads, an operator also acts, an admin also manages users.</span>
          </p>
        </div>
      </header>
      {user?.role === "admin" ? <UsersAdmin me={user.username} /> : <NotAdmin />}
    </section>
  );
}

function NotAdmin() {
  return (
    <p className="banner banner--info" role="status" data-testid="users-not-admin">
      {NOT_ADMIN_TEXT} Ask an admin to add you, change your role or reset your password.
    </p>
  );
}

interface UserChange {
  username: string;
  change: UserUpdate;
}

function UsersAdmin({ me }: { me: string }) {
  const users = useQuery(usersQuery());
  const queryClient = useQueryClient();
  const { logout } = useAuth();
  const navigate = useNavigate();
  const { toasts, show, dismiss } = useToasts();
  const [dialog, setDialog] = useState<OpenDialog | null>(null);
  const sorting = useSort(users.data ?? [], USER_READ, USER_NUMERIC);
  const reload = () => void queryClient.invalidateQueries({ queryKey: USERS_KEY });

  const change = useMutation({
    mutationFn: ({ username, change }: UserChange) => updateUser(username, change),
    onSuccess: (_, { username, change }) => show("success", changeNotice(username, change)),
    onError: (error, { username }) => show("error", `${username} was not changed: ${errorMessage(error)}`),
    onSettled: reload,
  });
  const signOut = useMutation({
    mutationFn: logoutUser,
    onSuccess: (_, username) => show("success", `${username} is signed out everywhere.`),
    onError: (error, username) => show("error", `${username} was not signed out: ${errorMessage(error)}`),
  });
  const busyUser = change.isPending ? change.variables.username : signOut.isPending ? signOut.variables : null;

  const signOutHere = () => {
    logout();
    queryClient.clear();
    void navigate("/login", { replace: true });
  };

  if (users.error instanceof ApiError && users.error.status === 403) return <NotAdmin />;
  return (
    <>
      <section className="panel" data-testid="users-panel">
        <header className="panel__header">
          <h2>Users</h2>
          <button type="button" className="button button--primary" onClick={() => setDialog({ kind: "add" })} data-testid="add-user">
            Add a user
          </button>
        </header>
        {users.error !== null && users.data === undefined ? (
          <ErrorBanner error={users.error} onRetry={() => void users.refetch()} />
        ) : users.data === undefined ? (
          <Spinner label="Loading users" />
        ) : (
          <div className="table-wrap">
            <table className="table users-table" data-testid="users-table">
              <thead>
                <tr>
                  <SortHeaders columns={USER_COLUMNS} sort={sorting.sort} onSort={sorting.toggle} />
                  <th className="table__actions" />
                </tr>
              </thead>
              <tbody>
                {sorting.rows.map((user) => {
                  const lock = rowLock(user, me);
                  const busy = busyUser === user.username;
                  return (
                    <tr key={user.username} data-testid="user-row" data-username={user.username}>
                      <td>
                        <Identifier value={user.username} testId="user-name" />
                        {lock.note && (
                          <p className="user-note" data-testid="own-row-note">
                            {lock.note}
                          </p>
                        )}
                      </td>
                      <td>
                        <select
                          className="input user-role"
                          aria-label={`Role of ${user.username}`}
                          value={user.role}
                          disabled={lock.role || busy}
                          title={lock.role ? (lock.note ?? undefined) : undefined}
                          onChange={(event) =>
                            change.mutate({ username: user.username, change: { role: event.target.value as Role } })
                          }
                          data-testid="user-role"
                        >
                          {ROLES.map((role) => (
                            <option key={role} value={role}>
                              {role}
                            </option>
                          ))}
                        </select>
                      </td>
                      <td>
                        <span className={user.disabled ? "badge badge--disabled" : "badge badge--enabled"} data-testid="user-status">
                          {user.disabled ? "disabled" : "active"}
                        </span>
                      </td>
                      <td>{formatDateTime(user.created_at)}</td>
                      <td className="table__actions">
                        <Menu
                          label={busy ? "Working…" : "Actions"}
                          testId="user-actions"
                          items={[
                            {
                              label: "Set a new password",
                              onSelect: () => setDialog({ kind: "password", user }),
                              testId: "user-set-password",
                            },
                            {
                              label: "Sign out everywhere",
                              disabled: busy,
                              onSelect: () =>
                                user.username === me ? setDialog({ kind: "logout-self", user }) : signOut.mutate(user.username),
                              testId: "user-sign-out",
                            },
                            {
                              label: user.disabled ? "Enable" : "Disable",
                              disabled: lock.disable || busy,
                              onSelect: () => change.mutate({ username: user.username, change: { disabled: !user.disabled } }),
                              testId: "user-toggle-disabled",
                            },
                            {
                              label: "Delete",
                              danger: true,
                              disabled: lock.remove || busy,
                              onSelect: () => setDialog({ kind: "delete", user }),
                              testId: "user-delete",
                            },
                          ]}
                        />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {dialog?.kind === "add" && (
        <AddUserDialog
          onClose={() => setDialog(null)}
          onAdded={(user) => {
            setDialog(null);
            show("success", addedNotice(user));
            reload();
          }}
        />
      )}
      {dialog?.kind === "password" && (
        <PasswordDialog
          user={dialog.user}
          self={dialog.user.username === me}
          onClose={() => setDialog(null)}
          onChanged={() => {
            setDialog(null);
            show(
              "success",
              dialog.user.username === me
                ? "Your password is changed; you are signed out everywhere else."
                : changeNotice(dialog.user.username, { password: "changed" }),
            );
          }}
        />
      )}
      {dialog?.kind === "delete" && (
        <ConfirmDialog
          title={`Delete ${dialog.user.username}?`}
          confirmLabel="Delete"
          danger
          testId="delete-user-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await deleteUser(dialog.user.username);
            setDialog(null);
            show("success", `${dialog.user.username} is deleted, and their API keys revoked.`);
            reload();
          }}
        >
          <p>
            <strong>{dialog.user.username}</strong> can no longer sign in, and their API keys are revoked with them: programs
            using those keys stop working at once. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
      {dialog?.kind === "logout-self" && (
        <ConfirmDialog
          title="Sign yourself out everywhere?"
          confirmLabel="Sign out everywhere"
          testId="sign-out-self-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await logoutUser(dialog.user.username);
            setDialog(null);
            signOutHere();
          }}
        >
          <p>Every sign-in of yours ends, this one included: you will sign in again.</p>
        </ConfirmDialog>
      )}
      <ToastStack toasts={toasts} onDismiss={dismiss} testId="user-toasts" />
    </>
  );
}

function AddUserDialog({ onClose, onAdded }: { onClose: () => void; onAdded: (user: UserPublic) => void }) {
  const [values, setValues] = useState<NewUserValues>(emptyNewUser);
  const [tried, setTried] = useState(false);
  const errors = newUserErrors(values);
  const shown = tried ? errors : {};
  const creation = useMutation({
    mutationFn: () => createUser({ username: values.username.trim(), role: values.role, password: values.password }),
    onSuccess: onAdded,
  });
  const set = (changes: Partial<NewUserValues>) => setValues((current) => ({ ...current, ...changes }));
  const submit = () => {
    setTried(true);
    // A refusal stays only until the form is sent again.
    if (hasErrors(errors)) creation.reset();
    else creation.mutate();
  };
  return (
    <Dialog
      title="Add a user"
      onClose={onClose}
      testId="add-user-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          submitLabel={creation.isPending ? "Adding…" : "Add"}
          onSubmit={submit}
          disabled={creation.isPending}
          testId="add-user-submit"
        />
      }
    >
      <form
        className="form-grid users-form"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <Field id="new-username" label="Username" error={shown.username} hint={USERNAME_HINT}>
          <input
            id="new-username"
            className="input"
            autoComplete="off"
            value={values.username}
            maxLength={32}
            onChange={(event) => set({ username: event.target.value })}
            data-testid="new-username"
          />
        </Field>
        <Field id="new-role" label="Role" hint={ROLE_HINT}>
          <select
            id="new-role"
            className="input"
            value={values.role}
            onChange={(event) => set({ role: event.target.value as Role })}
            data-testid="new-role"
          >
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {role}
              </option>
            ))}
          </select>
        </Field>
        <PasswordFields values={values} errors={shown} onChange={set} prefix="new" />
        <button type="submit" hidden />
      </form>
      {creation.error !== null && (
        <p className="banner banner--error" role="alert" data-testid="add-user-error">
          {errorMessage(creation.error)}
        </p>
      )}
    </Dialog>
  );
}

function PasswordFields({
  values,
  errors,
  onChange,
  prefix,
}: {
  values: PasswordValues;
  errors: Partial<Record<"password" | "repeat", string>>;
  onChange: (changes: Partial<PasswordValues>) => void;
  prefix: string;
}) {
  // The password, then the same again: one input each, alike but for its field.
  const inputs = [
    { field: "password", label: "Password", hint: PASSWORD_HINT },
    { field: "repeat", label: "Password again", hint: undefined },
  ] as const;
  return (
    <>
      {inputs.map(({ field, label, hint }) => (
        <Field key={field} id={`${prefix}-${field}`} label={label} error={errors[field]} hint={hint}>
          <input
            id={`${prefix}-${field}`}
            className="input"
            type="password"
            autoComplete="new-password"
            maxLength={256}
            value={values[field]}
            onChange={(event) => onChange({ [field]: event.target.value })}
            data-testid={`${prefix}-${field}`}
          />
        </Field>
      ))}
    </>
  );
}

function PasswordDialog({
  user,
  self,
  onClose,
  onChanged,
}: {
  user: UserPublic;
  self: boolean;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { login } = useAuth();
  const [values, setValues] = useState<PasswordValues>({ password: "", repeat: "" });
  const [tried, setTried] = useState(false);
  const errors = passwordErrors(values);
  const shown = tried ? errors : {};
  const saving = useMutation({
    mutationFn: async () => {
      if (!self) {
        await updateUser(user.username, { password: values.password });
        return;
      }
      // A new password ends every sign-in of the user's, this one too: sign in again with it.
      await renewSignIn(async () => {
        await updateUser(user.username, { password: values.password });
        await login(user.username, values.password);
      });
    },
    onSuccess: onChanged,
  });
  const submit = () => {
    setTried(true);
    if (hasErrors(errors)) saving.reset();
    else saving.mutate();
  };
  return (
    <Dialog
      title={`New password for ${user.username}`}
      onClose={onClose}
      testId="password-dialog"
      footer={
        <DialogActions
          onCancel={onClose}
          submitLabel={saving.isPending ? "Saving…" : "Set password"}
          onSubmit={submit}
          disabled={saving.isPending}
          testId="password-submit"
        />
      }
    >
      <p className="muted">
        {self
          ? "You stay signed in here with the new password; every other sign-in of yours ends."
          : `Every sign-in of ${user.username}'s ends: they sign in again with the new password. Their API keys keep working.`}
      </p>
      <form
        className="form-grid users-form"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <PasswordFields values={values} errors={shown} onChange={(changes) => setValues((current) => ({ ...current, ...changes }))} prefix="set" />
        <button type="submit" hidden />
      </form>
      {saving.error !== null && (
        <p className="banner banner--error" role="alert" data-testid="password-error">
          {errorMessage(saving.error)}
        </p>
      )}
    </Dialog>
  );
}
