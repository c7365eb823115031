import { useRef, useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { useApi, useToken } from "../context";
import { Field } from "../components";
import { applyChunk, SSEParser, type ChatUsage, type StreamState } from "../lib/sse";
import { checkNumber } from "../lib/validate";
import { languages, snippet, type Language } from "../lib/snippets";

interface Turn {
  role: "user" | "assistant";
  content: string;
}

interface Stats {
  ttftMs?: number;
  totalMs: number;
  usage?: ChatUsage;
  model: string;
}

// Playground chats with a model through the gateway's OpenAI-compatible /v1/chat/completions,
// streaming by default, with the signed-in token or another key.
export default function Playground() {
  const signedIn = useToken();
  useApi();
  const [key, setKey] = useState("");
  const secret = key.trim() || signedIn;
  const models = useQuery({
    queryKey: ["v1models", secret],
    queryFn: async () => {
      const r = await fetch("/v1/models", { headers: { Authorization: `Bearer ${secret}` } });
      if (!r.ok) throw new Error(await errorText(r));
      return ((await r.json()) as { data: { id: string }[] }).data.map((m) => m.id).sort();
    },
  });
  const [model, setModel] = useState("");
  const [system, setSystem] = useState("");
  const [prompt, setPrompt] = useState("");
  const [temperature, setTemperature] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [stream, setStream] = useState(true);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [pending, setPending] = useState<string>();
  const [stats, setStats] = useState<Stats>();
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const abort = useRef<AbortController | null>(null);

  const chosen = model || models.data?.[0] || "";

  async function send(e: FormEvent) {
    e.preventDefault();
    const errs = {
      model: chosen ? undefined : "choose a model",
      prompt: prompt.trim() ? undefined : "write a message",
      temperature: checkNumber("temperature", temperature, 0, 2),
      max_tokens: checkNumber("max_tokens", maxTokens, 1, 1_000_000),
    };
    setErrors(errs);
    if (Object.values(errs).some(Boolean)) return;
    const history: Turn[] = [...turns, { role: "user", content: prompt }];
    setTurns(history);
    setPrompt("");
    setPending("");
    setStats(undefined);
    const body: Record<string, unknown> = {
      model: chosen,
      messages: [...(system.trim() ? [{ role: "system", content: system }] : []), ...history],
      stream,
    };
    if (stream) body.stream_options = { include_usage: true };
    if (temperature.trim()) body.temperature = Number(temperature);
    if (maxTokens.trim()) body.max_tokens = Number(maxTokens);
    const ctl = new AbortController();
    abort.current = ctl;
    const t0 = performance.now();
    let ttft: number | undefined;
    try {
      const r = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: ctl.signal,
      });
      if (!r.ok) throw new Error(await errorText(r));
      let state: StreamState = { text: "", model: chosen, done: false };
      if (stream && r.body) {
        const parser = new SSEParser();
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const data of parser.push(value)) {
            state = applyChunk(state, data);
            if (ttft === undefined && state.text) ttft = performance.now() - t0;
          }
          setPending(state.text);
        }
        if (state.error) throw new Error(state.error);
      } else {
        const v = (await r.json()) as { model: string; usage?: ChatUsage; choices: { message: { content: string } }[] };
        state = { text: v.choices[0]?.message.content ?? "", model: v.model, usage: v.usage, done: true };
      }
      setTurns([...history, { role: "assistant", content: state.text }]);
      setStats({ ttftMs: ttft, totalMs: performance.now() - t0, usage: state.usage, model: state.model });
    } catch (err) {
      setErrors({ send: err instanceof Error ? err.message : String(err) });
    } finally {
      setPending(undefined);
      abort.current = null;
    }
  }

  return (
    <section aria-labelledby="pg-h">
      <h1 id="pg-h">Playground</h1>
      <form onSubmit={send} noValidate className="card" aria-label="Chat">
        <div className="row">
          <Field
            label="Model"
            error={errors.model ?? (models.error ? models.error.message : undefined)}
            hint={models.data?.length === 0 ? "This key may call no model: an authorization rule must allow it one." : undefined}
          >
            {(id, d, inv) => (
              <select id={id} value={chosen} onChange={(e) => setModel(e.target.value)} aria-describedby={d} aria-invalid={inv}>
                {models.data?.map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
            )}
          </Field>
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
        <ol className="chat" aria-label="Conversation" aria-live="polite">
          {turns.map((t, i) => (
            <li key={i} className={t.role}>
              <strong>{t.role}</strong> <span className="content">{t.content}</span>
            </li>
          ))}
          {pending !== undefined && (
            <li className="assistant">
              <strong>assistant</strong> <span className="content">{pending || "…"}</span>
            </li>
          )}
        </ol>
        <Field label="Message" error={errors.prompt ?? errors.send}>
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
          <button type="submit" disabled={pending !== undefined}>
            Send
          </button>
          {pending !== undefined && (
            <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          )}
          <button type="button" className="secondary" onClick={() => { setTurns([]); setStats(undefined); }}>
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
            messages: prompt.trim() ? [...turns, { role: "user", content: prompt }] : turns.length ? turns : [{ role: "user", content: "Hello!" }],
            temperature: temperature.trim() && !checkNumber("t", temperature, 0, 2) ? Number(temperature) : undefined,
            maxTokens: maxTokens.trim() && !checkNumber("m", maxTokens, 1, 1_000_000) ? Number(maxTokens) : undefined,
            stream,
          }}
        />
      </details>
      {stats && (
        <dl className="stats" aria-label="Last response">
          <dt>Model</dt>
          <dd>{stats.model}</dd>
          <dt>Time to first token</dt>
          <dd data-testid="ttft">{stats.ttftMs === undefined ? "—" : `${Math.round(stats.ttftMs)} ms`}</dd>
          <dt>Latency</dt>
          <dd data-testid="latency">{Math.round(stats.totalMs)} ms</dd>
          <dt>Prompt tokens</dt>
          <dd data-testid="prompt-tokens">{stats.usage?.prompt_tokens ?? "—"}</dd>
          <dt>Completion tokens</dt>
          <dd data-testid="completion-tokens">{stats.usage?.completion_tokens ?? "—"}</dd>
        </dl>
      )}
    </section>
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
