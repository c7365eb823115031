// The admin token (or a user's key) the app signs in with. It lives in sessionStorage only:
// gone when the tab closes, never in a URL, never in localStorage.
const storageKey = "llmgw.token";

export interface TokenStore {
  get(): string;
  set(token: string): void;
  clear(): void;
}

export function sessionTokenStore(storage: Pick<Storage, "getItem" | "setItem" | "removeItem">): TokenStore {
  return {
    get: () => storage.getItem(storageKey) ?? "",
    set: (token) => storage.setItem(storageKey, token.trim()),
    clear: () => storage.removeItem(storageKey),
  };
}
