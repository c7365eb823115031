// "View code" of the Playground: the same request for curl, the OpenAI Python and Node SDKs,
// the Anthropic Python and Node SDKs and Go, pointed at this gateway. Tools and the response
// format are written for curl and the OpenAI SDKs; the others say they are left out. The key is never written into a
// snippet: each reads it from the LLMGW_API_KEY environment variable.

export interface ChatRequest {
  baseUrl: string;
  model: string;
  system: string;
  messages: { role: "user" | "assistant"; content: string }[];
  temperature?: number;
  maxTokens?: number;
  stream: boolean;
  tools?: Record<string, unknown>[];
  responseFormat?: Record<string, unknown>;
}

export type Language = "curl" | "python" | "node" | "anthropic" | "anthropic-node" | "go";

export const languages: Record<Language, string> = {
  curl: "curl",
  python: "Python (openai)",
  node: "Node (openai)",
  anthropic: "Python (anthropic)",
  "anthropic-node": "Node (anthropic)",
  go: "Go (openai-go)",
};

// str is a string literal valid in JSON, JavaScript, Python and Go alike.
const str = (s: string) => JSON.stringify(s);

// extras says what a snippet in a language without tools or response_format leaves out.
function leftOut(r: ChatRequest, comment: string): string {
  const names = [r.tools?.length ? "tools" : "", r.responseFormat ? "response_format" : ""].filter(Boolean);
  return names.length ? `${comment} ${names.join(" and ")} of the Playground are left out here: see the curl or OpenAI SDK code.\n` : "";
}

function openaiMessages(r: ChatRequest) {
  return [...(r.system ? [{ role: "system", content: r.system }] : []), ...r.messages];
}

export function snippet(lang: Language, r: ChatRequest): string {
  const msgs = openaiMessages(r);
  switch (lang) {
    case "curl": {
      const body: Record<string, unknown> = { model: r.model, messages: msgs };
      if (r.temperature !== undefined) body.temperature = r.temperature;
      if (r.maxTokens !== undefined) body.max_tokens = r.maxTokens;
      if (r.stream) body.stream = true;
      if (r.tools?.length) body.tools = r.tools;
      if (r.responseFormat) body.response_format = r.responseFormat;
      const json = JSON.stringify(body, null, 2).replace(/'/g, `'\\''`);
      return `curl ${r.stream ? "-N " : ""}${r.baseUrl}/v1/chat/completions \\
  -H "Authorization: Bearer $LLMGW_API_KEY" \\
  -H 'Content-Type: application/json' \\
  -d '${json}'`;
    }
    case "python": {
      const args = [`model=${str(r.model)}`, `messages=[\n${msgs.map((m) => `        {"role": ${str(m.role)}, "content": ${str(m.content)}},`).join("\n")}\n    ]`];
      if (r.temperature !== undefined) args.push(`temperature=${r.temperature}`);
      if (r.maxTokens !== undefined) args.push(`max_tokens=${r.maxTokens}`);
      if (r.tools?.length) args.push(`tools=json.loads(${str(JSON.stringify(r.tools))})`);
      if (r.responseFormat) args.push(`response_format=json.loads(${str(JSON.stringify(r.responseFormat))})`);
      if (r.stream) args.push("stream=True");
      const call = `client.chat.completions.create(\n    ${args.join(",\n    ")},\n)`;
      return `${r.tools?.length || r.responseFormat ? "import json\n" : ""}import os
from openai import OpenAI

client = OpenAI(base_url=${str(r.baseUrl + "/v1")}, api_key=os.environ["LLMGW_API_KEY"])
${
  r.stream
    ? `stream = ${call}\nfor chunk in stream:\n    if chunk.choices:\n        print(chunk.choices[0].delta.content or "", end="")\nprint()`
    : `resp = ${call}\nprint(resp.choices[0].message.content)`
}`;
    }
    case "node": {
      const args = [`model: ${str(r.model)}`, `messages: [\n${msgs.map((m) => `    { role: ${str(m.role)}, content: ${str(m.content)} },`).join("\n")}\n  ]`];
      if (r.temperature !== undefined) args.push(`temperature: ${r.temperature}`);
      if (r.maxTokens !== undefined) args.push(`max_tokens: ${r.maxTokens}`);
      if (r.tools?.length) args.push(`tools: ${JSON.stringify(r.tools)}`);
      if (r.responseFormat) args.push(`response_format: ${JSON.stringify(r.responseFormat)}`);
      if (r.stream) args.push("stream: true");
      const call = `await client.chat.completions.create({\n  ${args.join(",\n  ")},\n})`;
      return `import OpenAI from "openai";

const client = new OpenAI({ baseURL: ${str(r.baseUrl + "/v1")}, apiKey: process.env.LLMGW_API_KEY });
${
  r.stream
    ? `const stream = ${call};\nfor await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");\nprocess.stdout.write("\\n");`
    : `const resp = ${call};\nconsole.log(resp.choices[0].message.content);`
}`;
    }
    case "anthropic": {
      const args = [`model=${str(r.model)}`, `max_tokens=${r.maxTokens ?? 1024}`];
      if (r.system) args.push(`system=${str(r.system)}`);
      args.push(`messages=[\n${r.messages.map((m) => `        {"role": ${str(m.role)}, "content": ${str(m.content)}},`).join("\n")}\n    ]`);
      if (r.temperature !== undefined) args.push(`temperature=${r.temperature}`);
      return `${leftOut(r, "#")}import os
import anthropic

client = anthropic.Anthropic(base_url=${str(r.baseUrl)}, api_key=os.environ["LLMGW_API_KEY"])
${
  r.stream
    ? `with client.messages.stream(\n    ${args.join(",\n    ")},\n) as stream:\n    for text in stream.text_stream:\n        print(text, end="")\nprint()`
    : `msg = client.messages.create(\n    ${args.join(",\n    ")},\n)\nprint(msg.content[0].text)`
}`;
    }
    case "anthropic-node": {
      const args = [`model: ${str(r.model)}`, `max_tokens: ${r.maxTokens ?? 1024}`];
      if (r.system) args.push(`system: ${str(r.system)}`);
      args.push(`messages: [\n${r.messages.map((m) => `    { role: ${str(m.role)}, content: ${str(m.content)} },`).join("\n")}\n  ]`);
      if (r.temperature !== undefined) args.push(`temperature: ${r.temperature}`);
      const params = `{\n  ${args.join(",\n  ")},\n}`;
      return `${leftOut(r, "//")}import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ baseURL: ${str(r.baseUrl)}, apiKey: process.env.LLMGW_API_KEY });
${
  r.stream
    ? `const stream = client.messages.stream(${params});\nfor await (const event of stream) {\n  if (event.type === "content_block_delta" && event.delta.type === "text_delta") process.stdout.write(event.delta.text);\n}\nprocess.stdout.write("\\n");`
    : `const msg = await client.messages.create(${params});\nfor (const block of msg.content) if (block.type === "text") console.log(block.text);`
}`;
    }
    case "go": {
      const role: Record<string, string> = { system: "SystemMessage", user: "UserMessage", assistant: "AssistantMessage" };
      const params = [`Model: ${str(r.model)}`, `Messages: []openai.ChatCompletionMessageParamUnion{\n${msgs.map((m) => `\t\t\topenai.${role[m.role]}(${str(m.content)}),`).join("\n")}\n\t\t}`];
      if (r.temperature !== undefined) params.push(`Temperature: openai.Float(${r.temperature})`);
      if (r.maxTokens !== undefined) params.push(`MaxTokens: openai.Int(${r.maxTokens})`);
      const p = `openai.ChatCompletionNewParams{\n\t\t${params.join(",\n\t\t")},\n\t}`;
      return `${leftOut(r, "//")}package main

import (
	"context"
	"fmt"
	"os"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func main() {
	client := openai.NewClient(option.WithBaseURL(${str(r.baseUrl + "/v1")}), option.WithAPIKey(os.Getenv("LLMGW_API_KEY")))
${
  r.stream
    ? `\tstream := client.Chat.Completions.NewStreaming(context.Background(), ${p})\n\tfor stream.Next() {\n\t\tif c := stream.Current(); len(c.Choices) > 0 {\n\t\t\tfmt.Print(c.Choices[0].Delta.Content)\n\t\t}\n\t}\n\tif err := stream.Err(); err != nil {\n\t\tpanic(err)\n\t}\n\tfmt.Println()`
    : `\tresp, err := client.Chat.Completions.New(context.Background(), ${p})\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\tfmt.Println(resp.Choices[0].Message.Content)`
}
}`;
    }
  }
}
