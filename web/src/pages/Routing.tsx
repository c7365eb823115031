import { Fragment, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { clone, create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { RoutingTargetSchema, type Routing, type RoutingRule, type VirtualModel } from "@gen/llmgw/admin/v1/admin_pb";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { DeleteButton, EditButton, ErrorBox, Field, FormError, hasErrors, useSave, When, type Errors } from "../components";
import { checkModelName, checkName, checkRouting, routingTypes, splitList, type TargetRow } from "../lib/validate";

// Routing holds the virtual models (names clients call that route to real models) and the
// routing rules of the global load-balancing config, each with its targets edited as rows,
// and every target's live state (circuit, failures, speed) from ListRoutingState, refreshed
// every 5 seconds. A viewer sees the lists and the live state, and no form or button that writes.
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
              {write && (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {vms.data.virtualModels.map((v) => (
              <Fragment key={v.fqn}>
                <tr>
                  <th scope="row">{v.fqn}</th>
                  <td>{v.routingConfig?.type}</td>
                  <td>{targetsText(v.routingConfig)}</td>
                  {write && (
                    <td>
                      <EditButton name={v.fqn} onClick={() => setEditing(`vm:${v.fqn}`)} />{" "}
                      <DeleteButton name={v.fqn} onDelete={() => removeVM.mutate(v)} pending={removeVM.isPending} />
                    </td>
                  )}
                </tr>
                {write && editing === `vm:${v.fqn}` && (
                  <tr>
                    <td colSpan={4}>
                      <VirtualModelForm initial={v} onDone={() => setEditing(undefined)} />
                    </td>
                  </tr>
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
              <th scope="col">Models</th>
              <th scope="col">Routing</th>
              <th scope="col">Targets</th>
              {write && (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {rules.data.routingRules.map((r) => (
              <Fragment key={r.id}>
                <tr>
                  <th scope="row">{r.id}</th>
                  <td className="num">{r.position}</td>
                  <td>{r.when?.models.join(", ")}</td>
                  <td>{r.routingConfig?.type}</td>
                  <td>{targetsText(r.routingConfig)}</td>
                  {write && (
                    <td>
                      <EditButton name={`rule ${r.id}`} onClick={() => setEditing(`rr:${r.id}`)} />{" "}
                      <DeleteButton name={`rule ${r.id}`} onDelete={() => removeRule.mutate(r.id)} pending={removeRule.isPending} />
                    </td>
                  )}
                </tr>
                {write && editing === `rr:${r.id}` && (
                  <tr>
                    <td colSpan={6}>
                      <RoutingRuleForm initial={r} onDone={() => setEditing(undefined)} />
                    </td>
                  </tr>
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

function targetsText(r?: Routing): string {
  return (r?.loadBalanceTargets ?? [])
    .map((t) => t.target + (r?.type === "weight-based-routing" ? ` ${t.weight}%` : r?.type === "priority-based-routing" ? ` (priority ${t.priority})` : ""))
    .join(", ");
}

function rowsOf(r?: Routing): TargetRow[] {
  return (r?.loadBalanceTargets ?? []).map((t) => ({ target: t.target, weight: t.weight ? String(t.weight) : "", priority: t.priority ? String(t.priority) : "" }));
}

// routingOf is the routing config of typed rows; a target kept from before keeps the fields
// the form does not edit (retries, fallbacks, overrides), and the config its sticky routing.
function routingOf(type: string, rows: TargetRow[], before?: Routing) {
  return {
    type,
    stickyRouting: type === "weight-based-routing" ? before?.stickyRouting : undefined,
    loadBalanceTargets: rows.map((r) => {
      const old = before?.loadBalanceTargets.find((t) => t.target === r.target);
      const t = old ? clone(RoutingTargetSchema, old) : create(RoutingTargetSchema);
      t.target = r.target;
      t.weight = Number(r.weight || 0);
      t.priority = Number(r.priority || 0);
      return t;
    }),
  };
}

// routingFields are the API paths of a routing config's fields a form shows, for n rows.
function routingFields(param: string, n: number): string[] {
  const f = [param, `${param}.type`, `${param}.load_balance_targets`];
  for (let i = 0; i < n; i++) f.push(...["target", "weight", "priority"].map((x) => `${param}.load_balance_targets[${i}].${x}`));
  return f;
}

// RoutingEditor is a routing type and its targets, one row each.
function RoutingEditor(props: { param: string; type: string; setType: (t: string) => void; rows: TargetRow[]; setRows: (r: TargetRow[]) => void; errors: Errors }) {
  const { api } = useApi();
  const models = useQuery({ queryKey: ["models"], queryFn: () => api.admin.listModels({}) });
  const { param, type, rows, setRows, errors } = props;
  const list = `${param}.load_balance_targets`;
  const set = (i: number, k: keyof TargetRow, v: string) => setRows(rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
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
          <div className="row" key={i}>
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
        ))}
        {errors[list] && (
          <p className="error" role="alert">
            {errors[list]}
          </p>
        )}
        <p>
          <button type="button" className="secondary" onClick={() => setRows([...rows, { target: "", weight: "", priority: "" }])}>
            Add target
          </button>
        </p>
      </fieldset>
    </>
  );
}

// VirtualModelForm creates a virtual model, or edits initial (its group and name are immutable).
function VirtualModelForm({ initial, onDone }: { initial?: VirtualModel; onDone?: () => void }) {
  const { api } = useApi();
  const [group, setGroup] = useState(initial?.group ?? "");
  const [name, setName] = useState(initial?.name ?? "");
  const [type, setType] = useState(initial?.routingConfig?.type ?? "weight-based-routing");
  const [rows, setRows] = useState<TargetRow[]>(initial ? rowsOf(initial.routingConfig) : [{ target: "", weight: "100", priority: "" }]);
  const param = "virtual_model.routing_config";
  const fields = ["virtual_model.group", "virtual_model.name", "virtual_model.model_types", ...routingFields(param, rows.length)];
  const { m, errors, setErrors } = useSave(
    fields,
    () => {
      const vm = { group, name, modelTypes: initial?.modelTypes ?? [], routingConfig: routingOf(type, rows, initial?.routingConfig) };
      return initial ? api.admin.updateVirtualModel({ virtualModel: vm }).then(() => undefined) : api.admin.createVirtualModel({ virtualModel: vm }).then(() => undefined);
    },
    () => {
      if (onDone) onDone();
      else {
        setName("");
        setRows([{ target: "", weight: "100", priority: "" }]);
      }
    },
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = {
      "virtual_model.group": checkName("virtual_model.group", group),
      "virtual_model.name": checkModelName("virtual_model.name", name),
      ...checkRouting(param, type, rows),
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
      <FormError message={errors[""] ?? errors["virtual_model.model_types"]} />
      <button type="submit" disabled={m.isPending}>
        {initial ? "Save" : "Create virtual model"}
      </button>
      {onDone && (
        <>
          {" "}
          <button type="button" className="secondary" onClick={onDone}>
            Cancel
          </button>
        </>
      )}
    </form>
  );
}

// RoutingRuleForm creates a routing rule, or edits initial (its id is immutable). The rule's
// subjects and metadata conditions are kept as they are.
function RoutingRuleForm({ initial, onDone }: { initial?: RoutingRule; onDone?: () => void }) {
  const { api } = useApi();
  const [id, setId] = useState(initial?.id ?? "");
  const [position, setPosition] = useState(initial ? String(initial.position) : "0");
  const [models, setModels] = useState(initial?.when?.models.join(", ") ?? "");
  const [type, setType] = useState(initial?.routingConfig?.type ?? "priority-based-routing");
  const [rows, setRows] = useState<TargetRow[]>(initial ? rowsOf(initial.routingConfig) : [{ target: "", weight: "", priority: "0" }]);
  const param = "routing_rule.routing_config";
  const fields = ["routing_rule.id", "routing_rule.position", "routing_rule.when.models", "routing_rule.when", ...routingFields(param, rows.length)];
  const { m, errors, setErrors } = useSave(
    fields,
    () => {
      const rule = {
        id,
        position: Number(position || 0),
        when: { subjects: initial?.when?.subjects ?? [], metadata: initial?.when?.metadata ?? {}, models: splitList(models) },
        routingConfig: routingOf(type, rows, initial?.routingConfig),
      };
      return initial ? api.admin.updateRoutingRule({ routingRule: rule }).then(() => undefined) : api.admin.createRoutingRule({ routingRule: rule }).then(() => undefined);
    },
    () => {
      if (onDone) onDone();
      else {
        setId("");
        setModels("");
        setRows([{ target: "", weight: "", priority: "0" }]);
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
        <Field label="For models (comma-separated)" hint="each a model's or virtual model's full name" error={errors["routing_rule.when.models"] ?? errors["routing_rule.when"]}>
          {(i, d, inv) => <input id={i} value={models} onChange={(e) => setModels(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
      </div>
      <RoutingEditor param={param} type={type} setType={setType} rows={rows} setRows={setRows} errors={errors} />
      <FormError message={errors[""]} />
      <button type="submit" disabled={m.isPending}>
        {initial ? "Save" : "Create routing rule"}
      </button>
      {onDone && (
        <>
          {" "}
          <button type="button" className="secondary" onClick={onDone}>
            Cancel
          </button>
        </>
      )}
    </form>
  );
}
