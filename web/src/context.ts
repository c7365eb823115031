import { createContext, useContext, useSyncExternalStore } from "react";
import type { Api } from "./lib/api";
import type { TokenStore } from "./lib/auth";
import type { Access } from "./lib/access";

export const ApiContext = createContext<{ api: Api; tokens: TokenStore } | null>(null);

export function useApi(): { api: Api; tokens: TokenStore } {
  const v = useContext(ApiContext);
  if (!v) throw new Error("useApi outside ApiContext");
  return v;
}

// The signed-in state, shared by the pages: sign in and out notify every subscriber.
const listeners = new Set<() => void>();
export function notifyAuth(): void {
  listeners.forEach((l) => l());
}

export function useToken(): string {
  const { tokens } = useApi();
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => tokens.get(),
  );
}

// The caller's access (GetCaller), provided by the shell once signed in.
export const AccessContext = createContext<Access | null>(null);

export function useAccess(): Access {
  const v = useContext(AccessContext);
  if (!v) throw new Error("useAccess outside AccessContext");
  return v;
}
