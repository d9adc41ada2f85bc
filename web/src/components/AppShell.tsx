import { NavLink, Outlet, useNavigate } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { LiveProvider } from "../live/LiveContext";
import { AlertToasts } from "./AlertToasts";
import { LiveIndicator } from "./LiveIndicator";

interface NavItem {
  to: string;
  label: string;
  end?: boolean;
}

const NAV_ITEMS: readonly NavItem[] = [
  { to: "/", label: "Dashboard", end: true },
  { to: "/pairs", label: "Country-operator pairs" },
  { to: "/programs", label: "Programs" },
  { to: "/messages", label: "Messages" },
  { to: "/alerts", label: "Alerts" },
  { to: "/developer", label: "Developer" },
];

export function AppShell() {
  return (
    <LiveProvider>
      <div className="shell">
        <Sidebar />
        <div className="shell__main">
          <TopBar />
          <main className="shell__content">
            <Outlet />
          </main>
        </div>
        <AlertToasts />
      </div>
    </LiveProvider>
  );
}

function Sidebar() {
  return (
    <nav className="sidebar" aria-label="Main">
      <div className="sidebar__brand">
        <img src="/favicon.svg" alt="" width={24} height={24} />
        <span>smsfleet</span>
      </div>
      <ul className="sidebar__links">
        {NAV_ITEMS.map((item) => (
          <li key={item.to}>
            <NavLink
              to={item.to}
              end={item.end ?? false}
              className={({ isActive }) => (isActive ? "sidebar__link sidebar__link--active" : "sidebar__link")}
              data-testid={`nav-${item.to === "/" ? "dashboard" : item.to.slice(1)}`}
            >
              {item.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function TopBar() {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  return (
    <header className="topbar">
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
          navigate("/login", { replace: true });
        }}
      >
        Log out
      </button>
    </header>
  );
}
