import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import * as endpoints from "../api/endpoints";
import { ApiError, isRefusal } from "../api/errors";
import {
  answerForSignIn,
  checkCopiedSignIn,
  clearTokens,
  getAccessToken,
  getRefreshToken,
  saveTokens,
  SESSION_EXPIRED_EVENT,
  SIGN_IN_COPIED_EVENT,
} from "../api/tokens";
import type { CurrentUser, Role } from "../api/types";

type AuthStatus = "checking" | "signed-in" | "signed-out";

// How long a reloaded tab waits before asking again who it is, when the control plane
// did not answer (restarting, or the network gone): its sign-in is kept meanwhile.
const RESUME_RETRY_MS = 3_000;

interface AuthValue {
  status: AuthStatus;
  /** While checking: the control plane did not answer the last try, and is asked again. */
  unanswered: boolean;
  user: CurrentUser | null;
  /** Why this tab shows the login page, when not for the usual reasons. */
  notice: string | null;
  login: (username: string, password: string) => Promise<void>;
  logout: () => void;
}

const AuthContext = createContext<AuthValue | null>(null);

/**
 * A reloaded tab's sign-in: who it is, asked at once with the tokens it kept, while it checks
 * in the background that they are not another open tab's, copied with it.
 */
export function resumeSignIn(): Promise<CurrentUser> {
  checkCopiedSignIn();
  return endpoints.fetchCurrentUser();
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<CurrentUser | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [status, setStatus] = useState<AuthStatus>(() => (getAccessToken() ? "checking" : "signed-out"));
  const [tries, setTries] = useState(0);

  // A reload keeps the tokens (sessionStorage) but not the user: ask who we are. Refused,
  // the tokens are no good; unanswered, they are kept and the question asked again.
  useEffect(() => {
    if (status !== "checking") return;
    let again: number | undefined;
    resumeSignIn().then(
      (me) => {
        // A copy's check may have dropped its tokens meanwhile.
        if (getAccessToken() === null) return;
        setUser(me);
        setTries(0);
        setStatus("signed-in");
      },
      (error: unknown) => {
        const refused = !(error instanceof ApiError) || isRefusal(error.status);
        if (!refused && getRefreshToken() !== null) {
          again = window.setTimeout(() => setTries((count) => count + 1), RESUME_RETRY_MS);
          setTries((count) => Math.max(count, 1));
          return;
        }
        clearTokens();
        setTries(0);
        setStatus("signed-out");
      },
    );
    return () => window.clearTimeout(again);
  }, [status, tries]);

  useEffect(() => {
    const onExpired = () => {
      setUser(null);
      setStatus("signed-out");
    };
    const onCopied = () => {
      setNotice("This tab was copied from one that is signed in: sign in here too, so neither tab ends the other's sign-in.");
      onExpired();
    };
    window.addEventListener(SESSION_EXPIRED_EVENT, onExpired);
    window.addEventListener(SIGN_IN_COPIED_EVENT, onCopied);
    return () => {
      window.removeEventListener(SESSION_EXPIRED_EVENT, onExpired);
      window.removeEventListener(SIGN_IN_COPIED_EVENT, onCopied);
    };
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const tokens = await endpoints.login(username, password);
    saveTokens(tokens);
    setNotice(null);
    answerForSignIn();
    try {
      setUser(await endpoints.fetchCurrentUser());
    } catch (error) {
      clearTokens();
      throw error;
    }
    setStatus("signed-in");
  }, []);

  const logout = useCallback(() => {
    // The server ends this login too, so its tokens are refused from now on.
    const refreshToken = getRefreshToken();
    if (refreshToken) endpoints.logout(refreshToken).catch(() => undefined);
    clearTokens();
    setUser(null);
    setStatus("signed-out");
  }, []);

  const unanswered = status === "checking" && tries > 0;
  const value = useMemo(
    () => ({ status, unanswered, user, notice, login, logout }),
    [status, unanswered, user, notice, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth must be used inside <AuthProvider>");
  return value;
}

const WRITE_ROLES: readonly Role[] = ["admin", "operator"];

export function canWrite(user: CurrentUser | null): boolean {
  return user !== null && WRITE_ROLES.includes(user.role);
}
