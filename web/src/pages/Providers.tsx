import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ErrorBox, Field } from "../components";
import { fieldError } from "../lib/errors";
import { checkModelName, checkName, checkURL } from "../lib/validate";

// The adapter kinds ProviderAccount.provider names.
const providers = ["openai", "anthropic", "self-hosted-model", "groq", "mistral", "together", "perplexity", "vllm", "tgi", "ollama", "mock"] as const;

const accountFields = ["provider_account.name", "provider_account.provider", "provider_account.base_url", "provider_account.api_key"] as const;
type AccountErrors = Partial<Record<(typeof accountFields)[number] | "", string>>;
const modelFields = ["model.account", "model.name", "model.upstream_model"] as const;
type ModelErrors = Partial<Record<(typeof modelFields)[number] | "", string>>;

// Providers lists provider accounts with their models and creates either. An account's API
// key is write-only: it is sent once and dropped from the form; the list shows only whether
// one is stored.
export default function Providers() {
  const { api } = useApi();
  const access = useAccess();
  const write = mayWrite(access, "config");
  const qc = useQueryClient();
  const accounts = useQuery({ queryKey: ["provider-accounts"], queryFn: () => api.admin.listProviderAccounts({}) });
  const models = useQuery({ queryKey: ["models"], queryFn: () => api.admin.listModels({}) });

  const [name, setName] = useState("");
  const [provider, setProvider] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [aErrors, setAErrors] = useState<AccountErrors>({});
  const createAccount = useMutation({
    mutationFn: () => api.admin.createProviderAccount({ providerAccount: { name, provider, baseUrl, apiKey } }),
    onSuccess: () => {
      setName("");
      setProvider("");
      setBaseUrl("");
      return qc.invalidateQueries({ queryKey: ["provider-accounts"] });
    },
    onError: (err) => {
      const fe = fieldError(err, accountFields);
      setAErrors({ [fe.field]: fe.message });
    },
    // The key leaves the page whatever the answer: it is never rendered after sending.
    onSettled: () => setApiKey(""),
  });
  function submitAccount(e: FormEvent) {
    e.preventDefault();
    const errs: AccountErrors = {
      "provider_account.name": checkName("provider_account.name", name),
      "provider_account.provider": provider ? undefined : "choose the provider",
      "provider_account.base_url": checkURL("provider_account.base_url", baseUrl),
    };
    setAErrors(errs);
    if (Object.values(errs).some(Boolean)) return;
    createAccount.mutate();
  }

  const [mAccount, setMAccount] = useState("");
  const [mName, setMName] = useState("");
  const [upstream, setUpstream] = useState("");
  const [mErrors, setMErrors] = useState<ModelErrors>({});
  const createModel = useMutation({
    mutationFn: () => api.admin.createModel({ model: { account: mAccount, name: mName, upstreamModel: upstream } }),
    onSuccess: () => {
      setMName("");
      setUpstream("");
      return qc.invalidateQueries({ queryKey: ["models"] });
    },
    onError: (err) => {
      const fe = fieldError(err, modelFields);
      setMErrors({ [fe.field]: fe.message });
    },
  });
  function submitModel(e: FormEvent) {
    e.preventDefault();
    const errs: ModelErrors = {
      "model.account": mAccount ? undefined : "choose the provider account",
      "model.name": checkModelName("model.name", mName),
    };
    setMErrors(errs);
    if (Object.values(errs).some(Boolean)) return;
    createModel.mutate();
  }

  const byAccount = new Map<string, string[]>();
  for (const m of models.data?.models ?? []) byAccount.set(m.account, [...(byAccount.get(m.account) ?? []), m.name]);

  return (
    <section aria-labelledby="prov-h">
      <h1 id="prov-h">Providers & models</h1>
      {write && (
      <form onSubmit={submitAccount} onChange={() => setAErrors({})} noValidate className="card" aria-label="Create a provider account">
        <h2>Create a provider account</h2>
        <div className="row">
          <Field label="Account name" error={aErrors["provider_account.name"]}>
            {(id, d, inv) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
          </Field>
          <Field label="Provider" error={aErrors["provider_account.provider"]}>
            {(id, d, inv) => (
              <select id={id} value={provider} onChange={(e) => setProvider(e.target.value)} aria-describedby={d} aria-invalid={inv}>
                <option value="">choose a provider…</option>
                {providers.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Base URL (optional)" error={aErrors["provider_account.base_url"]}>
            {(id, d, inv) => <input id={id} type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
          </Field>
          <Field label="API key (write-only)" error={aErrors["provider_account.api_key"]} hint="sent once, never shown again">
            {(id, d, inv) => (
              <input id={id} type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} aria-describedby={d} aria-invalid={inv} />
            )}
          </Field>
        </div>
        {aErrors[""] && (
          <p className="error" role="alert">
            {aErrors[""]}
          </p>
        )}
        <button type="submit" disabled={createAccount.isPending}>
          Create account
        </button>
      </form>
      )}
      {write && (
      <form onSubmit={submitModel} onChange={() => setMErrors({})} noValidate className="card" aria-label="Create a model">
        <h2>Create a model</h2>
        <div className="row">
          <Field label="Provider account" error={mErrors["model.account"]}>
            {(id, d, inv) => (
              <select id={id} value={mAccount} onChange={(e) => setMAccount(e.target.value)} aria-describedby={d} aria-invalid={inv}>
                <option value="">choose an account…</option>
                {accounts.data?.providerAccounts.map((a) => (
                  <option key={a.name} value={a.name}>
                    {a.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Model name" error={mErrors["model.name"]}>
            {(id, d, inv) => <input id={id} value={mName} onChange={(e) => setMName(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
          </Field>
          <Field label="Upstream model (optional)" error={mErrors["model.upstream_model"]}>
            {(id, d, inv) => <input id={id} value={upstream} onChange={(e) => setUpstream(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
          </Field>
        </div>
        {mErrors[""] && (
          <p className="error" role="alert">
            {mErrors[""]}
          </p>
        )}
        <button type="submit" disabled={createModel.isPending}>
          Create model
        </button>
      </form>
      )}
      <ErrorBox error={accounts.error ?? models.error} />
      {accounts.data && (
        <table aria-label="Provider accounts">
          <caption>{accounts.data.providerAccounts.length} provider accounts</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Provider</th>
              <th scope="col">Base URL</th>
              <th scope="col">API key</th>
              <th scope="col">Models</th>
            </tr>
          </thead>
          <tbody>
            {accounts.data.providerAccounts.map((a) => (
              <tr key={a.name}>
                <th scope="row">{a.name}</th>
                <td>{a.provider}</td>
                <td>{a.baseUrl || "default"}</td>
                <td>{a.hasApiKey ? "stored" : "none"}</td>
                <td>{(byAccount.get(a.name) ?? []).join(", ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
