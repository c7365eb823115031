import { useEffect, useRef, useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { useLocation, useNavigate } from "react-router";
import { Code, ConnectError } from "@connectrpc/connect";
import { newApi } from "../lib/api";
import { notifyAuth, useApi } from "../context";
import { Field, FormError } from "../components";
import { begin, discover, fetchAuthConfig, finish, isCallback } from "../lib/sso";

// SignIn checks the token with GetCaller before keeping it: the admin token, a key, or an
// identity token the gateway accepts. A caller without an Admin API role is kept too: it
// may still use the Playground and its own usage.
export function SignIn() {
  const { tokens } = useApi();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from ?? "/";
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // Single sign-on, when the gateway names a login identity provider.
  const sso = useQuery({ queryKey: ["authconfig"], queryFn: () => fetchAuthConfig(window.location.origin), staleTime: Infinity });
  const [ssoError, setSsoError] = useState<string>();
  const [ssoBusy, setSsoBusy] = useState(() => isCallback(window.location.search));
  const callback = useRef(false);
  useEffect(() => {
    const search = window.location.search;
    if (callback.current || !isCallback(search)) return;
    callback.current = true;
    // The code and state leave the address bar (and the history) at once.
    window.history.replaceState(null, "", window.location.pathname);
    finish(window.sessionStorage, search)
      .then(({ token: t, from: back }) => {
        tokens.set(t);
        notifyAuth();
        navigate(back === "/signin" ? "/" : back, { replace: true });
      })
      .catch((err: unknown) => {
        setSsoError(err instanceof Error ? err.message : String(err));
        setSsoBusy(false);
      });
  }, [tokens, navigate]);

  async function signInWithProvider() {
    if (!sso.data) return;
    setSsoBusy(true);
    setSsoError(undefined);
    try {
      const d = await discover(sso.data.issuer);
      window.location.assign(await begin(window.sessionStorage, sso.data, d, `${window.location.origin}/ui/signin`, from));
    } catch (err) {
      setSsoError(err instanceof Error ? err.message : String(err));
      setSsoBusy(false);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError("Enter the admin token or an API key");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      // A throwaway store so that nothing is kept until the token is known to work.
      const probe = newApi(window.location.origin, { get: () => t, set() {}, clear() {} });
      await probe.admin.getCaller({});
    } catch (err) {
      const ce = ConnectError.from(err);
      setBusy(false);
      setError(ce.code === Code.Unauthenticated ? "The gateway did not accept this token" : ce.rawMessage);
      return;
    }
    tokens.set(t);
    setToken("");
    notifyAuth();
    navigate(from === "/signin" ? "/" : from, { replace: true });
  }

  return (
    <main id="main" className="signin">
      <h1>Sign in to llmgw</h1>
      <form onSubmit={submit} noValidate>
        <Field label="Admin token or API key" error={error} hint="Kept in this tab only (session storage).">
          {(id, d, invalid) => (
            <input
              id={id}
              type="password"
              autoComplete="current-password"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              aria-describedby={d}
              aria-invalid={invalid}
              autoFocus
            />
          )}
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {(sso.data || ssoError) && (
        <div className="sso">
          {sso.data && (
            <button type="button" className="secondary" onClick={signInWithProvider} disabled={ssoBusy}>
              {ssoBusy ? "Signing in…" : `Sign in with ${sso.data.provider}`}
            </button>
          )}
          <FormError message={ssoError} />
        </div>
      )}
    </main>
  );
}

