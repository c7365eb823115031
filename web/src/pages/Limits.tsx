import { Fragment, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Mode, type Budget, type LimitStatus as LimitStatusRow, type RateLimit } from "@gen/llmgw/admin/v1/admin_pb";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ActionsHeader, EditRow, ErrorBox, Field, FormError, hasErrors, RowActions, SaveCancel, TextField, useSave, When, type Errors } from "../components";
import { checkLimits, checkPositive, splitList, type LimitRow } from "../lib/validate";
import { BudgetForm, LimitRows, limitFields, limitsOf, RateLimitForm } from "./LimitForms";

// Limits lists the rate limits and budgets and their live status, refreshed every 5 seconds.
// A team admin gets the forms and the edit and delete buttons too: the server narrows the lists
// to their teams' rules and refuses a change outside them.
export default function Limits() {
  const { api } = useApi();
  const access = useAccess();
  const write = mayWrite(access, "team");
  // The live status is the admin's and viewer's: it counts every team's usage.
  const live = access.admin || access.viewer;
  const limits = useQuery({ queryKey: ["ratelimits"], queryFn: () => api.admin.listRateLimits({}) });
  const budgets = useQuery({ queryKey: ["budgets"], queryFn: () => api.admin.listBudgets({}) });
  const status = useQuery({
    queryKey: ["limitstatus"],
    queryFn: () => api.admin.listLimitStatus({}),
    enabled: live,
    refetchInterval: 5000,
  });
  const qc = useQueryClient();
  const [editing, setEditing] = useState<string>();
  const removeLimit = useMutation({
    mutationFn: (n: string) => api.admin.deleteRateLimit({ name: n }),
    onSuccess: () => qc.invalidateQueries(),
  });
  const removeBudget = useMutation({
    mutationFn: (n: string) => api.admin.deleteBudget({ name: n }),
    onSuccess: () => qc.invalidateQueries(),
  });
  return (
    <section aria-labelledby="limits-h">
      <h1 id="limits-h">Rate limits &amp; budgets</h1>
      <ErrorBox error={limits.error ?? budgets.error ?? status.error ?? removeLimit.error ?? removeBudget.error} />
      {live && <h2>Live status</h2>}
      {status.data && (
        <table aria-label="Live status">
          <caption>{status.data.statuses.length} counters; refreshed every 5 s</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Kind</th>
              <th scope="col">Unit</th>
              <th scope="col">Bucket</th>
              <th scope="col" className="num">Used</th>
              <th scope="col" className="num">Limit</th>
              <th scope="col" className="num">Remaining</th>
              <th scope="col">Resets</th>
            </tr>
          </thead>
          <tbody>
            {status.data.statuses.map((s) => (
              <tr key={`${s.rule}|${s.unit}|${s.bucket}`}>
                <th scope="row">{s.rule}</th>
                <td>{s.kind === "rate_limit" ? "rate limit" : s.kind}</td>
                <td>{s.unit}</td>
                <td>{s.bucket || "—"}</td>
                <td className="num">{String(s.used)}</td>
                <td className="num">{String(s.limit)}</td>
                <td className="num">
                  <meter min={0} max={s.limit || 1} value={s.remaining} aria-label={`${s.rule} remaining`} /> {String(s.remaining)}
                </td>
                <td>
                  <When t={s.resetTime && timestampDate(s.resetTime)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {write && (
        <div className="row">
          <RateLimitForm />
          <BudgetForm />
        </div>
      )}
      <h2>Rate limits</h2>
      {limits.data && (
        <table aria-label="Rate limits">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Limits</th>
              <th scope="col">Applies per</th>
              <th scope="col">Mode</th>
              {live && <th scope="col">Live status</th>}
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {limits.data.rateLimits.map((r) => (
              <Fragment key={r.name}>
              <tr>
                <th scope="row">{r.name}</th>
                <td>{r.limits.map((l) => `${l.limitTo} ${l.unit}`).join(", ")}</td>
                <td>{r.appliesPer.join(", ") || "—"}</td>
                <td>{r.mode === Mode.AUDIT ? "audit" : "enforce"}</td>
                {live && (
                  <td>
                    <LimitStatus rule={r} statuses={status.data?.statuses ?? []} />
                  </td>
                )}
                {write && (
                  <RowActions name={r.name} onEdit={() => setEditing(`rl:${r.name}`)} onDelete={() => removeLimit.mutate(r.name)} pending={removeLimit.isPending} />
                )}
              </tr>
              {write && editing === `rl:${r.name}` && (
                <EditRow colSpan={live ? 6 : 5}>
                  <EditRateLimit rule={r} onDone={() => setEditing(undefined)} />
                </EditRow>
              )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      <h2>Budgets</h2>
      {budgets.data && (
        <table aria-label="Budgets">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Limit</th>
              <th scope="col">Applies per</th>
              <th scope="col">Mode</th>
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {budgets.data.budgets.map((b) => (
              <Fragment key={b.name}>
              <tr>
                <th scope="row">{b.name}</th>
                <td>
                  {String(b.limitTo)} {b.unit}
                </td>
                <td>{b.appliesPer.join(", ") || "—"}</td>
                <td>{b.mode === Mode.AUDIT ? "audit" : "enforce"}</td>
                {write && (
                  <RowActions name={b.name} onEdit={() => setEditing(`b:${b.name}`)} onDelete={() => removeBudget.mutate(b.name)} pending={removeBudget.isPending} />
                )}
              </tr>
              {write && editing === `b:${b.name}` && (
                <EditRow colSpan={5}>
                  <EditBudget budget={b} onDone={() => setEditing(undefined)} />
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

// EditRateLimit changes a rate limit's limits (added, removed, changed), applies_per and mode;
// its condition is sent back as it is (UpdateRateLimit replaces the rule).
function EditRateLimit({ rule, onDone }: { rule: RateLimit; onDone: () => void }) {
  const { api } = useApi();
  const [rows, setRows] = useState<LimitRow[]>(rule.limits.map((l) => ({ unit: l.unit, limit: String(l.limitTo) })));
  const [per, setPer] = useState(rule.appliesPer.join(", "));
  const [audit, setAudit] = useState(rule.mode === Mode.AUDIT);
  const fields = [...limitFields(rows.length), "rate_limit.applies_per", "rate_limit.mode"];
  const { m, errors, setErrors } = useSave(
    fields,
    () =>
      api.admin.updateRateLimit({
        rateLimit: { ...rule, limits: limitsOf(rows), appliesPer: splitList(per), mode: audit ? Mode.AUDIT : Mode.ENFORCE },
      }),
    onDone,
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs = checkLimits(rows);
    setErrors(errs);
    if (!hasErrors(errs)) m.mutate(undefined);
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label={`Edit rate limit ${rule.name}`}>
      <LimitRows rows={rows} setRows={setRows} errors={errors} />
      <div className="row">
        <TextField label="Applies per" error={errors["rate_limit.applies_per"]} value={per} onChange={setPer} />
        <div className="field check">
          <input id={`rl-audit-${rule.name}`} type="checkbox" checked={audit} onChange={(e) => setAudit(e.target.checked)} />
          <label htmlFor={`rl-audit-${rule.name}`}>Audit only</label>
        </div>
      </div>
      <FormError message={errors[""]} />
      <SaveCancel pending={m.isPending} onCancel={onDone} />
    </form>
  );
}

// LimitStatus is every limit of a rule with the live state of its counters (ListLimitStatus):
// used of the limit, remaining and reset time, per bucket; "no requests yet" when none counts.
function LimitStatus({ rule, statuses }: { rule: RateLimit; statuses: LimitStatusRow[] }) {
  return (
    <ul className="plain">
      {rule.limits.map((l) => {
        const mine = statuses.filter((s) => s.kind === "rate_limit" && s.rule === rule.name && s.unit === l.unit);
        return (
          <li key={l.unit}>
            {l.unit}:{" "}
            {mine.length === 0
              ? "no requests yet"
              : mine.map((s, i) => (
                  <span key={s.bucket}>
                    {i > 0 && "; "}
                    {s.bucket ? `${s.bucket} ` : ""}
                    {String(s.used)} of {String(s.limit)} used, {String(s.remaining)} left, resets <When t={s.resetTime && timestampDate(s.resetTime)} />
                  </span>
                ))}
          </li>
        );
      })}
    </ul>
  );
}

// EditBudget changes a budget's limit, applies_per and mode; its condition and alerts are sent
// back as they are (a stored webhook secret is kept: its type and url are unchanged).
function EditBudget({ budget, onDone }: { budget: Budget; onDone: () => void }) {
  const { api } = useApi();
  const [limit, setLimit] = useState(String(budget.limitTo));
  const [per, setPer] = useState(budget.appliesPer.join(", "));
  const [audit, setAudit] = useState(budget.mode === Mode.AUDIT);
  const fields = ["budget.limit_to", "budget.applies_per", "budget.mode"];
  const { m, errors, setErrors } = useSave(
    fields,
    () => api.admin.updateBudget({ budget: { ...budget, limitTo: Number(limit), appliesPer: splitList(per), mode: audit ? Mode.AUDIT : Mode.ENFORCE } }),
    onDone,
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = { "budget.limit_to": checkPositive("budget.limit_to", limit, budget.unit.startsWith("tokens_")) };
    setErrors(errs);
    if (!hasErrors(errs)) m.mutate(undefined);
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label={`Edit budget ${budget.name}`}>
      <div className="row">
        <Field label={`Limit (${budget.unit})`} error={errors["budget.limit_to"]}>
          {(id, d, inv) => <input id={id} inputMode="decimal" value={limit} onChange={(e) => setLimit(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
        <TextField label="Applies per" error={errors["budget.applies_per"]} value={per} onChange={setPer} />
        <div className="field check">
          <input id={`b-audit-${budget.name}`} type="checkbox" checked={audit} onChange={(e) => setAudit(e.target.checked)} />
          <label htmlFor={`b-audit-${budget.name}`}>Audit only</label>
        </div>
      </div>
      <FormError message={errors[""]} />
      <SaveCancel pending={m.isPending} onCancel={onDone} />
    </form>
  );
}
