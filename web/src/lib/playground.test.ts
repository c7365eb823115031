import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AttemptSchema, TargetSchema, UsageEventSchema } from "@gen/llmgw/usage/v1/event_pb";
import { answeredBy, apiMessages, chatBody, costText, modelChoices, openToolCalls, parseResponseFormat, parseTools, toolTurns, type Turn } from "./playground";

const weather = { type: "function", function: { name: "get_weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { type: "string" } } } } };

describe("parseTools", () => {
  it("empty is no tools", () => {
    expect(parseTools("  ")).toEqual({});
  });
  it("a valid array is kept as written", () => {
    expect(parseTools(JSON.stringify([weather]))).toEqual({ value: [weather] });
  });
  it.each([
    ["{", "tools is not valid JSON"],
    ['{"type": "function"}', "tools must be a JSON array"],
    ['[{"type": "retrieval"}]', 'tools[0].type must be "function"'],
    ['[{"type": "function"}]', "tools[0].function must be an object"],
    ['[{"type": "function", "function": {"name": "has space"}}]', "tools[0].function.name must be 1 to 64"],
    [JSON.stringify([weather, weather]), 'tools[1].function.name "get_weather" is used twice'],
    ['[{"type": "function", "function": {"name": "f", "parameters": []}}]', "tools[0].function.parameters must be a JSON Schema object"],
    ['[{"type": "function", "function": {"name": "f", "description": 3}}]', "tools[0].function.description must be a string"],
  ])("%s is refused: %s", (text, want) => {
    const r = parseTools(text);
    expect(r.value).toBeUndefined();
    expect(r.error).toContain(want);
  });
});

describe("parseResponseFormat", () => {
  it("text sends none; json_object its type", () => {
    expect(parseResponseFormat("text", "ignored")).toEqual({});
    expect(parseResponseFormat("json_object", "")).toEqual({ value: { type: "json_object" } });
  });
  it("json_schema wraps the named schema", () => {
    const s = { name: "answer", schema: { type: "object" }, strict: true };
    expect(parseResponseFormat("json_schema", JSON.stringify(s))).toEqual({ value: { type: "json_schema", json_schema: s } });
  });
  it.each([
    ["", "response_format.json_schema is required"],
    ["nope", "response_format.json_schema is not valid JSON"],
    ["[]", "must be a JSON object"],
    ['{"schema": {}}', "response_format.json_schema.name"],
    ['{"name": "a", "schema": "x"}', "response_format.json_schema.schema must be a JSON Schema object"],
    ['{"name": "a", "schema": {}, "strict": "yes"}', "strict must be true or false"],
  ])("json_schema %j is refused: %s", (text, want) => {
    expect(parseResponseFormat("json_schema", text).error).toContain(want);
  });
});

describe("chatBody", () => {
  const base = { model: "mock/echo", system: "", messages: [{ role: "user" as const, content: "hi" }], stream: false };
  it("holds only what is set", () => {
    expect(chatBody(base)).toEqual({ model: "mock/echo", messages: [{ role: "user", content: "hi" }], stream: false });
  });
  it("adds the system prompt, numbers, tools, response format and the usage chunk of a stream", () => {
    expect(chatBody({ ...base, system: "Be brief.", stream: true, temperature: 0, maxTokens: 5, tools: [weather], responseFormat: { type: "json_object" } })).toEqual({
      model: "mock/echo",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      max_tokens: 5,
      tools: [weather],
      response_format: { type: "json_object" },
    });
  });
  it("an empty tools list is left out", () => {
    expect(chatBody({ ...base, tools: [] })).not.toHaveProperty("tools");
  });
});

describe("usage event", () => {
  it("answeredBy is the target, else the last successful attempt, else the model asked for", () => {
    expect(answeredBy(create(UsageEventSchema, { model: "virt/chat", target: create(TargetSchema, { model: "a/m" }) }))).toBe("a/m");
    const attempts = [create(AttemptSchema, { target: "a/first", status: "ok" }), create(AttemptSchema, { target: "b/second", status: "ok" }), create(AttemptSchema, { target: "c/failed", status: "server_error" })];
    expect(answeredBy(create(UsageEventSchema, { model: "virt/chat", attempts }))).toBe("b/second");
    expect(answeredBy(create(UsageEventSchema, { model: "virt/chat" }))).toBe("virt/chat");
  });
  it("costText shows a priced cost and never calls an unpriced one free", () => {
    expect(costText(create(UsageEventSchema, { priced: true, costUsd: 0.00012 }))).toBe("$0.00012");
    expect(costText(create(UsageEventSchema, { priced: false, costUsd: 0 }))).toBe("not priced");
  });
});

describe("modelChoices", () => {
  it("merges the key's models and the virtual models, sorted, once each", () => {
    expect(modelChoices(["mock/echo", "a/m"], ["virt/chat", "a/m"])).toEqual(["a/m", "mock/echo", "virt/chat"]);
  });
});

describe("a tool call's round trip", () => {
  const calls = [
    { id: "call_abc", name: "get_weather", arguments: '{"city":"Oslo"}' },
    { name: "get_time", arguments: "{}" },
  ];
  const asked: Turn[] = [
    { role: "user", content: "weather and time in Oslo?" },
    { role: "assistant", content: "", toolCalls: calls },
  ];
  it("waits on the calls of the last answer, and on none once they are answered", () => {
    expect(openToolCalls(asked)).toEqual(calls);
    expect(openToolCalls([...asked, ...toolTurns(calls, ["12 C", "10:00"])])).toEqual([]);
    expect(openToolCalls([{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }])).toEqual([]);
    expect(openToolCalls([])).toEqual([]);
  });
  it("sends the assistant's tool_calls and a tool message for each, in the OpenAI shape", () => {
    const turns = [...asked, ...toolTurns(calls, ["12 C", "10:00"])];
    expect(apiMessages(turns)).toEqual([
      { role: "user", content: "weather and time in Oslo?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_abc", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
          { id: "call_1", type: "function", function: { name: "get_time", arguments: "{}" } },
        ],
      },
      { role: "tool", tool_call_id: "call_abc", content: "12 C" },
      { role: "tool", tool_call_id: "call_1", content: "10:00" },
    ]);
  });
  it("keeps an assistant's text beside its calls, and plain turns as they are", () => {
    expect(apiMessages([{ role: "assistant", content: "Let me look.", toolCalls: [calls[0]] }])[0]).toMatchObject({ content: "Let me look." });
    expect(apiMessages([{ role: "assistant", content: "hello" }])).toEqual([{ role: "assistant", content: "hello" }]);
  });
  it("puts them in the request body after the system prompt", () => {
    const body = chatBody({ model: "m", system: "be brief", messages: [...asked, ...toolTurns(calls, ["12 C", "10:00"])], stream: true });
    const msgs = body.messages as Record<string, unknown>[];
    expect(msgs.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool", "tool"]);
  });
});
