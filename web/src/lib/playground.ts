// The Playground's request building: the chat completion body, its tools and response format
// (checked before sending, as the OpenAI API defines them), and what the usage event of an
// answer says about it.
import type { UsageEvent } from "@gen/llmgw/usage/v1/event_pb";
import type { ToolCall } from "./sse";

export type FormatKind = "text" | "json_object" | "json_schema";

export const formatKinds: Record<FormatKind, string> = {
  text: "text",
  json_object: "JSON object",
  json_schema: "JSON schema",
};

export interface Checked<T> {
  value?: T;
  error?: string;
}

const functionName = /^[a-zA-Z0-9_-]{1,64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJSON(field: string, text: string): Checked<unknown> {
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: `${field} is not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}

// parseTools checks the tools field: empty is no tools; else a JSON array of
// {"type": "function", "function": {"name", "description"?, "parameters"?}}, each name 1 to 64
// letters, digits, '_' or '-', unique, and parameters a JSON Schema object.
export function parseTools(text: string): Checked<Record<string, unknown>[]> {
  if (text.trim() === "") return {};
  const j = parseJSON("tools", text);
  if (j.error) return { error: j.error };
  if (!Array.isArray(j.value)) return { error: "tools must be a JSON array of tools" };
  const seen = new Set<string>();
  for (const [i, t] of j.value.entries()) {
    if (!isObject(t) || t.type !== "function") return { error: `tools[${i}].type must be "function"` };
    const fn = t.function;
    if (!isObject(fn)) return { error: `tools[${i}].function must be an object` };
    if (typeof fn.name !== "string" || !functionName.test(fn.name)) return { error: `tools[${i}].function.name must be 1 to 64 letters, digits, '_' or '-'` };
    if (seen.has(fn.name)) return { error: `tools[${i}].function.name "${fn.name}" is used twice` };
    seen.add(fn.name);
    if (fn.description !== undefined && typeof fn.description !== "string") return { error: `tools[${i}].function.description must be a string` };
    if (fn.parameters !== undefined && !isObject(fn.parameters)) return { error: `tools[${i}].function.parameters must be a JSON Schema object` };
  }
  return { value: j.value as Record<string, unknown>[] };
}

// parseResponseFormat is the response_format of kind: none for text (the default), {"type":
// "json_object"}, or {"type": "json_schema", "json_schema": {...}} where the text is
// {"name", "schema", "strict"?} with name as a function name and schema an object.
export function parseResponseFormat(kind: FormatKind, text: string): Checked<Record<string, unknown>> {
  switch (kind) {
    case "text":
      return {};
    case "json_object":
      return { value: { type: "json_object" } };
    case "json_schema": {
      if (text.trim() === "") return { error: 'response_format.json_schema is required: {"name": ..., "schema": {...}}' };
      const j = parseJSON("response_format.json_schema", text);
      if (j.error) return { error: j.error };
      const v = j.value;
      if (!isObject(v)) return { error: "response_format.json_schema must be a JSON object" };
      if (typeof v.name !== "string" || !functionName.test(v.name)) return { error: "response_format.json_schema.name must be 1 to 64 letters, digits, '_' or '-'" };
      if (!isObject(v.schema)) return { error: "response_format.json_schema.schema must be a JSON Schema object" };
      if (v.strict !== undefined && typeof v.strict !== "boolean") return { error: "response_format.json_schema.strict must be true or false" };
      return { value: { type: "json_schema", json_schema: v } };
    }
  }
}

// Turn is one message of a conversation: the user's, the assistant's (its text and the tool
// calls it asked for) or a tool's result (the call it answers by toolCallId, and the tool's
// name, shown with it).
export interface Turn {
  role: "user" | "assistant" | "tool";
  content: string;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  name?: string;
}

// callId is a tool call's id, or one made from its position when the answer gave none (the
// tool message must name the call it answers).
export function callId(c: ToolCall, i: number): string {
  return c.id || `call_${i}`;
}

// apiMessages are turns as the OpenAI chat API takes them: an assistant turn that asked for
// tools carries its tool_calls (its content null when it said nothing), a tool's result is
// {"role": "tool", "tool_call_id", "content"}.
export function apiMessages(turns: Turn[]): Record<string, unknown>[] {
  return turns.map((t) => {
    if (t.role === "tool") return { role: "tool", tool_call_id: t.toolCallId, content: t.content };
    if (t.role === "assistant" && t.toolCalls?.length)
      return {
        role: "assistant",
        content: t.content === "" ? null : t.content,
        tool_calls: t.toolCalls.map((c, i) => ({ id: callId(c, i), type: "function", function: { name: c.name, arguments: c.arguments } })),
      };
    return { role: t.role, content: t.content };
  });
}

// openToolCalls are the tool calls a conversation waits on: those of its last turn, when that
// is the assistant's and asked for tools.
export function openToolCalls(turns: Turn[]): ToolCall[] {
  const last = turns[turns.length - 1];
  return last?.role === "assistant" ? (last.toolCalls ?? []) : [];
}

// toolTurns are the tool messages answering calls with results, one each, in order.
export function toolTurns(calls: ToolCall[], results: string[]): Turn[] {
  return calls.map((c, i) => ({ role: "tool", toolCallId: callId(c, i), name: c.name, content: results[i] ?? "" }));
}

export interface ChatOptions {
  model: string;
  system: string;
  messages: Turn[];
  temperature?: number;
  maxTokens?: number;
  stream: boolean;
  tools?: Record<string, unknown>[];
  responseFormat?: Record<string, unknown>;
}

// chatBody is the /v1/chat/completions body of o; a streamed one asks for the usage chunk.
export function chatBody(o: ChatOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: o.model,
    messages: [...(o.system.trim() ? [{ role: "system", content: o.system }] : []), ...apiMessages(o.messages)],
    stream: o.stream,
  };
  if (o.stream) body.stream_options = { include_usage: true };
  if (o.temperature !== undefined) body.temperature = o.temperature;
  if (o.maxTokens !== undefined) body.max_tokens = o.maxTokens;
  if (o.tools?.length) body.tools = o.tools;
  if (o.responseFormat) body.response_format = o.responseFormat;
  return body;
}

// modelChoices is the models a key may call (/v1/models) and the virtual models, sorted,
// each once.
export function modelChoices(models: string[], virtual: string[]): string[] {
  return [...new Set([...models, ...virtual])].sort();
}

// answeredBy is the model that answered a request: the event's target, else the last attempt
// that succeeded, else the model asked for.
export function answeredBy(ev: UsageEvent): string {
  return ev.target?.model || [...ev.attempts].reverse().find((a) => a.status === "ok")?.target || ev.model;
}

// costText shows an event's cost in US dollars, or that the model has no price.
export function costText(ev: UsageEvent): string {
  return ev.priced ? `$${String(ev.costUsd)}` : "not priced";
}
