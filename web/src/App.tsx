import { lazy, Suspense } from "react";
import { NavLink, Navigate, Route, Routes, useLocation } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { notifyAuth, useApi, useToken } from "./context";
import { SignIn } from "./pages/SignIn";

// Pages load on demand, so the first screen carries only what it needs.
const Users = lazy(() => import("./pages/Users"));
const Keys = lazy(() => import("./pages/Keys"));
const Access = lazy(() => import("./pages/Access"));
const Limits = lazy(() => import("./pages/Limits"));
const Usage = lazy(() => import("./pages/Usage"));
const Requests = lazy(() => import("./pages/Requests"));
const Playground = lazy(() => import("./pages/Playground"));

const pages = [
  { path: "users", label: "Users", el: <Users /> },
  { path: "access", label: "Teams & access", el: <Access /> },
  { path: "keys", label: "API keys", el: <Keys /> },
  { path: "limits", label: "Rate limits & budgets", el: <Limits /> },
  { path: "usage", label: "Usage", el: <Usage /> },
  { path: "requests", label: "Request log", el: <Requests /> },
  { path: "playground", label: "Playground", el: <Playground /> },
];

export function App() {
  const token = useToken();
  const location = useLocation();
  if (!token && location.pathname !== "/signin") {
    return <Navigate to="/signin" replace state={{ from: location.pathname }} />;
  }
  return (
    <Routes>
      <Route path="/signin" element={<SignIn />} />
      <Route path="*" element={<Shell />} />
    </Routes>
  );
}

function Shell() {
  const { tokens } = useApi();
  const queries = useQueryClient();
  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <header>
        <span className="brand">llmgw</span>
        <nav aria-label="Main">
          <ul>
            {pages.map((p) => (
              <li key={p.path}>
                <NavLink to={`/${p.path}`}>{p.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            tokens.clear();
            queries.clear();
            notifyAuth();
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">
        <Suspense fallback={<p role="status">Loading…</p>}>
          <Routes>
            {pages.map((p) => (
              <Route key={p.path} path={`/${p.path}`} element={p.el} />
            ))}
            <Route path="*" element={<Navigate to="/users" replace />} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}
