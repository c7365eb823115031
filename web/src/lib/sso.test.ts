import { describe, expect, it } from "vitest";
import { base64url, begin, challenge, claims, discover, fetchAuthConfig, finish, isCallback, type AuthConfig, type Discovery } from "./sso";

function memory(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
    clear: () => m.clear(),
    key: () => null,
    get length() {
      return m.size;
    },
  };
}

const cfg: AuthConfig = { provider: "corp", issuer: "https://login.example.com", client_id: "llmgw-web", audiences: ["llmgw"] };
const disc: Discovery = { issuer: cfg.issuer, authorization_endpoint: "https://login.example.com/auth", token_endpoint: "https://login.example.com/token" };
const jwt = (c: object) => `e30.${base64url(new TextEncoder().encode(JSON.stringify(c)))}.sig`;
const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status });

describe("sso", () => {
  it("computes the RFC 7636 S256 challenge: base64url(SHA-256(verifier)), unpadded", async () => {
    // Expected values from Node's own crypto.createHash("sha256").digest("base64url").
    expect(await challenge("dBjftJeZ4CK-o11yGHx1Bi6SSBrr9Abjvg3LpKrKqTM")).toBe("xkhrHo6ooA0KzikRFAw_UW7Cf5P6i1KT_Kh99LyVD3A");
    expect(await challenge("a")).toBe("ypeBEsobvcr6wjGzmiPcTaeG7_gUfE5yuYB3ha_uSLs");
  });

  it("sends the browser to the provider with PKCE, state and nonce, and remembers them", async () => {
    const s = memory();
    const u = new URL(await begin(s, cfg, disc, "http://127.0.0.1:8080/ui/signin", "/usage"));
    const p = JSON.parse(s.getItem("llmgw.sso")!);
    expect(u.origin + u.pathname).toBe(disc.authorization_endpoint);
    expect(Object.fromEntries(u.searchParams)).toEqual({
      response_type: "code",
      client_id: "llmgw-web",
      redirect_uri: "http://127.0.0.1:8080/ui/signin",
      scope: "openid email profile",
      state: p.state,
      nonce: p.nonce,
      code_challenge: await challenge(p.verifier),
      code_challenge_method: "S256",
    });
    expect(p.state).not.toBe(p.nonce);
  });

  it("redeems the code and checks state and nonce", async () => {
    const s = memory();
    const u = new URL(await begin(s, cfg, disc, "http://127.0.0.1:8080/ui/signin", "/usage"));
    const p = JSON.parse(s.getItem("llmgw.sso")!);
    let sent: URLSearchParams | undefined;
    const access = jwt({ sub: "sara" });
    const f = (async (_: unknown, init?: RequestInit) => {
      sent = init?.body as URLSearchParams;
      return json({ access_token: access, id_token: jwt({ nonce: p.nonce }) });
    }) as typeof fetch;
    const r = await finish(s, `?code=c1&state=${u.searchParams.get("state")}`, f);
    expect(r).toEqual({ token: access, from: "/usage" });
    expect(sent?.get("code_verifier")).toBe(p.verifier);
    expect(sent?.get("code")).toBe("c1");
    expect(s.getItem("llmgw.sso")).toBeNull();
  });

  it("uses the ID token when the access token is not a JWT", async () => {
    const s = memory();
    await begin(s, cfg, disc, "r", "/");
    const p = JSON.parse(s.getItem("llmgw.sso")!);
    const id = jwt({ nonce: p.nonce });
    const r = await finish(s, `?code=c&state=${p.state}`, (async () => json({ access_token: "opaque", id_token: id })) as typeof fetch);
    expect(r.token).toBe(id);
  });

  it("refuses a forged state, a replay, a wrong nonce and a provider's error", async () => {
    const s = memory();
    const never = (async () => {
      throw new Error("must not call the token endpoint");
    }) as typeof fetch;
    await begin(s, cfg, disc, "r", "/");
    await expect(finish(s, "?code=c&state=forged", never)).rejects.toThrow(/does not match/);
    await expect(finish(s, "?code=c&state=forged", never)).rejects.toThrow(/does not match/);
    await begin(s, cfg, disc, "r", "/");
    let p = JSON.parse(s.getItem("llmgw.sso")!);
    await expect(finish(s, `?error=access_denied&state=${p.state}`, never)).rejects.toThrow(/access_denied/);
    await begin(s, cfg, disc, "r", "/");
    p = JSON.parse(s.getItem("llmgw.sso")!);
    const wrong = (async () => json({ access_token: jwt({}), id_token: jwt({ nonce: "other" }) })) as typeof fetch;
    await expect(finish(s, `?code=c&state=${p.state}`, wrong)).rejects.toThrow(/nonce/);
  });

  it("reads the auth config and discovery", async () => {
    expect(await fetchAuthConfig("http://gw", (async () => json({ error: {} }, 404)) as typeof fetch)).toBeUndefined();
    expect(await fetchAuthConfig("http://gw", (async () => json(cfg)) as typeof fetch)).toEqual(cfg);
    await expect(discover(cfg.issuer, (async () => json({ ...disc, issuer: "https://evil.example.com" })) as typeof fetch)).rejects.toThrow(/names issuer/);
    expect(await discover(cfg.issuer, (async () => json(disc)) as typeof fetch)).toEqual(disc);
  });

  it("tells a provider's answer from a plain visit", () => {
    expect(isCallback("?code=a&state=b")).toBe(true);
    expect(isCallback("?error=x&state=b")).toBe(true);
    expect(isCallback("")).toBe(false);
    expect(claims(jwt({ a: 1 }))).toEqual({ a: 1 });
  });
});
