import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { create } from "@bufbuild/protobuf";
import { Mode, RateLimitEntrySchema } from "@gen/llmgw/admin/v1/admin_pb";
import { useAccess, useApi } from "../context";
import { teamScoped } from "../lib/access";
import { Field, FormError, TextField } from "../components";
import { fieldError } from "../lib/errors";
import { checkLimits, checkName, checkPositive, splitList, type LimitRow } from "../lib/validate";

export const rateUnits = ["requests_per_minute", "requests_per_hour", "requests_per_day", "tokens_per_minute", "tokens_per_hour", "tokens_per_day"];
const budgetUnits = ["cost_per_day", "cost_per_week", "cost_per_month", "cost_per_quarter", "tokens_per_day", "tokens_per_month"];

type Errors = Record<string, string | undefined>;

// useSubjects is the "For" field's state: a team admin's own team preselected (the server lets
// a team admin create only rules whose subjects are all of their teams).
function useSubjects() {
  const a = useAccess();
  return useState(teamScoped(a) && a.teams.length > 0 ? `team:${a.teams[0]}` : "");
}

function subjectsField(label: string, value: string, set: (v: string) => void, error?: string) {
  return (
    <TextField label={label} hint="user:<name>, team:<name> or virtualaccount:<name>; empty: everyone" error={error} value={value} onChange={set} />
  );
}

function useCreate<T>(fields: string[], fn: () => Promise<T>, onDone: () => void) {
  const qc = useQueryClient();
  const [errors, setErrors] = useState<Errors>({});
  const m = useMutation({
    mutationFn: fn,
    onSuccess: () => {
      onDone();
      return qc.invalidateQueries();
    },
    onError: (err) => {
      const fe = fieldError(err, fields);
      setErrors({ [fe.field]: fe.message });
    },
  });
  return { m, errors, setErrors };
}

// limitFields are the API paths of n limit rows' fields.
export function limitFields(n: number): string[] {
  const f = ["rate_limit.limits"];
  for (let i = 0; i < n; i++) f.push(`rate_limit.limits[${i}].unit`, `rate_limit.limits[${i}].limit_to`, `rate_limit.limits[${i}]`);
  return f;
}

// limitsOf is checked rows as the API's limits.
export function limitsOf(rows: LimitRow[]) {
  return rows.map((r) => create(RateLimitEntrySchema, { unit: r.unit, limitTo: BigInt(r.limit.trim()) }));
}

// nextUnit is the first unit no row has yet, for a new row.
function nextUnit(rows: LimitRow[]): string {
  return rateUnits.find((u) => !rows.some((r) => r.unit === u)) ?? rateUnits[0];
}

// LimitRows are a rate limit's limits, one row each (unit and value), added and removed.
export function LimitRows({ rows, setRows, errors }: { rows: LimitRow[]; setRows: (r: LimitRow[]) => void; errors: Errors }) {
  const set = (i: number, k: keyof LimitRow, v: string) => setRows(rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  return (
    <fieldset className="targets">
      <legend>Limits</legend>
      {rows.map((r, i) => {
        const p = `rate_limit.limits[${i}]`;
        return (
          <div className="row" key={i}>
            <Field label={`Limit ${i + 1} unit`} error={errors[`${p}.unit`]}>
              {(id, d, inv) => (
                <select id={id} value={r.unit} onChange={(e) => set(i, "unit", e.target.value)} aria-describedby={d} aria-invalid={inv}>
                  {rateUnits.map((u) => (
                    <option key={u}>{u}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={`Limit ${i + 1}`} error={errors[`${p}.limit_to`] ?? errors[p]}>
              {(id, d, inv) => <input id={id} inputMode="numeric" value={r.limit} onChange={(e) => set(i, "limit", e.target.value)} aria-describedby={d} aria-invalid={inv} />}
            </Field>
            {rows.length > 1 && (
              <div className="field check">
                <button type="button" className="secondary" onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label={`Remove limit ${i + 1}`}>
                  Remove
                </button>
              </div>
            )}
          </div>
        );
      })}
      <FormError message={errors["rate_limit.limits"]} />
      {rows.length < rateUnits.length && (
        <p>
          <button type="button" className="secondary" onClick={() => setRows([...rows, { unit: nextUnit(rows), limit: "" }])}>
            Add limit
          </button>
        </p>
      )}
    </fieldset>
  );
}

// RateLimitForm creates a rate limit with one or more limits.
export function RateLimitForm() {
  const { api } = useApi();
  const [name, setName] = useState("");
  const [rows, setRows] = useState<LimitRow[]>([{ unit: rateUnits[0], limit: "" }]);
  const [per, setPer] = useState("");
  const [subjects, setSubjects] = useSubjects();
  const [audit, setAudit] = useState(false);
  const fields = ["rate_limit.when.subjects", "rate_limit.name", ...limitFields(rows.length), "rate_limit.applies_per", "rate_limit.mode"];
  const { m, errors, setErrors } = useCreate(
    fields,
    () =>
      api.admin.createRateLimit({
        rateLimit: { name, limits: limitsOf(rows), appliesPer: splitList(per), when: splitList(subjects).length ? { subjects: splitList(subjects) } : undefined, mode: audit ? Mode.AUDIT : Mode.ENFORCE },
      }),
    () => {
      setName("");
      setRows([{ unit: rateUnits[0], limit: "" }]);
      setPer("");
    },
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = { "rate_limit.name": checkName("rate_limit.name", name), ...checkLimits(rows) };
    setErrors(errs);
    if (!Object.values(errs).some(Boolean)) m.mutate();
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create a rate limit">
      <h2>Create a rate limit</h2>
      <div className="row">
        <TextField label="Rate limit name" error={errors["rate_limit.name"]} value={name} onChange={setName} />
        <TextField label="Applies per (comma-separated)" hint="user, team, virtualaccount, model or metadata.<key>" error={errors["rate_limit.applies_per"]} value={per} onChange={setPer} />
        {subjectsField("Rate limit for (comma-separated)", subjects, setSubjects, errors["rate_limit.when.subjects"])}
        <div className="field check">
          <input id="rl-audit" type="checkbox" checked={audit} onChange={(e) => setAudit(e.target.checked)} />
          <label htmlFor="rl-audit">Audit only</label>
        </div>
      </div>
      <LimitRows rows={rows} setRows={setRows} errors={errors} />
      <FormError message={errors[""]} />
      <button type="submit" disabled={m.isPending}>
        Create rate limit
      </button>
    </form>
  );
}

// BudgetForm creates a budget.
export function BudgetForm() {
  const { api } = useApi();
  const [name, setName] = useState("");
  const [unit, setUnit] = useState(budgetUnits[0]);
  const [limit, setLimit] = useState("");
  const [per, setPer] = useState("");
  const [subjects, setSubjects] = useSubjects();
  const [audit, setAudit] = useState(false);
  const fields = ["budget.when.subjects", "budget.name", "budget.unit", "budget.limit_to", "budget.applies_per", "budget.mode"];
  const { m, errors, setErrors } = useCreate(
    fields,
    () => api.admin.createBudget({ budget: { name, unit, limitTo: Number(limit), appliesPer: splitList(per), when: splitList(subjects).length ? { subjects: splitList(subjects) } : undefined, mode: audit ? Mode.AUDIT : Mode.ENFORCE } }),
    () => {
      setName("");
      setLimit("");
      setPer("");
    },
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = {
      "budget.name": checkName("budget.name", name),
      "budget.limit_to": checkPositive("budget.limit_to", limit, unit.startsWith("tokens_")),
    };
    setErrors(errs);
    if (!Object.values(errs).some(Boolean)) m.mutate();
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create a budget">
      <h2>Create a budget</h2>
      <div className="row">
        <TextField label="Budget name" error={errors["budget.name"]} value={name} onChange={setName} />
        <Field label="Budget unit" error={errors["budget.unit"]}>
          {(id, d, inv) => (
            <select id={id} value={unit} onChange={(e) => setUnit(e.target.value)} aria-describedby={d} aria-invalid={inv}>
              {budgetUnits.map((u) => (
                <option key={u}>{u}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={unit.startsWith("cost_") ? "Limit (US dollars)" : "Limit (tokens)"} error={errors["budget.limit_to"]}>
          {(id, d, inv) => <input id={id} inputMode="decimal" value={limit} onChange={(e) => setLimit(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
        <TextField label="Budget applies per (comma-separated)" error={errors["budget.applies_per"]} value={per} onChange={setPer} />
        {subjectsField("Budget for (comma-separated)", subjects, setSubjects, errors["budget.when.subjects"])}
        <div className="field check">
          <input id="b-audit" type="checkbox" checked={audit} onChange={(e) => setAudit(e.target.checked)} />
          <label htmlFor="b-audit">Audit only</label>
        </div>
      </div>
      <FormError message={errors[""]} />
      <button type="submit" disabled={m.isPending}>
        Create budget
      </button>
    </form>
  );
}
