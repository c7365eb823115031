import { describe, expect, it } from "vitest";
import { sessionTokenStore } from "./auth";

describe("sessionTokenStore", () => {
  it("keeps the trimmed token and forgets it", () => {
    const m = new Map<string, string>();
    const storage = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
    const s = sessionTokenStore(storage);
    expect(s.get()).toBe("");
    s.set("  secret\n");
    expect(s.get()).toBe("secret");
    s.clear();
    expect(s.get()).toBe("");
    expect(m.size).toBe(0);
  });
});
