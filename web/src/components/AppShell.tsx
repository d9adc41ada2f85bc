import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { LiveProvider } from "../live/LiveContext";
import { AlertToasts } from "./AlertToasts";
import { ConnectionProvider } from "./connection";
import { LiveIndicator } from "./LiveIndicator";
import "./shell.css";
import { ToastRegion } from "./Toasts";

interface NavItem {
  to: string;
  label: string;
  end?: boolean;
  /** Shown to admins only. */
  adminOnly?: boolean;
}

const NAV_ITEMS: readonly NavItem[] = [
  { to: "/", label: "Dashboard", end: true },
  { to: "/pairs", label: "Country-operator pairs" },
  { to: "/programs", label: "Programs" },
  { to: "/messages", label: "Messages" },
  { to: "/alerts", label: "Alerts" },
  { to: "/developer", label: "Developer" },
  { to: "/users", label: "Users", adminOnly: true },
  { to: "/audit", label: "Audit", adminOnly: true },
];

export function AppShell() {
  // Under 1,024 px the sidebar folds away behind the top bar's menu button.
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <LiveProvider>
      <ToastRegion>
        <div className={menuOpen ? "shell shell--menu-open" : "shell"}>
          <Sidebar onNavigate={() => setMenuOpen(false)} />
          {menuOpen && <div className="shell__scrim" onClick={() => setMenuOpen(false)} aria-hidden="true" />}
          <div className="shell__main">
            <TopBar menuOpen={menuOpen} onMenu={() => setMenuOpen((open) => !open)} />
            <main className="shell__content">
              <ConnectionProvider>
                <Outlet />
              </ConnectionProvider>
            </main>
          </div>
          <AlertToasts />
        </div>
      </ToastRegion>
    </LiveProvider>
  );
}

function Sidebar({ onNavigate }: { onNavigate: () => void }) {
  const { user } = useAuth();
  const items = NAV_ITEMS.filter((item) => !item.adminOnly || user?.role === "admin");
  return (
    <nav className="sidebar" id="main-nav" aria-label="Main" data-testid="sidebar">
      <div className="sidebar__brand">
        <img src="/favicon.svg" alt="" width={24} height={24} />
        <span>smsfleet</span>
      </div>
      <ul className="sidebar__links">
        {items.map((item) => (
          <li key={item.to}>
            <NavLink
              to={item.to}
              end={item.end ?? false}
              className={({ isActive }) => (isActive ? "sidebar__link sidebar__link--active" : "sidebar__link")}
              data-testid={`nav-${item.to === "/" ? "dashboard" : item.to.slice(1)}`}
              onClick={onNavigate}
            >
              {item.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function TopBar({ menuOpen, onMenu }: { menuOpen: boolean; onMenu: () => void }) {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return (
    <header className="topbar">
      <button
        type="button"
        className="button button--small topbar__menu"
        aria-controls="main-nav"
        aria-expanded={menuOpen}
        onClick={onMenu}
        data-testid="menu-button"
      >
        <span aria-hidden="true">☰</span> Menu
      </button>
      <div className="topbar__spacer" />
      <LiveIndicator />
      {user && (
        <div className="topbar__user" data-testid="current-user">
          <span className="topbar__username">{user.username}</span>
          <span className={`role role--${user.role}`} data-testid="current-role">
            {user.role}
          </span>
        </div>
      )}
      <button
        type="button"
        className="button button--small"
        data-testid="logout"
        onClick={() => {
          logout();
          // The next user to sign in here must not see this one's data, even briefly.
          queryClient.clear();
          void navigate("/login", { replace: true });
        }}
      >
        Log out
      </button>
    </header>
  );
}
