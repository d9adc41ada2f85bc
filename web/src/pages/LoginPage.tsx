import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";
import { ApiError, errorMessage } from "../api/errors";
import { useAuth } from "../auth/AuthContext";
import { useCountdown } from "../hooks/useCountdown";

interface LoginFailure {
  message: string;
  /** Date.now() timestamp until which the server refuses new attempts. */
  retryAt: number | null;
}

function describeFailure(error: unknown): LoginFailure {
  if (error instanceof ApiError && error.status === 401) {
    return { message: "Wrong username or password.", retryAt: null };
  }
  if (error instanceof ApiError && error.status === 429) {
    const seconds = error.retryAfter ?? 60;
    return { message: "Too many attempts", retryAt: Date.now() + seconds * 1000 };
  }
  return { message: errorMessage(error), retryAt: null };
}

function redirectTarget(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === "string" && from.startsWith("/") && !from.startsWith("/login") ? from : "/";
}

export function LoginPage() {
  const { status, notice, login } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [failure, setFailure] = useState<LoginFailure | null>(null);
  const waitSeconds = useCountdown(failure?.retryAt ?? null);
  const signIn = useMutation({
    mutationFn: ({ user, secret }: { user: string; secret: string }) => login(user, secret),
    onMutate: () => setFailure(null),
    onSuccess: () => void navigate(redirectTarget(location.state), { replace: true }),
    onError: (error) => setFailure(describeFailure(error)),
  });
  // Stays set after a success too, while the app moves on.
  const busy = signIn.isPending || signIn.isSuccess;

  if (status === "signed-in") return <Navigate to={redirectTarget(location.state)} replace />;

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    if (!username.trim() || !password) {
      setFailure({ message: "Enter your username and password.", retryAt: null });
      return;
    }
    signIn.mutate({ user: username.trim(), secret: password });
  };

  const throttled = failure?.retryAt != null && waitSeconds > 0;
  const message =
    failure?.retryAt != null
      ? throttled
        ? `Too many attempts, retry in ${waitSeconds} s.`
        : "You can try again now."
      : failure?.message;

  return (
    <div className="login">
      <form className="login__card" onSubmit={submit} noValidate data-testid="login-form">
        <div className="login__brand">
          <img src="/favicon.svg" alt="" width={32} height={32} />
          <h1>smsfleet</h1>
        </div>
        <p className="login__subtitle">Sign in to the control plane</p>
        {notice && (
          <p className="banner banner--info" data-testid="login-notice">
            {notice}
          </p>
        )}
        <label className="field__label" htmlFor="login-username">
          Username
        </label>
        <input
          id="login-username"
          className="input"
          autoComplete="username"
          autoFocus
          value={username}
          onChange={(event) => setUsername(event.target.value)}
          data-testid="login-username"
        />
        <label className="field__label" htmlFor="login-password">
          Password
        </label>
        <input
          id="login-password"
          className="input"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          data-testid="login-password"
        />
        {message && (
          <p className="banner banner--error" role="alert" data-testid="login-error">
            {message}
          </p>
        )}
        <button
          type="submit"
          className="button button--primary button--block"
          disabled={busy || throttled}
          data-testid="login-submit"
        >
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
