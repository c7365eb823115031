import { Fragment, useId, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { RoutingRule, VirtualModel } from "@gen/llmgw/admin/v1/admin_pb";
import { optionsText, routingOf, rowsOf, stickyOf, stickyText, targetsText, whenText } from "../lib/routing";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ActionsHeader, EditRow, ErrorBox, Field, FormError, hasErrors, RowActions, TextField, useSave, When, type Errors } from "../components";
import {
  checkCondition,
  checkModelName,
  checkName,
  checkRouting,
  checkSticky,
  emptyTarget,
  maxStickyTTL,
  metadataText,
  overridableParams,
  parseMetadata,
  routingTypes,
  splitList,
  type SessionRow,
  type StickyFields,
  type TargetRow,
} from "../lib/validate";

// Routing holds the virtual models (names clients call that route to real models) and the
// routing rules of the global load-balancing config, each with its targets edited as rows,
// and every target's live state (circuit, failures, speed) from ListRoutingState, refreshed
// every 5 seconds. A target's retries, fallback, parameter and header overrides and SLA
// cutoffs, a virtual model's sticky routing and a rule's subjects and metadata are edited too.
// A viewer sees the lists and the live state, and no form or button that writes.
export default function RoutingPage() {
  const { api } = useApi();
  const write = mayWrite(useAccess(), "config");
  const qc = useQueryClient();
  const vms = useQuery({ queryKey: ["virtual-models"], queryFn: () => api.admin.listVirtualModels({}) });
  const rules = useQuery({ queryKey: ["routing-rules"], queryFn: () => api.admin.listRoutingRules({}) });
  const state = useQuery({ queryKey: ["routing-state"], queryFn: () => api.admin.listRoutingState({}), refetchInterval: 5000 });
  const [editing, setEditing] = useState<string>();
  const removeVM = useMutation({
    mutationFn: (v: VirtualModel) => api.admin.deleteVirtualModel({ group: v.group, name: v.name }),
    onSuccess: () => qc.invalidateQueries(),
  });
  const removeRule = useMutation({
    mutationFn: (id: string) => api.admin.deleteRoutingRule({ id }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["routing-rules"] }),
  });
  return (
    <section aria-labelledby="routing-h">
      <h1 id="routing-h">Virtual models &amp; routing</h1>
      {write && <VirtualModelForm />}
      <ErrorBox error={vms.error ?? rules.error ?? state.error ?? removeVM.error ?? removeRule.error} />
      <h2>Virtual models</h2>
      {vms.data && (
        <table aria-label="Virtual models">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Routing</th>
              <th scope="col">Targets</th>
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {vms.data.virtualModels.map((v) => (
              <Fragment key={v.fqn}>
                <tr>
                  <th scope="row">{v.fqn}</th>
                  <td>
                    {v.routingConfig?.type}
                    {stickyText(v.routingConfig)}
                  </td>
                  <td>{targetsText(v.routingConfig)}</td>
                  {write && (
                    <RowActions name={v.fqn} onEdit={() => setEditing(`vm:${v.fqn}`)} onDelete={() => removeVM.mutate(v)} pending={removeVM.isPending} />
                  )}
                </tr>
                {write && editing === `vm:${v.fqn}` && (
                  <EditRow colSpan={4}>
                    <VirtualModelForm initial={v} onDone={() => setEditing(undefined)} />
                  </EditRow>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      {write && <RoutingRuleForm />}
      <h2>Routing rules</h2>
      {rules.data && (
        <table aria-label="Routing rules">
          <caption>in the order they are tried</caption>
          <thead>
            <tr>
              <th scope="col">ID</th>
              <th scope="col" className="num">Position</th>
              <th scope="col">When</th>
              <th scope="col">Routing</th>
              <th scope="col">Targets</th>
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {rules.data.routingRules.map((r) => (
              <Fragment key={r.id}>
                <tr>
                  <th scope="row">{r.id}</th>
                  <td className="num">{r.position}</td>
                  <td>{whenText(r)}</td>
                  <td>{r.routingConfig?.type}</td>
                  <td>{targetsText(r.routingConfig)}</td>
                  {write && (
                    <RowActions name={`rule ${r.id}`} onEdit={() => setEditing(`rr:${r.id}`)} onDelete={() => removeRule.mutate(r.id)} pending={removeRule.isPending} />
                  )}
                </tr>
                {write && editing === `rr:${r.id}` && (
                  <EditRow colSpan={6}>
                    <RoutingRuleForm initial={r} onDone={() => setEditing(undefined)} />
                  </EditRow>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      <h2>Live target state</h2>
      {state.data && (
        <table aria-label="Routing state">
          <caption>{state.data.states.length} targets in this gateway process; refreshed every 5 s</caption>
          <thead>
            <tr>
              <th scope="col">Target</th>
              <th scope="col">Circuit</th>
              <th scope="col" className="num">Failures</th>
              <th scope="col">Next probe</th>
              <th scope="col" className="num">Samples</th>
              <th scope="col" className="num">Time per output token (ms)</th>
              <th scope="col" className="num">Time to first token (ms)</th>
            </tr>
          </thead>
          <tbody>
            {state.data.states.map((s) => (
              <tr key={s.target}>
                <th scope="row">{s.target}</th>
                <td>{s.circuit.replace("_", " ")}</td>
                <td className="num">{s.failures}</td>
                <td>
                  <When t={s.nextProbeTime && timestampDate(s.nextProbeTime)} />
                </td>
                <td className="num">{s.samples}</td>
                <td className="num">{s.samples ? s.tpotMs.toFixed(1) : "—"}</td>
                <td className="num">{s.samples ? s.ttftMs.toFixed(1) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const optionFields = [
  "sla_cutoff",
  "sla_cutoff.time_per_output_token_ms",
  "sla_cutoff.time_to_first_token_ms",
  "retry_config",
  "retry_config.attempts",
  "retry_config.delay",
  "retry_config.on_status_codes",
  "fallback_status_codes",
  "override_params",
  "headers_override",
  "headers_override.set",
  "headers_override.remove",
];

// routingFields are the API paths of a routing config's fields a form shows, for n rows and
// ids session identifiers.
function routingFields(param: string, n: number, ids = 0): string[] {
  const f = [param, `${param}.type`, `${param}.load_balance_targets`];
  for (let i = 0; i < n; i++) f.push(...["target", "weight", "priority", ...optionFields].map((x) => `${param}.load_balance_targets[${i}].${x}`));
  f.push(`${param}.sticky_routing`, `${param}.sticky_routing.ttl_seconds`, `${param}.sticky_routing.session_identifiers`);
  for (let i = 0; i < ids; i++) f.push(...["", ".source", ".key"].map((x) => `${param}.sticky_routing.session_identifiers[${i}]${x}`));
  return f;
}

// TargetOptions are a target's retries, fallback, overrides and SLA cutoffs, shown on demand
// (and whenever one of them is refused).
function TargetOptions(props: { p: string; i: number; type: string; r: TargetRow; set: (k: keyof TargetRow, v: string | boolean) => void; errors: Errors }) {
  const { p, i, r, set, errors } = props;
  const n = i + 1;
  const err = (f: string) => errors[`${p}.${f}`];
  const failed = optionFields.some((f) => err(f));
  const [open, setOpen] = useState(false);
  const fc = useId();
  const shown = open || failed;
  const text = (k: keyof TargetRow, label: string, f: string, hint?: string, mode: "numeric" | "text" = "numeric") => (
    <Field label={`Target ${n} ${label}`} hint={hint} error={err(f)}>
      {(id, d, inv) => <input id={id} inputMode={mode} value={r[k] as string} onChange={(e) => set(k, e.target.value)} aria-describedby={d} aria-invalid={inv} />}
    </Field>
  );
  return (
    <div className="options">
      <button type="button" className="secondary" aria-expanded={shown} onClick={() => setOpen(!shown)}>
        {shown ? "Hide" : "Show"} target {n} options
      </button>
      {!shown && optionsText(r) && <small className="hint"> {optionsText(r)}</small>}
      {shown && (
        <>
          <div className="row">
            {text("attempts", "retry attempts", "retry_config.attempts", "1 to 10 tries in all; empty: 2")}
            {text("delay", "retry delay (ms)", "retry_config.delay", "empty: 100")}
            {text("retryOn", "retry on statuses", "retry_config.on_status_codes", "empty: 429, 500, 502, 503", "text")}
          </div>
          <div className="row">
            {text("fallbackOn", "fall back on statuses", "fallback_status_codes", "the next target is tried after these; empty: 401, 403, 404, 429, 500, 502, 503", "text")}
            <div className="field check">
              <input id={fc} type="checkbox" checked={r.fallbackCandidate} onChange={(e) => set("fallbackCandidate", e.target.checked)} />
              <label htmlFor={fc}>Target {n} may be tried after another failed</label>
            </div>
          </div>
          <div className="row">
            <Field label={`Target ${n} override parameters (JSON)`} hint={`set on every request to it: ${overridableParams.join(", ")}`} error={err("override_params")}>
              {(id, d, inv) => <textarea id={id} rows={2} value={r.params} onChange={(e) => set("params", e.target.value)} aria-describedby={d} aria-invalid={inv} placeholder='{"temperature": 0.2}' />}
            </Field>
            <Field label={`Target ${n} headers to set`} hint='one "Name: value" a line' error={err("headers_override.set") ?? err("headers_override")}>
              {(id, d, inv) => <textarea id={id} rows={2} value={r.headersSet} onChange={(e) => set("headersSet", e.target.value)} aria-describedby={d} aria-invalid={inv} />}
            </Field>
            {text("headersRemove", "headers to remove", "headers_override.remove", "comma-separated", "text")}
          </div>
          {props.type === "priority-based-routing" && (
            <div className="row">
              {text("slaTpot", "SLA time per output token (ms)", "sla_cutoff.time_per_output_token_ms", "skipped while slower; empty: none")}
              <Field label={`Target ${n} SLA time to first token (ms)`} hint="empty: none" error={err("sla_cutoff.time_to_first_token_ms") ?? err("sla_cutoff")}>
                {(id, d, inv) => <input id={id} inputMode="numeric" value={r.slaTtft} onChange={(e) => set("slaTtft", e.target.value)} aria-describedby={d} aria-invalid={inv} />}
              </Field>
            </div>
          )}
          {props.type !== "priority-based-routing" && err("sla_cutoff") && <FormError message={err("sla_cutoff")} />}
        </>
      )}
    </div>
  );
}

// RoutingEditor is a routing type and its targets, one row each, with their options.
function RoutingEditor(props: { param: string; type: string; setType: (t: string) => void; rows: TargetRow[]; setRows: (r: TargetRow[]) => void; errors: Errors }) {
  const { api } = useApi();
  const models = useQuery({ queryKey: ["models"], queryFn: () => api.admin.listModels({}) });
  const { param, type, rows, setRows, errors } = props;
  const list = `${param}.load_balance_targets`;
  const set = (i: number, k: keyof TargetRow, v: string | boolean) => setRows(rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  return (
    <>
      <Field label="Routing type" error={errors[`${param}.type`] ?? errors[param]}>
        {(id, d, inv) => (
          <select id={id} value={type} onChange={(e) => props.setType(e.target.value)} aria-describedby={d} aria-invalid={inv}>
            <option value="">choose…</option>
            {routingTypes.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        )}
      </Field>
      <fieldset className="targets">
        <legend>Targets</legend>
        {rows.map((r, i) => (
          <div key={i} className="target">
            <div className="row">
              <Field label={`Target ${i + 1} model`} error={errors[`${list}[${i}].target`]}>
                {(id, d, inv) => (
                  <select id={id} value={r.target} onChange={(e) => set(i, "target", e.target.value)} aria-describedby={d} aria-invalid={inv}>
                    <option value="">choose a model…</option>
                    {models.data?.models.map((m) => (
                      <option key={m.fqn}>{m.fqn}</option>
                    ))}
                    {r.target && !models.data?.models.some((m) => m.fqn === r.target) && <option>{r.target}</option>}
                  </select>
                )}
              </Field>
              {type === "weight-based-routing" && (
                <Field label={`Target ${i + 1} weight (%)`} error={errors[`${list}[${i}].weight`]}>
                  {(id, d, inv) => <input id={id} inputMode="numeric" value={r.weight} onChange={(e) => set(i, "weight", e.target.value)} aria-describedby={d} aria-invalid={inv} />}
                </Field>
              )}
              {type === "priority-based-routing" && (
                <Field label={`Target ${i + 1} priority`} hint="lower first" error={errors[`${list}[${i}].priority`]}>
                  {(id, d, inv) => <input id={id} inputMode="numeric" value={r.priority} onChange={(e) => set(i, "priority", e.target.value)} aria-describedby={d} aria-invalid={inv} />}
                </Field>
              )}
              <div className="field check">
                <button type="button" className="secondary" onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label={`Remove target ${i + 1}`}>
                  Remove
                </button>
              </div>
            </div>
            <TargetOptions p={`${list}[${i}]`} i={i} type={type} r={r} set={(k, v) => set(i, k, v)} errors={errors} />
          </div>
        ))}
        <FormError message={errors[list]} />
        <p>
          <button type="button" className="secondary" onClick={() => setRows([...rows, { ...emptyTarget }])}>
            Add target
          </button>
        </p>
      </fieldset>
    </>
  );
}

// StickyEditor is a virtual model's sticky routing (session affinity): on or off, its TTL and
// the session identifiers, one row each.
function StickyEditor({ param, st, setSt, errors }: { param: string; st: StickyFields; setSt: (s: StickyFields) => void; errors: Errors }) {
  const p = `${param}.sticky_routing`;
  const setId = (i: number, k: keyof SessionRow, v: string) => setSt({ ...st, ids: st.ids.map((x, j) => (j === i ? { ...x, [k]: v } : x)) });
  const cb = useId();
  return (
    <fieldset className="targets">
      <legend>Sticky routing</legend>
      <div className="field check">
        <input id={cb} type="checkbox" checked={st.on} onChange={(e) => setSt({ ...st, on: e.target.checked, ids: st.ids.length ? st.ids : [{ source: "headers", key: "" }] })} />
        <label htmlFor={cb}>Keep a session on one target (weight-based routing only)</label>
      </div>
      {errors[p] && <FormError message={errors[p]} />}
      {st.on && (
        <>
          <Field label="Session TTL (seconds)" hint={`after its last request; 1 to ${maxStickyTTL}`} error={errors[`${p}.ttl_seconds`]}>
            {(id, d, inv) => <input id={id} inputMode="numeric" value={st.ttl} onChange={(e) => setSt({ ...st, ttl: e.target.value })} aria-describedby={d} aria-invalid={inv} />}
          </Field>
          {st.ids.map((x, i) => {
            const f = `${p}.session_identifiers[${i}]`;
            return (
              <div className="row" key={i}>
                <Field label={`Session identifier ${i + 1} source`} error={errors[`${f}.source`]}>
                  {(id, d, inv) => (
                    <select id={id} value={x.source} onChange={(e) => setId(i, "source", e.target.value)} aria-describedby={d} aria-invalid={inv}>
                      <option value="headers">header</option>
                      <option value="metadata">metadata</option>
                    </select>
                  )}
                </Field>
                <Field label={`Session identifier ${i + 1} key`} hint={x.source === "headers" ? "a header name, e.g. x-session-id" : "a metadata key"} error={errors[`${f}.key`] ?? errors[f]}>
                  {(id, d, inv) => <input id={id} value={x.key} onChange={(e) => setId(i, "key", e.target.value)} aria-describedby={d} aria-invalid={inv} />}
                </Field>
                <div className="field check">
                  <button type="button" className="secondary" onClick={() => setSt({ ...st, ids: st.ids.filter((_, j) => j !== i) })} aria-label={`Remove session identifier ${i + 1}`}>
                    Remove
                  </button>
                </div>
              </div>
            );
          })}
          {errors[`${p}.session_identifiers`] && <FormError message={errors[`${p}.session_identifiers`]} />}
          <p>
            <button type="button" className="secondary" onClick={() => setSt({ ...st, ids: [...st.ids, { source: "headers", key: "" }] })}>
              Add session identifier
            </button>
          </p>
        </>
      )}
    </fieldset>
  );
}

// VirtualModelForm creates a virtual model, or edits initial (its group and name are immutable).
function VirtualModelForm({ initial, onDone }: { initial?: VirtualModel; onDone?: () => void }) {
  const { api } = useApi();
  const [group, setGroup] = useState(initial?.group ?? "");
  const [name, setName] = useState(initial?.name ?? "");
  const [type, setType] = useState(initial?.routingConfig?.type ?? "weight-based-routing");
  const [rows, setRows] = useState<TargetRow[]>(initial ? rowsOf(initial.routingConfig) : [{ ...emptyTarget, weight: "100" }]);
  const [sticky, setSticky] = useState<StickyFields>(stickyOf(initial?.routingConfig));
  const param = "virtual_model.routing_config";
  const fields = ["virtual_model.group", "virtual_model.name", "virtual_model.model_types", ...routingFields(param, rows.length, sticky.ids.length)];
  const { m, errors, setErrors } = useSave(
    fields,
    () => {
      const vm = { group, name, modelTypes: initial?.modelTypes ?? [], routingConfig: routingOf(type, rows, sticky) };
      return initial ? api.admin.updateVirtualModel({ virtualModel: vm }).then(() => undefined) : api.admin.createVirtualModel({ virtualModel: vm }).then(() => undefined);
    },
    () => {
      if (onDone) onDone();
      else {
        setName("");
        setRows([{ ...emptyTarget, weight: "100" }]);
        setSticky(stickyOf());
      }
    },
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = {
      "virtual_model.group": checkName("virtual_model.group", group),
      "virtual_model.name": checkModelName("virtual_model.name", name),
      ...checkRouting(param, type, rows),
      ...checkSticky(param, type, sticky),
    };
    setErrors(errs);
    if (!hasErrors(errs)) m.mutate(undefined);
  }
  const label = initial ? `Edit virtual model ${initial.fqn}` : "Create a virtual model";
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label={label}>
      <h2>{label}</h2>
      <div className="row">
        <Field label="Group" error={errors["virtual_model.group"]} hint='clients call "<group>/<name>"'>
          {(id, d, inv) => <input id={id} value={group} disabled={!!initial} onChange={(e) => setGroup(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
        <Field label="Virtual model name" error={errors["virtual_model.name"]}>
          {(id, d, inv) => <input id={id} value={name} disabled={!!initial} onChange={(e) => setName(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
      </div>
      <RoutingEditor param={param} type={type} setType={setType} rows={rows} setRows={setRows} errors={errors} />
      <StickyEditor param={param} st={sticky} setSt={setSticky} errors={errors} />
      <FormError message={errors[""] ?? errors["virtual_model.model_types"]} />
      <SubmitCancel pending={m.isPending} label={initial ? "Save" : "Create virtual model"} onCancel={onDone} />
    </form>
  );
}

// SubmitCancel are a create-or-edit form's buttons: submit (label), and Cancel when the form
// edits a row (onCancel).
function SubmitCancel({ pending, label, onCancel }: { pending: boolean; label: string; onCancel?: () => void }) {
  return (
    <>
      <button type="submit" disabled={pending}>
        {label}
      </button>
      {onCancel && (
        <>
          {" "}
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
        </>
      )}
    </>
  );
}

// RoutingRuleForm creates a routing rule, or edits initial (its id is immutable): the models,
// subjects and metadata it matches, and where it routes them.
function RoutingRuleForm({ initial, onDone }: { initial?: RoutingRule; onDone?: () => void }) {
  const { api } = useApi();
  const [id, setId] = useState(initial?.id ?? "");
  const [position, setPosition] = useState(initial ? String(initial.position) : "0");
  const [models, setModels] = useState(initial?.when?.models.join(", ") ?? "");
  const [subjects, setSubjects] = useState(initial?.when?.subjects.join(", ") ?? "");
  const [metadata, setMetadata] = useState(metadataText(initial?.when?.metadata));
  const [type, setType] = useState(initial?.routingConfig?.type ?? "priority-based-routing");
  const [rows, setRows] = useState<TargetRow[]>(initial ? rowsOf(initial.routingConfig) : [{ ...emptyTarget, priority: "0" }]);
  const param = "routing_rule.routing_config";
  const fields = [
    "routing_rule.id",
    "routing_rule.position",
    "routing_rule.when.models",
    "routing_rule.when.subjects",
    "routing_rule.when.metadata",
    "routing_rule.when",
    ...routingFields(param, rows.length),
  ];
  const { m, errors, setErrors } = useSave(
    fields,
    () => {
      const rule = {
        id,
        position: Number(position || 0),
        when: { subjects: splitList(subjects), metadata: parseMetadata(metadata).metadata, models: splitList(models) },
        routingConfig: routingOf(type, rows),
      };
      return initial ? api.admin.updateRoutingRule({ routingRule: rule }).then(() => undefined) : api.admin.createRoutingRule({ routingRule: rule }).then(() => undefined);
    },
    () => {
      if (onDone) onDone();
      else {
        setId("");
        setModels("");
        setSubjects("");
        setMetadata("");
        setRows([{ ...emptyTarget, priority: "0" }]);
      }
    },
    [["routing-rules"]],
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = {
      "routing_rule.id": checkName("routing_rule.id", id),
      "routing_rule.position": /^-?\d+$/.test(position.trim() || "0") ? undefined : "routing_rule.position must be a whole number",
      "routing_rule.when.models": splitList(models).length ? undefined : "routing_rule.when.models is required: the models the rule routes",
      ...checkCondition("routing_rule.when", subjects, metadata),
      ...checkRouting(param, type, rows),
    };
    setErrors(errs);
    if (!hasErrors(errs)) m.mutate(undefined);
  }
  const label = initial ? `Edit routing rule ${initial.id}` : "Create a routing rule";
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label={label}>
      <h2>{label}</h2>
      <div className="row">
        <Field label="Rule ID" error={errors["routing_rule.id"]}>
          {(i, d, inv) => <input id={i} value={id} disabled={!!initial} onChange={(e) => setId(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
        <Field label="Position" hint="lower is tried first" error={errors["routing_rule.position"]}>
          {(i, d, inv) => <input id={i} inputMode="numeric" value={position} onChange={(e) => setPosition(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
        <TextField label="For models (comma-separated)" hint="each a model's or virtual model's full name" error={errors["routing_rule.when.models"] ?? errors["routing_rule.when"]} value={models} onChange={setModels} />
      </div>
      <div className="row">
        <TextField label="For subjects (comma-separated, optional)" hint="user:<name>, team:<name>, virtualaccount:<name> or *; empty: every caller" error={errors["routing_rule.when.subjects"]} value={subjects} onChange={setSubjects} />
        <TextField label="With metadata (optional)" hint="key=value, comma-separated: all must match the request's metadata" error={errors["routing_rule.when.metadata"]} value={metadata} onChange={setMetadata} />
      </div>
      <RoutingEditor param={param} type={type} setType={setType} rows={rows} setRows={setRows} errors={errors} />
      <FormError message={errors[""] ?? errors[`${param}.sticky_routing`]} />
      <SubmitCancel pending={m.isPending} label={initial ? "Save" : "Create routing rule"} onCancel={onDone} />
    </form>
  );
}
