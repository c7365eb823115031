import { describe, expect, it } from "vitest";
import { applyChunk, SSEParser, type StreamState } from "./sse";

const chunk = (content: string) => JSON.stringify({ model: "mock/echo", choices: [{ index: 0, delta: { content } }] });

describe("SSEParser", () => {
  it("joins events split across chunks and skips comments", () => {
    const p = new SSEParser();
    expect(p.push(": keep-alive\n\nda")).toEqual([]);
    expect(p.push('ta: {"a":1}\r\n\r\ndata: [DO')).toEqual(['{"a":1}']);
    expect(p.push("NE]\n\n")).toEqual(["[DONE]"]);
  });
  it("joins multi-line data with newlines", () => {
    expect(new SSEParser().push("data: a\ndata: b\n\n")).toEqual(["a\nb"]);
  });
});

describe("applyChunk", () => {
  const start: StreamState = { text: "", model: "", done: false };
  it("appends deltas, keeps the usage chunk, and ends at [DONE]", () => {
    let s = start;
    for (const d of [chunk("Hel"), chunk("lo"), JSON.stringify({ model: "mock/echo", choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }), "[DONE]"]) {
      s = applyChunk(s, d);
    }
    expect(s).toEqual({ text: "Hello", model: "mock/echo", done: true, usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
  });
  it("ends on an error event with its message", () => {
    const s = applyChunk(applyChunk(start, chunk("par")), JSON.stringify({ error: { message: "upstream failed", type: "server_error" } }));
    expect(s.error).toBe("upstream failed");
    expect(s.done).toBe(true);
    expect(s.text).toBe("par");
  });
  it("records an event that is not JSON as an error", () => {
    expect(applyChunk(start, "{nope").error).toMatch(/not JSON/);
  });
});
