import { useRef, useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { Code, ConnectError } from "@connectrpc/connect";
import { useAccess, useApi, useToken } from "../context";
import { mayRead } from "../lib/access";
import { Field } from "../components";
import { answerText, applyChunk, SSEParser, type ChatUsage, type StreamState, type ToolCall } from "../lib/sse";
import { checkNumber } from "../lib/validate";
import { languages, snippet, type Language } from "../lib/snippets";
import {
  answeredBy,
  chatBody,
  costText,
  formatKinds,
  modelChoices,
  openToolCalls,
  parseResponseFormat,
  parseTools,
  toolTurns,
  type FormatKind,
  type Turn,
} from "../lib/playground";

interface Stats {
  ttftMs?: number;
  totalMs: number;
  usage?: ChatUsage;
  model: string;
  // requestId is the gateway's X-Request-Id of the answer: its usage event's id.
  requestId?: string;
}

// Pane is one model's side of the conversation: the Playground has one, two when comparing.
interface Pane {
  turns: Turn[];
  pending?: string;
  stats?: Stats;
  error?: string;
}

const emptyPane: Pane = { turns: [] };

// Playground chats with a model through the gateway's OpenAI-compatible /v1/chat/completions,
// streaming by default, with the signed-in token or another key; "Compare" sends the same
// message to a second model at the same time, side by side. An answer that asks for tools
// waits on their results: the next turn sends the assistant's tool_calls and one tool message
// for each, as the OpenAI API takes them.
export default function Playground() {
  const signedIn = useToken();
  const { api } = useApi();
  const [key, setKey] = useState("");
  const secret = key.trim() || signedIn;
  const models = useQuery({
    queryKey: ["v1models", secret],
    queryFn: async () => {
      const r = await fetch("/v1/models", { headers: { Authorization: `Bearer ${secret}` } });
      if (!r.ok) throw new Error(await errorText(r));
      return ((await r.json()) as { data: { id: string }[] }).data.map((m) => m.id);
    },
  });
  // Virtual models, for a caller who may read them (the Admin API: lib/access.ts); anyone else
  // sees the models /v1/models lists, and is not sent to ask for what would be refused.
  const virtual = useQuery({
    queryKey: ["pg-virtual-models"],
    enabled: mayRead(useAccess(), "config"),
    queryFn: async () => {
      try {
        return (await api.admin.listVirtualModels({})).virtualModels.map((v) => `${v.group}/${v.name}`);
      } catch {
        return [];
      }
    },
  });
  const choices = models.data ? modelChoices(models.data, virtual.data ?? []) : undefined;
  const [model, setModel] = useState("");
  const [compare, setCompare] = useState(false);
  const [model2, setModel2] = useState("");
  const [system, setSystem] = useState("");
  const [prompt, setPrompt] = useState("");
  const [temperature, setTemperature] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [stream, setStream] = useState(true);
  const [tools, setTools] = useState("");
  const [format, setFormat] = useState<FormatKind>("text");
  const [schema, setSchema] = useState("");
  const [panes, setPanes] = useState<Pane[]>([emptyPane, emptyPane]);
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  // results are the typed results of the tool calls a pane waits on, by "<pane>:<call>".
  const [results, setResults] = useState<Record<string, string>>({});
  const abort = useRef<AbortController | null>(null);

  const chosen = model || choices?.[0] || "";
  const chosen2 = model2 || choices?.find((m) => m !== chosen) || choices?.[0] || "";
  const targets = compare ? [chosen, chosen2] : [chosen];
  const busy = panes.some((p) => p.pending !== undefined);
  const checkedTools = parseTools(tools);
  const checkedFormat = parseResponseFormat(format, schema);

  const update = (i: number, f: (p: Pane) => Pane) => setPanes((ps) => ps.map((p, j) => (j === i ? f(p) : p)));

  async function ask(i: number, target: string, history: Turn[], ctl: AbortController) {
    const body = chatBody({
      model: target,
      system,
      messages: history,
      stream,
      temperature: temperature.trim() ? Number(temperature) : undefined,
      maxTokens: maxTokens.trim() ? Number(maxTokens) : undefined,
      tools: checkedTools.value,
      responseFormat: checkedFormat.value,
    });
    const t0 = performance.now();
    let ttft: number | undefined;
    try {
      const r = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: ctl.signal,
      });
      const requestId = r.headers.get("X-Request-Id") ?? undefined;
      if (!r.ok) throw new Error(await errorText(r));
      let state: StreamState = { text: "", model: target, done: false };
      if (stream && r.body) {
        const parser = new SSEParser();
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const data of parser.push(value)) {
            state = applyChunk(state, data);
            if (ttft === undefined && (state.text || state.toolCalls)) ttft = performance.now() - t0;
          }
          const text = answerText(state.text, state.toolCalls);
          update(i, (p) => ({ ...p, pending: text }));
        }
        if (state.error) throw new Error(state.error);
      } else {
        const v = (await r.json()) as {
          model: string;
          usage?: ChatUsage;
          choices: { message: { content: string | null; tool_calls?: { id?: string; function: ToolCall }[] } }[];
        };
        const msg = v.choices[0]?.message;
        state = { text: msg?.content ?? "", model: v.model, usage: v.usage, done: true, toolCalls: msg?.tool_calls?.map((c) => ({ ...c.function, id: c.id })) };
      }
      const stats: Stats = { ttftMs: ttft, totalMs: performance.now() - t0, usage: state.usage, model: state.model, requestId };
      const calls = state.toolCalls?.filter(Boolean);
      update(i, () => ({ turns: [...history, { role: "assistant", content: state.text, ...(calls?.length ? { toolCalls: calls } : {}) }], stats }));
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      update(i, (p) => ({ ...p, pending: undefined, error }));
    }
  }

  async function send(e: FormEvent) {
    e.preventDefault();
    // A pane whose last answer asked for tools sends their results (each required), then the
    // message if there is one; any other pane needs the message.
    const open = targets.map((_, i) => openToolCalls(panes[i].turns));
    const errs: Record<string, string | undefined> = {
      model: chosen ? undefined : "choose a model",
      model2: !compare || chosen2 ? undefined : "choose a second model",
      prompt: prompt.trim() || open.some((o) => o.length) ? undefined : "write a message",
      temperature: checkNumber("temperature", temperature, 0, 2),
      max_tokens: checkNumber("max_tokens", maxTokens, 1, 1_000_000),
      tools: checkedTools.error,
      response_format: checkedFormat.error,
    };
    open.forEach((calls, i) =>
      calls.forEach((c, k) => {
        if (!(results[`${i}:${k}`] ?? "").trim()) errs[`tool:${i}:${k}`] = `write the result of ${c.name}`;
      }),
    );
    setErrors(errs);
    if (Object.values(errs).some(Boolean)) return;
    const ctl = new AbortController();
    abort.current = ctl;
    const user: Turn[] = prompt.trim() ? [{ role: "user", content: prompt }] : [];
    const histories = targets.map((_, i) => [...panes[i].turns, ...toolTurns(open[i], open[i].map((_, k) => results[`${i}:${k}`])), ...user]);
    const asks = targets.map((_, i) => open[i].length > 0 || user.length > 0);
    setPanes((ps) => ps.map((p, i) => (i < targets.length && asks[i] ? { turns: histories[i], pending: "" } : p)));
    setPrompt("");
    setResults({});
    // The models are asked at once; each pane shows its own answer and numbers.
    await Promise.all(targets.map((t, i) => (asks[i] ? ask(i, t, histories[i], ctl) : undefined)));
    abort.current = null;
  }

  const paneLabel = (i: number) => (compare ? `Conversation with ${targets[i]}` : "Conversation");
  return (
    <section aria-labelledby="pg-h">
      <h1 id="pg-h">Playground</h1>
      <form onSubmit={send} noValidate className="card" aria-label="Chat">
        <div className="row">
          <Field
            label="Model"
            error={errors.model ?? (models.error ? models.error.message : undefined)}
            hint={choices?.length === 0 ? "This key may call no model: an authorization rule must allow it one." : undefined}
          >
            {(id, d, inv) => (
              <select id={id} value={chosen} onChange={(e) => setModel(e.target.value)} aria-describedby={d} aria-invalid={inv}>
                {choices?.map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <div className="field check">
            <input id="pg-compare" type="checkbox" checked={compare} onChange={(e) => setCompare(e.target.checked)} />
            <label htmlFor="pg-compare">Compare</label>
          </div>
          {compare && (
            <Field label="Second model" error={errors.model2}>
              {(id, d, inv) => (
                <select id={id} value={chosen2} onChange={(e) => setModel2(e.target.value)} aria-describedby={d} aria-invalid={inv}>
                  {choices?.map((m) => (
                    <option key={m} value={m}>
                      {m}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          )}
          <Field label="Temperature" error={errors.temperature}>
            {(id, d, inv) => (
              <input id={id} inputMode="decimal" value={temperature} onChange={(e) => setTemperature(e.target.value)} aria-describedby={d} aria-invalid={inv} placeholder="default" />
            )}
          </Field>
          <Field label="Max tokens" error={errors.max_tokens}>
            {(id, d, inv) => (
              <input id={id} inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} aria-describedby={d} aria-invalid={inv} placeholder="default" />
            )}
          </Field>
          <div className="field check">
            <input id="pg-stream" type="checkbox" checked={stream} onChange={(e) => setStream(e.target.checked)} />
            <label htmlFor="pg-stream">Stream</label>
          </div>
        </div>
        <Field label="API key (optional; default: the key you signed in with)">
          {(id, d) => <input id={id} type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} aria-describedby={d} />}
        </Field>
        <Field label="System prompt">
          {(id, d) => <textarea id={id} rows={2} value={system} onChange={(e) => setSystem(e.target.value)} aria-describedby={d} />}
        </Field>
        <details className="code">
          <summary>Tools and response format</summary>
          <Field label="Tools (JSON)" error={errors.tools} hint='A JSON array: [{"type": "function", "function": {"name": ..., "parameters": {...}}}]'>
            {(id, d, inv) => <textarea id={id} rows={4} className="yaml" spellCheck={false} value={tools} onChange={(e) => setTools(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
          </Field>
          <div className="row">
            <Field label="Response format">
              {(id, d) => (
                <select id={id} value={format} onChange={(e) => setFormat(e.target.value as FormatKind)} aria-describedby={d}>
                  {Object.entries(formatKinds).map(([k, v]) => (
                    <option key={k} value={k}>
                      {v}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          {format === "json_schema" && (
            <Field label="JSON schema" error={errors.response_format} hint='{"name": ..., "schema": {...}, "strict": true}'>
              {(id, d, inv) => <textarea id={id} rows={4} className="yaml" spellCheck={false} value={schema} onChange={(e) => setSchema(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
            </Field>
          )}
        </details>
        <div className={compare ? "compare" : undefined}>
          {targets.map((t, i) => (
            <div key={i}>
              {compare && <h2 className="pane">{t}</h2>}
              <ol className="chat" aria-label={paneLabel(i)} aria-live="polite">
                {panes[i].turns.map((turn, j) => (
                  <li key={j} className={turn.role}>
                    <strong>{turn.role}</strong>{" "}
                    <span className="content">{turn.role === "tool" ? `${turn.name}: ${turn.content}` : answerText(turn.content, turn.toolCalls)}</span>
                  </li>
                ))}
                {panes[i].pending !== undefined && (
                  <li className="assistant">
                    <strong>assistant</strong> <span className="content">{panes[i].pending || "…"}</span>
                  </li>
                )}
              </ol>
              {panes[i].pending === undefined && openToolCalls(panes[i].turns).length > 0 && (
                <fieldset className="targets">
                  <legend>Tool results{compare ? ` for ${t}` : ""}</legend>
                  {openToolCalls(panes[i].turns).map((c, k) => (
                    <Field key={k} label={`Result of ${c.name} (call ${k + 1}${compare ? ` of ${t}` : ""})`} hint={`${c.name}(${c.arguments})`} error={errors[`tool:${i}:${k}`]}>
                      {(id, d, inv) => (
                        <textarea
                          id={id}
                          rows={2}
                          value={results[`${i}:${k}`] ?? ""}
                          onChange={(e) => setResults((r) => ({ ...r, [`${i}:${k}`]: e.target.value }))}
                          aria-describedby={d}
                          aria-invalid={inv}
                        />
                      )}
                    </Field>
                  ))}
                  <small className="hint">Send returns these as tool messages; a message is optional.</small>
                </fieldset>
              )}
              {compare && panes[i].error && (
                <p className="error" role="alert">
                  {panes[i].error}
                </p>
              )}
              {panes[i].stats && <StatsList stats={panes[i].stats} label={compare ? `Last response of ${t}` : "Last response"} />}
            </div>
          ))}
        </div>
        <Field label="Message" error={errors.prompt ?? (compare ? undefined : panes[0].error)}>
          {(id, d, inv) => (
            <textarea
              id={id}
              rows={3}
              value={prompt}
              onChange={(e) => setPrompt(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit();
              }}
              aria-describedby={d}
              aria-invalid={inv}
            />
          )}
        </Field>
        <div className="row">
          <button type="submit" disabled={busy}>
            Send
          </button>
          {busy && (
            <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          )}
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setPanes([emptyPane, emptyPane]);
              setResults({});
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <details className="card code">
        <summary>View code</summary>
        <ViewCode
          request={{
            baseUrl: window.location.origin,
            model: chosen,
            system: system.trim(),
            messages: prompt.trim() ? [...codeTurns(panes[0].turns), { role: "user", content: prompt }] : panes[0].turns.length ? codeTurns(panes[0].turns) : [{ role: "user", content: "Hello!" }],
            temperature: temperature.trim() && !checkNumber("t", temperature, 0, 2) ? Number(temperature) : undefined,
            maxTokens: maxTokens.trim() && !checkNumber("m", maxTokens, 1, 1_000_000) ? Number(maxTokens) : undefined,
            stream,
            tools: checkedTools.value,
            responseFormat: checkedFormat.value,
          }}
        />
      </details>
    </section>
  );
}

// codeTurns are the user's and assistant's turns for View code, an answer's tool calls as the
// Playground shows them (the snippets carry text messages only, not tool round trips).
function codeTurns(turns: Turn[]): { role: "user" | "assistant"; content: string }[] {
  return turns.flatMap((t) => (t.role === "tool" ? [] : [{ role: t.role, content: answerText(t.content, t.toolCalls) }]));
}

// StatsList shows one answer's numbers, and, once its usage event has arrived, its cost and
// the model that answered (usage events are written asynchronously: until then, "pending").
function StatsList({ stats, label }: { stats: Stats; label: string }) {
  const { api } = useApi();
  const id = stats.requestId;
  const event = useQuery({
    queryKey: ["pg-request", id],
    enabled: !!id,
    queryFn: async () => {
      try {
        return (await api.usage.getRequest({ eventId: id })).event ?? null;
      } catch (err) {
        if (ConnectError.from(err).code === Code.NotFound) return null;
        throw err;
      }
    },
    // Poll for up to about 30 s, twice a second, until the event is there.
    refetchInterval: (q) => (q.state.data || q.state.dataUpdateCount > 60 ? false : 500),
  });
  const ev = event.data;
  const missing = event.error ? "unavailable" : "pending";
  return (
    <dl className="stats" aria-label={label}>
      <dt>Model</dt>
      <dd>{stats.model}</dd>
      <dt>Answered by</dt>
      <dd data-testid="target">{ev ? answeredBy(ev) : missing}</dd>
      <dt>Cost</dt>
      <dd data-testid="cost">{ev ? costText(ev) : missing}</dd>
      <dt>Time to first token</dt>
      <dd data-testid="ttft">{stats.ttftMs === undefined ? "—" : `${Math.round(stats.ttftMs)} ms`}</dd>
      <dt>Latency</dt>
      <dd data-testid="latency">{Math.round(stats.totalMs)} ms</dd>
      <dt>Prompt tokens</dt>
      <dd data-testid="prompt-tokens">{stats.usage?.prompt_tokens ?? "—"}</dd>
      <dt>Completion tokens</dt>
      <dd data-testid="completion-tokens">{stats.usage?.completion_tokens ?? "—"}</dd>
    </dl>
  );
}

async function errorText(r: Response): Promise<string> {
  try {
    const v = (await r.json()) as { error?: { message?: string } };
    return v.error?.message ?? `HTTP ${r.status}`;
  } catch {
    return `HTTP ${r.status}`;
  }
}

function ViewCode({ request }: { request: Parameters<typeof snippet>[1] }) {
  const [lang, setLang] = useState<Language>("curl");
  const [copied, setCopied] = useState(false);
  const code = snippet(lang, request);
  return (
    <>
      <div className="row toolbar">
        <label>
          Language{" "}
          <select value={lang} onChange={(e) => { setLang(e.target.value as Language); setCopied(false); }}>
            {Object.entries(languages).map(([k, v]) => (
              <option key={k} value={k}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="secondary"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(code);
              setCopied(true);
            } catch {
              setCopied(false);
            }
          }}
        >
          Copy code
        </button>
        <span role="status">{copied ? "Copied." : ""}</span>
      </div>
      <p className="hint">The key is read from the LLMGW_API_KEY environment variable; it is never written into the code.</p>
      <pre className="body" tabIndex={0} aria-label={`${languages[lang]} code`}>
        {code}
      </pre>
    </>
  );
}
