import { describe, expect, it } from "vitest";
import { answerText, applyChunk, SSEParser, type StreamState } from "./sse";

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

describe("tool calls", () => {
  const tc = (index: number, fn: { name?: string; arguments?: string }) => JSON.stringify({ choices: [{ delta: { tool_calls: [{ index, function: fn }] } }] });
  it("build each call from its pieces, by index", () => {
    let s: StreamState = { text: "", model: "m", done: false };
    for (const d of [tc(0, { name: "get_weather", arguments: "" }), tc(1, { name: "get_time", arguments: "{}" }), tc(0, { arguments: '{"city":' }), tc(0, { arguments: '"Oslo"}' })]) {
      s = applyChunk(s, d);
    }
    expect(s.toolCalls).toEqual([
      { name: "get_weather", arguments: '{"city":"Oslo"}' },
      { name: "get_time", arguments: "{}" },
    ]);
    expect(answerText(s.text, s.toolCalls)).toBe('get_weather({"city":"Oslo"})\nget_time({})');
  });
  it("keep each call's id, sent once with its first piece", () => {
    const first = JSON.stringify({ choices: [{ delta: { tool_calls: [{ index: 0, id: "call_x", type: "function", function: { name: "f", arguments: "" } }] } }] });
    const s = applyChunk(applyChunk({ text: "", model: "m", done: false }, first), tc(0, { arguments: "{}" }));
    expect(s.toolCalls).toEqual([{ id: "call_x", name: "f", arguments: "{}" }]);
  });
  it("answerText is the text alone without calls", () => {
    expect(answerText("Hello", undefined)).toBe("Hello");
    expect(answerText("Let me look.", [{ name: "f", arguments: "{}" }])).toBe("Let me look.\nf({})");
  });
});
