import { lazy, Suspense, type ReactNode } from "react";
import { NavLink, Navigate, Route, Routes, useLocation } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { ConnectError } from "@connectrpc/connect";
import { AccessContext, notifyAuth, useApi, useToken } from "./context";
import { accessOf, mayRead, type PageKind } from "./lib/access";
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

// kind says who sees a page (lib/access.ts): config pages the admin and viewer roles, team
// pages also a team admin, own pages everyone.
const pages: { path: string; label: string; el: ReactNode; kind: PageKind }[] = [
  { path: "users", label: "Users", el: <Users />, kind: "config" },
  { path: "access", label: "Teams & access", el: <Access />, kind: "config" },
  { path: "keys", label: "API keys", el: <Keys />, kind: "team" },
  { path: "limits", label: "Rate limits & budgets", el: <Limits />, kind: "team" },
  { path: "providers", label: "Providers & models", el: <Providers />, kind: "config" },
  { path: "virtual-models", label: "Virtual models & routing", el: <Routing />, kind: "config" },
  { path: "virtual-accounts", label: "Virtual accounts", el: <VirtualAccounts />, kind: "config" },
  { path: "identity-providers", label: "Identity providers", el: <IdentityProviders />, kind: "config" },
  { path: "gateway-tokens", label: "Gateway tokens", el: <GatewayTokens />, kind: "config" },
  { path: "audit", label: "Audit log", el: <Audit />, kind: "config" },
  { path: "config", label: "Config (YAML)", el: <Config />, kind: "config" },
  { path: "usage", label: "Usage", el: <Usage />, kind: "own" },
  { path: "requests", label: "Request log", el: <Requests />, kind: "own" },
  { path: "playground", label: "Playground", el: <Playground />, kind: "own" },
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
  // Who the token is and what its roles allow: one GetCaller, which serves every caller.
  const access = useQuery({
    queryKey: ["caller"],
    queryFn: async () => accessOf(await api.admin.getCaller({})),
    staleTime: Infinity,
  });
  const signOut = () => {
    tokens.clear();
    queries.clear();
    notifyAuth();
  };
  if (!access.data) {
    return (
      <main id="main">
        {access.error ? (
          <>
            {/* An expired identity token lands here: the way back is to sign in again. */}
            <p className="error" role="alert">
              {ConnectError.from(access.error).rawMessage}
            </p>
            <button type="button" onClick={signOut}>
              Sign in again
            </button>
          </>
        ) : (
          <p role="status">Loading…</p>
        )}
      </main>
    );
  }
  const visible = pages.filter((p) => mayRead(access.data, p.kind));
  return (
    <AccessContext.Provider value={access.data}>
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
            onClick={signOut}
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
    </AccessContext.Provider>
  );
}
