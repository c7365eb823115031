import { useState, type FormEvent } from "react";
import { useLocation, useNavigate } from "react-router";
import { Code, ConnectError } from "@connectrpc/connect";
import { newApi } from "../lib/api";
import { notifyAuth, useApi } from "../context";
import { Field } from "../components";

// SignIn checks the token with one Admin API call before keeping it: the admin token, or a
// key of a user with an Admin API role. A key without one (PermissionDenied) is kept too: it
// may still use the Playground and its own usage.
export function SignIn() {
  const { tokens } = useApi();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from ?? "/";
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

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
      await probe.admin.listUsers({});
    } catch (err) {
      const ce = ConnectError.from(err);
      if (ce.code !== Code.PermissionDenied) {
        setBusy(false);
        setError(ce.code === Code.Unauthenticated ? "The gateway did not accept this token" : ce.rawMessage);
        return;
      }
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
    </main>
  );
}

