import { useQuery } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Mode } from "@gen/llmgw/admin/v1/admin_pb";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ErrorBox, When } from "../components";
import { BudgetForm, RateLimitForm } from "./LimitForms";

// Limits lists the rate limits and budgets and their live status, refreshed every 5 seconds.
export default function Limits() {
  const { api } = useApi();
  const access = useAccess();
  const write = mayWrite(access, "team");
  const limits = useQuery({ queryKey: ["ratelimits"], queryFn: () => api.admin.listRateLimits({}) });
  const budgets = useQuery({ queryKey: ["budgets"], queryFn: () => api.admin.listBudgets({}) });
  const status = useQuery({
    queryKey: ["limitstatus"],
    queryFn: () => api.admin.listLimitStatus({}),
    // The live status is the admin's and viewer's: it counts every team's usage.
    enabled: access.admin || access.viewer,
    refetchInterval: 5000,
  });
  return (
    <section aria-labelledby="limits-h">
      <h1 id="limits-h">Rate limits &amp; budgets</h1>
      <ErrorBox error={limits.error ?? budgets.error ?? status.error} />
      {(access.admin || access.viewer) && <h2>Live status</h2>}
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
            </tr>
          </thead>
          <tbody>
            {limits.data.rateLimits.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td>{r.limits.map((l) => `${l.limitTo} ${l.unit}`).join(", ")}</td>
                <td>{r.appliesPer.join(", ") || "—"}</td>
                <td>{r.mode === Mode.AUDIT ? "audit" : "enforce"}</td>
              </tr>
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
            </tr>
          </thead>
          <tbody>
            {budgets.data.budgets.map((b) => (
              <tr key={b.name}>
                <th scope="row">{b.name}</th>
                <td>
                  {String(b.limitTo)} {b.unit}
                </td>
                <td>{b.appliesPer.join(", ") || "—"}</td>
                <td>{b.mode === Mode.AUDIT ? "audit" : "enforce"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
