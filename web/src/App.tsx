import { Navigate, Route, Routes } from "react-router";
import { RequireAuth } from "./auth/RequireAuth";
import { AppShell } from "./components/AppShell";
import { LoginPage } from "./pages/LoginPage";
import { PairsPage } from "./pages/pairs/PairsPage";
import { PlaceholderPage } from "./pages/PlaceholderPage";
import { ProgramsPage } from "./pages/programs/ProgramsPage";

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
        <Route index element={<PlaceholderPage title="Dashboard" />} />
        <Route path="pairs" element={<PairsPage />} />
        <Route path="programs" element={<ProgramsPage />} />
        <Route path="alerts" element={<PlaceholderPage title="Alerts" />} />
        <Route path="developer" element={<PlaceholderPage title="Developer" />} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Route>
    </Routes>
  );
}
