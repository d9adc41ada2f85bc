import { describe, expect, it } from "vitest";
import type { UserPublic } from "../../api/types";
import { addedNotice, changeNotice, hasErrors, newUserErrors, OWN_ROW_NOTE, passwordErrors, rowLock, USERNAME_HINT } from "./userForm";

const user = (username: string): UserPublic => ({
  username,
  role: "admin",
  disabled: false,
  created_at: "2025-01-01T00:00:00Z",
});

describe("passwordErrors", () => {
  it("asks for a password, then for the same one twice", () => {
    expect(passwordErrors({ password: "", repeat: "" })).toEqual({ password: "Type a password" });
    expect(passwordErrors({ password: "Long-enough-1", repeat: "Long-enough-2" })).toEqual({
      repeat: "The two passwords differ",
    });
    expect(passwordErrors({ password: "Long-enough-1", repeat: "Long-enough-1" })).toEqual({});
  });

  it("leaves a password's strength to the server", () => {
    expect(hasErrors(passwordErrors({ password: "short", repeat: "short" }))).toBe(false);
  });
});

describe("newUserErrors", () => {
  const valid = { username: "night.ops-2", role: "operator" as const, password: "Long-enough-1", repeat: "Long-enough-1" };

  it("accepts a name the server accepts", () => {
    expect(newUserErrors(valid)).toEqual({});
    expect(newUserErrors({ ...valid, username: "  bob  " })).toEqual({});
  });

  it("refuses a name the server would, saying what a name may be", () => {
    expect(newUserErrors({ ...valid, username: "" }).username).toBe("Type a username");
    for (const username of ["b", "Bob", "-bob", "bob smith", "a".repeat(33)]) {
      expect(newUserErrors({ ...valid, username }).username, username).toBe(USERNAME_HINT);
    }
  });

  it("checks the name and the passwords together", () => {
    expect(Object.keys(newUserErrors({ ...valid, username: "", repeat: "" })).sort()).toEqual(["repeat", "username"]);
  });
});

describe("rowLock", () => {
  it("locks the signed-in admin's own role, disabling and deletion, and says why", () => {
    expect(rowLock(user("admin"), "admin")).toEqual({ role: true, disable: true, remove: true, note: OWN_ROW_NOTE });
  });

  it("leaves everyone else's row open", () => {
    expect(rowLock(user("bob"), "admin")).toEqual({ role: false, disable: false, remove: false, note: null });
    expect(rowLock(user("admin"), undefined).note).toBeNull();
  });
});

describe("addedNotice", () => {
  it("names the user and their role", () => {
    expect(addedNotice({ ...user("ops"), role: "operator" })).toBe("ops is added as an operator.");
    expect(addedNotice({ ...user("eve"), role: "viewer" })).toBe("eve is added as a viewer.");
  });
});

describe("changeNotice", () => {
  it("says what each change did", () => {
    const out = "they are signed out everywhere.";
    expect(changeNotice("bob", { role: "operator" })).toBe(`bob is now an operator; ${out}`);
    expect(changeNotice("bob", { role: "viewer" })).toBe(`bob is now a viewer; ${out}`);
    expect(changeNotice("bob", { role: "admin" })).toBe(`bob is now an admin; ${out}`);
    expect(changeNotice("bob", { disabled: true })).toMatch(/^bob is disabled: signed out everywhere/);
    expect(changeNotice("bob", { disabled: false })).toBe("bob is enabled and can sign in again.");
    expect(changeNotice("bob", { password: "Long-enough-1" })).toBe("bob's password is changed; they are signed out everywhere.");
  });
});
