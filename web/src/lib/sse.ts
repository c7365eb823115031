// Reading an OpenAI chat completion stream (server-sent events) as the Playground shows it.

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

// ToolCall is a function call the model asked for; its arguments arrive in pieces. id is the
// call's id, which the tool message answering it names (tool_call_id).
export interface ToolCall {
  id?: string;
  name: string;
  arguments: string;
}

export interface StreamState {
  text: string;
  model: string;
  usage?: ChatUsage;
  done: boolean;
  error?: string;
  // toolCalls are the calls of the answer, by their index in the stream.
  toolCalls?: ToolCall[];
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

// SSEParser splits a byte stream into events' data payloads; feed it chunks as they arrive.
export class SSEParser {
  private buf = "";

  push(chunk: string): string[] {
    this.buf += chunk.replace(/\r\n?/g, "\n");
    const out: string[] = [];
    let i: number;
    while ((i = this.buf.indexOf("\n\n")) >= 0) {
      const event = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const data = event
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""));
      if (data.length > 0) out.push(data.join("\n"));
    }
    return out;
  }
}

// applyChunk folds one event's data into the state: content deltas append, tool call deltas
// build their calls (an id and a name once, arguments in pieces), the usage chunk
// (stream_options.include_usage) sets usage, [DONE] ends, an error event records its message.
export function applyChunk(s: StreamState, data: string): StreamState {
  if (data === "[DONE]") return { ...s, done: true };
  let v: {
    model?: string;
    choices?: { delta?: { content?: string | null; tool_calls?: ToolCallDelta[] } }[];
    usage?: ChatUsage | null;
    error?: { message?: string };
  };
  try {
    v = JSON.parse(data);
  } catch {
    return { ...s, error: "the gateway sent an event that is not JSON" };
  }
  if (v.error) return { ...s, error: v.error.message ?? "stream failed", done: true };
  const delta = (v.choices ?? []).map((c) => c.delta?.content ?? "").join("");
  const out: StreamState = { ...s, text: s.text + delta, model: v.model || s.model, usage: v.usage ?? s.usage };
  for (const tc of (v.choices ?? []).flatMap((c) => c.delta?.tool_calls ?? [])) {
    const calls = [...(out.toolCalls ?? [])];
    const i = tc.index ?? calls.length;
    const prev = calls[i] ?? { name: "", arguments: "" };
    const id = prev.id || tc.id;
    calls[i] = { ...(id ? { id } : {}), name: prev.name + (tc.function?.name ?? ""), arguments: prev.arguments + (tc.function?.arguments ?? "") };
    out.toolCalls = calls;
  }
  return out;
}

// answerText is what the Playground shows of an answer: its text, and the tool calls it asks
// for, one a line as name(arguments).
export function answerText(text: string, calls: ToolCall[] | undefined): string {
  const lines = (calls ?? []).filter(Boolean).map((c) => `${c.name}(${c.arguments})`);
  return [text, ...lines].filter((l) => l !== "").join("\n");
}
