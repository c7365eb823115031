// Single sign-on through the gateway's login identity provider (GET /api/v1/auth/config, the
// one `llmgw login` uses): the OAuth 2.0 authorization code flow of a public client with PKCE
// (RFC 7636), state and an OpenID Connect nonce. The pending login (verifier, state, nonce)
// lives in sessionStorage until the provider redirects back; the token is then kept like a
// typed one (sessionStorage only) and the code is removed from the URL.

// AuthConfig is the gateway's answer at /api/v1/auth/config.
export interface AuthConfig {
  provider: string;
  issuer: string;
  client_id: string;
  audiences: string[];
}

// Discovery is what a login needs of the provider's discovery document.
export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
}

// Pending is a login on its way through the provider.
export interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  tokenEndpoint: string;
  clientId: string;
  redirectUri: string;
  from: string;
}

const pendingKey = "llmgw.sso";
type Store = Pick<Storage, "getItem" | "setItem" | "removeItem">;

// fetchAuthConfig reads the gateway's login provider; undefined when it has none (404).
export async function fetchAuthConfig(origin: string, f: typeof fetch = fetch): Promise<AuthConfig | undefined> {
  const r = await f(`${origin}/api/v1/auth/config`, { headers: { Accept: "application/json" } });
  if (r.status === 404) return undefined;
  if (!r.ok) throw new Error(`the gateway's sign-in configuration: HTTP ${r.status}`);
  const c = (await r.json()) as AuthConfig;
  if (!c.issuer || !c.client_id) return undefined;
  return c;
}

// discover reads the issuer's discovery document and checks that it names the issuer.
export async function discover(issuer: string, f: typeof fetch = fetch): Promise<Discovery> {
  const r = await f(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!r.ok) throw new Error(`the identity provider's discovery document: HTTP ${r.status}`);
  const d = (await r.json()) as Discovery;
  if (d.issuer !== issuer) throw new Error(`the identity provider's discovery document names issuer ${d.issuer}`);
  if (!d.authorization_endpoint || !d.token_endpoint) throw new Error("the identity provider has no authorization or token endpoint");
  return d;
}

export function base64url(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// random is a fresh random string of n bytes, base64url: state, nonce and PKCE verifier.
export function random(n = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

// challenge is the S256 PKCE challenge of verifier.
export async function challenge(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
}

// begin records a pending login and returns the authorization URL to send the browser to.
export async function begin(store: Store, c: AuthConfig, d: Discovery, redirectUri: string, from: string): Promise<string> {
  const p: Pending = { state: random(), nonce: random(), verifier: random(), tokenEndpoint: d.token_endpoint, clientId: c.client_id, redirectUri, from };
  store.setItem(pendingKey, JSON.stringify(p));
  const u = new URL(d.authorization_endpoint);
  u.searchParams.set("response_type", "code");
  u.searchParams.set("client_id", c.client_id);
  u.searchParams.set("redirect_uri", redirectUri);
  u.searchParams.set("scope", "openid email profile");
  u.searchParams.set("state", p.state);
  u.searchParams.set("nonce", p.nonce);
  u.searchParams.set("code_challenge", await challenge(p.verifier));
  u.searchParams.set("code_challenge_method", "S256");
  return u.toString();
}

// isCallback reports whether a URL's query is a provider's answer (a code or an error).
export function isCallback(search: string): boolean {
  const q = new URLSearchParams(search);
  return q.has("state") && (q.has("code") || q.has("error"));
}

// claims decodes a JWT's payload without verifying it (the gateway verifies; the app only
// reads the nonce it sent).
export function claims(jwt: string): Record<string, unknown> {
  const parts = jwt.split(".");
  if (parts.length !== 3) throw new Error("not a JWT");
  const b = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(b, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}

// finish completes the login the URL's query answers: it checks the state against the
// pending login (which it forgets either way), redeems the code with the verifier, checks
// the ID token's nonce, and returns the token to send as Bearer (the access token when it is a
// JWT the gateway can verify, else the ID token, as `llmgw login` does) and where to go.
export async function finish(store: Store, search: string, f: typeof fetch = fetch): Promise<{ token: string; from: string }> {
  const raw = store.getItem(pendingKey);
  store.removeItem(pendingKey);
  const q = new URLSearchParams(search);
  const pending = raw ? (JSON.parse(raw) as Pending) : undefined;
  if (!pending || q.get("state") !== pending.state) throw new Error("This sign-in answer does not match a sign-in started here; sign in again");
  if (q.get("error")) throw new Error(`The identity provider refused the sign-in (${q.get("error")})`);
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code: q.get("code") ?? "",
    redirect_uri: pending.redirectUri,
    client_id: pending.clientId,
    code_verifier: pending.verifier,
  });
  const r = await f(pending.tokenEndpoint, { method: "POST", body });
  if (!r.ok) throw new Error(`The identity provider did not issue a token (HTTP ${r.status})`);
  const t = (await r.json()) as { access_token?: string; id_token?: string };
  if (!t.id_token || claims(t.id_token).nonce !== pending.nonce) throw new Error("The identity provider's ID token does not carry this sign-in's nonce");
  const token = t.access_token && t.access_token.split(".").length === 3 ? t.access_token : t.id_token;
  return { token, from: pending.from };
}
