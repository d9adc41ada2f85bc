import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { FullPageSpinner } from "../components/Spinner";
import { useAuth } from "./AuthContext";

export function RequireAuth({ children }: { children: ReactNode }) {
  const { status, unanswered } = useAuth();
  const location = useLocation();
  if (status === "checking") {
    return unanswered ? (
      <FullPageSpinner label="The control plane is not answering: trying again" shown />
    ) : (
      <FullPageSpinner label="Checking session" />
    );
  }
  if (status === "signed-out") {
    const from = location.pathname + location.search;
    return <Navigate to="/login" replace state={{ from }} />;
  }
  return <>{children}</>;
}
