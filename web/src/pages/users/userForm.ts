// The Users page's rules apart from React: what the forms accept before a round trip,
// which controls the signed-in admin's own row keeps, and what each change says.
import type { Role, UserPublic, UserUpdate } from "../../api/types";

// Mirrors the server's USERNAME_PATTERN.
const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,31}$/;
export const USERNAME_HINT = "2 to 32 characters: lower-case letters, digits, dots, dashes and underscores; first a letter or digit";
export const PASSWORD_HINT = "At least 12 characters, not a well-known password";

export interface NewUserValues {
  username: string;
  role: Role;
  password: string;
  repeat: string;
}

export interface PasswordValues {
  password: string;
  repeat: string;
}

export type PasswordErrors = Partial<Record<"password" | "repeat", string>>;
export type NewUserErrors = PasswordErrors & Partial<Record<"username", string>>;

export function emptyNewUser(): NewUserValues {
  return { username: "", role: "viewer", password: "", repeat: "" };
}

/** A password typed twice: empty, or the two differ. The server judges its strength. */
export function passwordErrors({ password, repeat }: PasswordValues): PasswordErrors {
  const errors: PasswordErrors = {};
  if (password === "") errors.password = "Type a password";
  else if (repeat !== password) errors.repeat = "The two passwords differ";
  return errors;
}

export function newUserErrors(values: NewUserValues): NewUserErrors {
  const errors: NewUserErrors = passwordErrors(values);
  const username = values.username.trim();
  if (username === "") errors.username = "Type a username";
  else if (!USERNAME_PATTERN.test(username)) errors.username = USERNAME_HINT;
  return errors;
}

export const hasErrors = (errors: object): boolean => Object.keys(errors).length > 0;

/** The signed-in admin's own row: what is off on it and why (the server refuses it too). */
export interface RowLock {
  role: boolean;
  disable: boolean;
  remove: boolean;
  note: string | null;
}

const UNLOCKED: RowLock = { role: false, disable: false, remove: false, note: null };
export const OWN_ROW_NOTE = "This is you: you cannot disable, demote or delete yourself.";

export function rowLock(row: UserPublic, me: string | undefined): RowLock {
  if (row.username !== me) return UNLOCKED;
  return { role: true, disable: true, remove: true, note: OWN_ROW_NOTE };
}

const article = (role: Role) => (role === "admin" || role === "operator" ? "an" : "a");

export const addedNotice = (user: UserPublic): string => `${user.username} is added as ${article(user.role)} ${user.role}.`;

/** The notice a change made shows. Any change but the role to the same one signs the user out everywhere. */
export function changeNotice(username: string, change: UserUpdate): string {
  if (change.password) return `${username}'s password is changed; they are signed out everywhere.`;
  if (change.disabled === true) return `${username} is disabled: signed out everywhere; neither they nor their API keys are let in.`;
  if (change.disabled === false) return `${username} is enabled and can sign in again.`;
  if (change.role) return `${username} is now ${article(change.role)} ${change.role}; they are signed out everywhere.`;
  return `${username} is saved.`;
}
