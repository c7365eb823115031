import { Fragment, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ActionsHeader, EditRow, ErrorBox, Field, FormError, hasErrors, RowActions, SaveCancel, TextField, useSave, type Errors } from "../components";
import { fieldError } from "../lib/errors";
import { checkModelName, checkName, checkPricing, checkURL, noPrices, pricesOf, pricingOf, type PriceFields } from "../lib/validate";
import type { Model, ProviderAccount } from "@gen/llmgw/admin/v1/admin_pb";

// The adapter kinds ProviderAccount.provider names.
const providers = ["openai", "anthropic", "self-hosted-model", "groq", "mistral", "together", "perplexity", "vllm", "tgi", "ollama", "mock"] as const;

const accountFields = ["provider_account.name", "provider_account.provider", "provider_account.base_url", "provider_account.api_key"] as const;
type AccountErrors = Partial<Record<(typeof accountFields)[number] | "", string>>;
const priceFields = ["model.pricing.input_per_mtok", "model.pricing.output_per_mtok", "model.pricing.cached_input_per_mtok", "model.pricing.cache_write_per_mtok", "model.pricing.cache_write_1h_per_mtok", "model.pricing"] as const;
const modelFields = ["model.account", "model.name", "model.upstream_model", ...priceFields] as const;
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
  const [prices, setPrices] = useState<PriceFields>(noPrices);
  const [mErrors, setMErrors] = useState<ModelErrors>({});
  const createModel = useMutation({
    mutationFn: () => api.admin.createModel({ model: { account: mAccount, name: mName, upstreamModel: upstream, pricing: pricingOf(prices) } }),
    onSuccess: () => {
      setMName("");
      setUpstream("");
      setPrices(noPrices);
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
      ...checkPricing(prices),
    };
    setMErrors(errs);
    if (Object.values(errs).some(Boolean)) return;
    createModel.mutate();
  }

  const [editing, setEditing] = useState<string>();
  const removeAccount = useMutation({
    mutationFn: (n: string) => api.admin.deleteProviderAccount({ name: n }),
    onSuccess: () => qc.invalidateQueries(),
  });
  const removeModel = useMutation({
    mutationFn: (m: Model) => api.admin.deleteModel({ account: m.account, name: m.name }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["models"] }),
  });

  const byAccount = new Map<string, string[]>();
  for (const m of models.data?.models ?? []) byAccount.set(m.account, [...(byAccount.get(m.account) ?? []), m.name]);

  return (
    <section aria-labelledby="prov-h">
      <h1 id="prov-h">Providers & models</h1>
      {write && (
      <form onSubmit={submitAccount} onChange={() => setAErrors({})} noValidate className="card" aria-label="Create a provider account">
        <h2>Create a provider account</h2>
        <div className="row">
          <TextField label="Account name" error={aErrors["provider_account.name"]} value={name} onChange={setName} />
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
        <FormError message={aErrors[""]} />
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
          <TextField label="Model name" error={mErrors["model.name"]} value={mName} onChange={setMName} />
          <TextField label="Upstream model (optional)" error={mErrors["model.upstream_model"]} value={upstream} onChange={setUpstream} />
        </div>
        <PriceInputs prices={prices} setPrices={setPrices} errors={mErrors} />
        <FormError message={mErrors[""]} />
        <button type="submit" disabled={createModel.isPending}>
          Create model
        </button>
      </form>
      )}
      <ErrorBox error={accounts.error ?? models.error ?? removeAccount.error ?? removeModel.error} />
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
              {/* TestModel (a probe) and the writes are the admin's, as on the models table. */}
              {write && <th scope="col">Connection</th>}
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {accounts.data.providerAccounts.map((a) => (
              <Fragment key={a.name}>
                <tr>
                  <th scope="row">{a.name}</th>
                  <td>{a.provider}</td>
                  <td>{a.baseUrl || "default"}</td>
                  <td>{a.hasApiKey ? "stored" : "none"}</td>
                  <td>{(byAccount.get(a.name) ?? []).join(", ") || "—"}</td>
                  {write && (
                    <td>
                      {/* TestModel takes a model: an account is tested through its first model. */}
                      <TestConnection fqn={byAccount.has(a.name) ? `${a.name}/${byAccount.get(a.name)![0]}` : undefined} name={`account ${a.name}`} testId={`test-account-${a.name}`} />
                      {byAccount.has(a.name) && <small className="hint"> through {`${a.name}/${byAccount.get(a.name)![0]}`}</small>}
                    </td>
                  )}
                  {write && (
                    <RowActions name={`account ${a.name}`} onEdit={() => setEditing(`a:${a.name}`)} onDelete={() => removeAccount.mutate(a.name)} pending={removeAccount.isPending} />
                  )}
                </tr>
                {write && editing === `a:${a.name}` && (
                  <EditRow colSpan={7}>
                    <EditAccount account={a} onDone={() => setEditing(undefined)} />
                  </EditRow>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      {models.data && (
        <table aria-label="Models">
          <caption>{models.data.models.length} models</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Upstream model</th>
              <th scope="col">Price in / out (USD per 1M tokens)</th>
              {/* TestModel and the writes are the admin's (a probe calls an upstream at the
                  gateway's expense): a viewer sees neither column. */}
              {write && <th scope="col">Connection</th>}
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {models.data.models.map((m) => (
              <Fragment key={m.fqn}>
                <tr>
                  <th scope="row">{m.fqn}</th>
                  <td>{m.upstreamModel || m.name}</td>
                  <td>{m.pricing ? `$${m.pricing.inputPerMtok} / $${m.pricing.outputPerMtok}` : "catalog"}</td>
                  {write && (
                    <td>
                      <TestConnection fqn={m.fqn} />
                    </td>
                  )}
                  {write && (
                    <RowActions name={`model ${m.fqn}`} onEdit={() => setEditing(`m:${m.fqn}`)} onDelete={() => removeModel.mutate(m)} pending={removeModel.isPending} />
                  )}
                </tr>
                {write && editing === `m:${m.fqn}` && (
                  <EditRow colSpan={5}>
                    <EditModel model={m} onDone={() => setEditing(undefined)} />
                  </EditRow>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

// PriceInputs are a model's pricing override, US dollars per million tokens; all empty uses
// the model catalog's price.
function PriceInputs({ prices, setPrices, errors }: { prices: PriceFields; setPrices: (p: PriceFields) => void; errors: Errors }) {
  const input = (label: string, key: keyof PriceFields, field: string) => (
    <Field label={label} error={errors[field] ?? (key === "input" ? errors["model.pricing"] : undefined)}>
      {(id, d, inv) => (
        <input id={id} inputMode="decimal" value={prices[key]} onChange={(e) => setPrices({ ...prices, [key]: e.target.value })} aria-describedby={d} aria-invalid={inv} />
      )}
    </Field>
  );
  return (
    <fieldset className="prices">
      <legend>Price override, US dollars per million tokens (empty: the catalog&apos;s)</legend>
      <div className="row">
        {input("Input", "input", "model.pricing.input_per_mtok")}
        {input("Output", "output", "model.pricing.output_per_mtok")}
        {input("Cached input (optional)", "cachedInput", "model.pricing.cached_input_per_mtok")}
        {input("Cache write (optional)", "cacheWrite", "model.pricing.cache_write_per_mtok")}
        {input("Cache write, 1 h (optional)", "cacheWrite1h", "model.pricing.cache_write_1h_per_mtok")}
      </div>
    </fieldset>
  );
}

// EditAccount changes an account's base URL and, when one is typed, its API key (write-only:
// empty keeps the stored key; the typed key leaves the page once sent).
function EditAccount({ account, onDone }: { account: ProviderAccount; onDone: () => void }) {
  const { api } = useApi();
  const [baseUrl, setBaseUrl] = useState(account.baseUrl);
  const [apiKey, setApiKey] = useState("");
  const { m, errors, setErrors } = useSave(
    accountFields,
    () => api.admin.updateProviderAccount({ providerAccount: { name: account.name, provider: account.provider, settings: account.settings, baseUrl, apiKey } }),
    onDone,
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = { "provider_account.base_url": checkURL("provider_account.base_url", baseUrl) };
    setErrors(errs);
    if (hasErrors(errs)) return;
    m.mutate(undefined, { onSettled: () => setApiKey("") });
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label={`Edit account ${account.name}`}>
      <div className="row">
        <Field label="Base URL" error={errors["provider_account.base_url"]}>
          {(id, d, inv) => <input id={id} type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
        <Field label="New API key" hint="empty keeps the stored key" error={errors["provider_account.api_key"]}>
          {(id, d, inv) => (
            <input id={id} type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} aria-describedby={d} aria-invalid={inv} />
          )}
        </Field>
      </div>
      <FormError message={errors[""]} />
      <SaveCancel pending={m.isPending} onCancel={onDone} />
    </form>
  );
}

// EditModel changes a model's upstream name and price override.
function EditModel({ model, onDone }: { model: Model; onDone: () => void }) {
  const { api } = useApi();
  const [upstream, setUpstream] = useState(model.upstreamModel);
  const [prices, setPrices] = useState<PriceFields>(pricesOf(model.pricing));
  const { m, errors, setErrors } = useSave(
    modelFields,
    () => api.admin.updateModel({
        model: { account: model.account, name: model.name, types: model.types, baseUrl: model.baseUrl, settings: model.settings, upstreamModel: upstream, pricing: pricingOf(prices) },
      }),
    onDone,
    [["models"]],
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs = checkPricing(prices);
    setErrors(errs);
    if (!hasErrors(errs)) m.mutate(undefined);
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label={`Edit model ${model.fqn}`}>
      <TextField label="Upstream model" error={errors["model.upstream_model"]} value={upstream} onChange={setUpstream} />
      <PriceInputs prices={prices} setPrices={setPrices} errors={errors} />
      <FormError message={errors[""]} />
      <SaveCancel pending={m.isPending} onCancel={onDone} />
    </form>
  );
}

// TestConnection sends one tiny request to the model through the gateway's adapter for it
// (TestModel) and shows whether it answered, the upstream's status and the latency. name is
// what the button tests (the model, or the account whose first model it is).
function TestConnection({ fqn, name = fqn, testId = `test-${fqn}` }: { fqn?: string; name?: string; testId?: string }) {
  const { api } = useApi();
  const test = useMutation({ mutationFn: () => api.admin.testModel({ model: fqn ?? "" }) });
  const r = test.data;
  const ms = r?.latency ? Math.round(Number(r.latency.seconds) * 1000 + r.latency.nanos / 1e6) : 0;
  return (
    <>
      <button type="button" className="secondary" onClick={() => test.mutate()} disabled={test.isPending || !fqn} aria-label={`Test connection to ${name}`}>
        Test
      </button>{" "}
      <span role="status" data-testid={testId}>
        {!fqn
          ? "add a model to test it"
          : test.isPending
          ? "testing…"
          : r
            ? r.ok
              ? `ok · ${r.httpStatus} · ${ms} ms`
              : `failed: ${r.errorClass.replace(/_/g, " ")}${r.httpStatus ? ` · ${r.httpStatus}` : ""} · ${ms} ms`
            : ""}
      </span>
      {test.error && <ErrorBox error={test.error} />}
    </>
  );
}
