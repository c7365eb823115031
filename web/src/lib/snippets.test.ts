import { describe, expect, it } from "vitest";
import { languages, snippet, type ChatRequest, type Language } from "./snippets";

const req: ChatRequest = {
  baseUrl: "http://localhost:8080",
  model: "mock/echo",
  system: "Be brief.",
  messages: [{ role: "user", content: `it's "quoted"\nand on two lines` }],
  temperature: 0.5,
  maxTokens: 64,
  stream: true,
};

describe("snippet", () => {
  it.each(Object.keys(languages) as Language[])("%s names the gateway, the model and the key's variable, never a key", (lang) => {
    const s = snippet(lang, req);
    expect(s).toContain("localhost:8080");
    expect(s).toContain('"mock/echo"');
    expect(s).toContain("LLMGW_API_KEY");
    expect(s).toContain("Be brief.");
  });

  it("curl sends the OpenAI body in a shell-safe single-quoted string", () => {
    const s = snippet("curl", req);
    const body = s.slice(s.indexOf("-d '") + 4, -1).replace(/'\\''/g, "'");
    expect(JSON.parse(body)).toEqual({
      model: "mock/echo",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: `it's "quoted"\nand on two lines` },
      ],
      temperature: 0.5,
      max_tokens: 64,
      stream: true,
    });
    expect(s).toContain("curl -N ");
  });

  it("string literals are escaped, not raw", () => {
    for (const lang of ["python", "node", "go", "anthropic"] as Language[]) {
      expect(snippet(lang, req)).toContain(String.raw`"it's \"quoted\"\nand on two lines"`);
    }
  });

  it("streams only when asked", () => {
    const plain = { ...req, stream: false };
    expect(snippet("python", plain)).not.toContain("stream=True");
    expect(snippet("python", req)).toContain("stream=True");
    expect(snippet("go", plain)).toContain("Completions.New(");
    expect(snippet("go", req)).toContain("NewStreaming(");
    expect(snippet("curl", plain)).not.toContain("-N");
  });

  it("the Anthropic SDK gets the system prompt apart and a max_tokens", () => {
    const s = snippet("anthropic", { ...req, maxTokens: undefined });
    expect(s).toContain('system="Be brief."');
    expect(s).toContain("max_tokens=1024");
    expect(s).not.toContain('"role": "system"');
  });
});

describe("snippet extras", () => {
  const tools = [{ type: "function", function: { name: "get_weather" } }];
  const fmt = { type: "json_object" };
  it("curl and the OpenAI SDKs carry tools and the response format", () => {
    const s = snippet("curl", { ...req, tools, responseFormat: fmt });
    const body = JSON.parse(s.slice(s.indexOf("-d '") + 4, -1).replace(/'\\''/g, "'"));
    expect(body.tools).toEqual(tools);
    expect(body.response_format).toEqual(fmt);
    expect(snippet("node", { ...req, tools })).toContain('tools: [{"type":"function","function":{"name":"get_weather"}}]');
    const py = snippet("python", { ...req, responseFormat: fmt });
    expect(py).toContain("import json\n");
    expect(py).toContain(String.raw`response_format=json.loads("{\"type\":\"json_object\"}")`);
  });
  it("the others say what they leave out, and nothing when there is nothing", () => {
    for (const lang of ["anthropic", "anthropic-node", "go"] as Language[]) {
      expect(snippet(lang, { ...req, tools })).toContain("tools of the Playground are left out here");
      expect(snippet(lang, req)).not.toContain("left out");
    }
  });
  it("the Anthropic Node SDK streams text deltas, or prints the text blocks", () => {
    const s = snippet("anthropic-node", req);
    expect(s).toContain('import Anthropic from "@anthropic-ai/sdk"');
    expect(s).toContain('baseURL: "http://localhost:8080"');
    expect(s).toContain("client.messages.stream(");
    expect(s).toContain('system: "Be brief."');
    expect(s).toContain("max_tokens: 64");
    expect(snippet("anthropic-node", { ...req, stream: false })).toContain("client.messages.create(");
  });
});
