import { lazy, Suspense } from "react";
import { NavLink, Navigate, Route, Routes, useLocation } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Code, ConnectError } from "@connectrpc/connect";
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
const GatewayTokens = lazy(() => import("./pages/GatewayTokens"));
const Audit = lazy(() => import("./pages/Audit"));
const Providers = lazy(() => import("./pages/Providers"));
const IdentityProviders = lazy(() => import("./pages/IdentityProviders"));
const VirtualAccounts = lazy(() => import("./pages/VirtualAccounts"));
const Routing = lazy(() => import("./pages/Routing"));
const Config = lazy(() => import("./pages/Config"));

// admin marks the pages of the Admin API: a key without an Admin API role does not see them.
const pages = [
  { path: "users", label: "Users", el: <Users />, admin: true },
  { path: "access", label: "Teams & access", el: <Access />, admin: true },
  { path: "keys", label: "API keys", el: <Keys />, admin: true },
  { path: "limits", label: "Rate limits & budgets", el: <Limits />, admin: true },
  { path: "providers", label: "Providers & models", el: <Providers />, admin: true },
  { path: "virtual-models", label: "Virtual models & routing", el: <Routing />, admin: true },
  { path: "virtual-accounts", label: "Virtual accounts", el: <VirtualAccounts />, admin: true },
  { path: "identity-providers", label: "Identity providers", el: <IdentityProviders />, admin: true },
  { path: "gateway-tokens", label: "Gateway tokens", el: <GatewayTokens />, admin: true },
  { path: "audit", label: "Audit log", el: <Audit />, admin: true },
  { path: "config", label: "Config (YAML)", el: <Config />, admin: true },
  { path: "usage", label: "Usage", el: <Usage />, admin: false },
  { path: "requests", label: "Request log", el: <Requests />, admin: false },
  { path: "playground", label: "Playground", el: <Playground />, admin: false },
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
  const { api, tokens } = useApi();
  const queries = useQueryClient();
  // Whether the token may use the Admin API: one read tells (PermissionDenied: a key of a
  // user without an Admin API role, who gets the Playground and their own usage).
  const access = useQuery({
    queryKey: ["access"],
    queryFn: async () => {
      try {
        await api.admin.listUsers({});
        return { admin: true };
      } catch (err) {
        if (ConnectError.from(err).code === Code.PermissionDenied) return { admin: false };
        throw err;
      }
    },
    staleTime: Infinity,
  });
  if (!access.data) {
    return (
      <main id="main">
        {access.error ? (
          <p className="error" role="alert">
            {ConnectError.from(access.error).rawMessage}
          </p>
        ) : (
          <p role="status">Loading…</p>
        )}
      </main>
    );
  }
  const visible = pages.filter((p) => access.data.admin || !p.admin);
  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <header>
        <span className="brand">llmgw</span>
        <nav aria-label="Main">
          <ul>
            {visible.map((p) => (
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
            {visible.map((p) => (
              <Route key={p.path} path={`/${p.path}`} element={p.el} />
            ))}
            <Route path="*" element={<Navigate to={`/${visible[0].path}`} replace />} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}
