import { lazy, Suspense } from "react";
import { Navigate, Route, Routes } from "react-router";
import { RequireAuth } from "./auth/RequireAuth";
import { AppShell } from "./components/AppShell";
import { FullPageSpinner } from "./components/Spinner";
import { AlertsPage } from "./pages/alerts/AlertsPage";
import { AuditPage } from "./pages/audit/AuditPage";
import { LoginPage } from "./pages/LoginPage";
import { MessagesPage } from "./pages/messages/MessagesPage";
import { PairsPage } from "./pages/pairs/PairsPage";
import { ProgramsPage } from "./pages/programs/ProgramsPage";
import { UsersPage } from "./pages/users/UsersPage";

// The dashboard carries the charting library: loaded on its own, when first shown.
const DeveloperPage = lazy(() => import("./pages/developer/DeveloperPage").then((module) => ({ default: module.DeveloperPage })));
const DashboardPage = lazy(() => import("./pages/dashboard/DashboardPage").then((module) => ({ default: module.DashboardPage })));

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <AppShell />
          </RequireAuth>
        }
      >
        <Route
          index
          element={
            <Suspense fallback={<FullPageSpinner label="Loading the dashboard" />}>
              <DashboardPage />
            </Suspense>
          }
        />
        <Route path="pairs" element={<PairsPage />} />
        <Route path="programs" element={<ProgramsPage />} />
        <Route path="messages" element={<MessagesPage />} />
        <Route path="alerts" element={<AlertsPage />} />
        <Route path="users" element={<UsersPage />} />
        <Route path="audit" element={<AuditPage />} />
        <Route
          path="developer"
          element={
            <Suspense fallback={<FullPageSpinner label="Loading the developer page" />}>
              <DeveloperPage />
            </Suspense>
          }
        />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Route>
    </Routes>
  );
}
