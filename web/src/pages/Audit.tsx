import { useState, type FormEvent } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { JsonObject } from "@bufbuild/protobuf";
import type { AuditEvent } from "@gen/llmgw/admin/v1/admin_pb";
import { useApi } from "../context";
import { ErrorBox, When } from "../components";
import { isRangeKey, rangeFilter, ranges, type RangeKey } from "../lib/usage";

// The resource kinds AuditEvent.resource_kind names.
const kinds = [
  "provider_account",
  "model",
  "user",
  "team",
  "virtual_account",
  "api_key",
  "gateway_token",
  "authz_rule",
  "virtual_model",
  "routing_rule",
  "rate_limit",
  "budget",
] as const;

interface Filters {
  kind: string;
  principal: string;
  range: RangeKey;
  asOf: number;
}

// Audit is the audit log (ListAuditEvents), newest first, a page at a time, with the
// before/after of one event on demand.
export default function Audit() {
  const { api } = useApi();
  const [draft, setDraft] = useState<Filters>({ kind: "", principal: "", range: "24h", asOf: Date.now() });
  const [applied, setApplied] = useState(draft);
  const [open, setOpen] = useState<string>();
  const log = useInfiniteQuery({
    queryKey: ["audit", applied],
    initialPageParam: "",
    queryFn: ({ pageParam }) => {
      const r = rangeFilter(applied.range, new Date(applied.asOf));
      return api.admin.listAuditEvents({
        resourceKind: applied.kind,
        principal: applied.principal.trim(),
        startTime: r.startTime ?? timestampFromDate(new Date(0)),
        endTime: r.endTime,
        pageSize: 50,
        pageToken: pageParam,
      });
    },
    getNextPageParam: (last) => last.nextPageToken || undefined,
  });
  const events = log.data?.pages.flatMap((p) => p.auditEvents) ?? [];
  const shown = events.find((e) => e.id === open);

  function submit(e: FormEvent) {
    e.preventDefault();
    const next = { ...draft, asOf: Date.now() };
    setDraft(next);
    setApplied(next);
  }

  return (
    <section aria-labelledby="audit-h">
      <h1 id="audit-h">Audit log</h1>
      <form className="card row" onSubmit={submit} aria-label="Filter audit events">
        <div className="field">
          <label htmlFor="audit-kind">Resource kind</label>
          <select id="audit-kind" value={draft.kind} onChange={(e) => setDraft({ ...draft, kind: e.target.value })}>
            <option value="">any</option>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-principal">Principal</label>
          <input id="audit-principal" value={draft.principal} placeholder="admin-token or user:alice" onChange={(e) => setDraft({ ...draft, principal: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-range">Time range</label>
          <select id="audit-range" value={draft.range} onChange={(e) => isRangeKey(e.target.value) && setDraft({ ...draft, range: e.target.value })}>
            {Object.entries(ranges).map(([k, r]) => (
              <option key={k} value={k}>
                {r.label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Apply</button>
      </form>
      <ErrorBox error={log.error} />
      {log.data && (
        <table aria-label="Audit events">
          <caption>{events.length} events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Principal</th>
              <th scope="col">Action</th>
              <th scope="col">Kind</th>
              <th scope="col">Resource</th>
              <th scope="col">Changed</th>
              <th scope="col">
                <span className="sr-only">Diff</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {events.map((ev) => (
              <tr key={ev.id}>
                <td>
                  <When t={ev.time && timestampDate(ev.time)} />
                </td>
                <td>{ev.principal}</td>
                <td>{ev.action}</td>
                <td>{ev.resourceKind}</td>
                <th scope="row">{ev.resourceName}</th>
                <td>{ev.changedFields.join(", ") || "—"}</td>
                <td>
                  <button
                    type="button"
                    className="secondary"
                    aria-expanded={open === ev.id}
                    onClick={() => setOpen(open === ev.id ? undefined : ev.id)}
                    aria-label={`Diff of ${ev.action} ${ev.resourceKind} ${ev.resourceName}`}
                  >
                    Diff
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {log.hasNextPage && (
        <button type="button" className="secondary" onClick={() => log.fetchNextPage()} disabled={log.isFetchingNextPage}>
          Load more
        </button>
      )}
      {shown && <Diff ev={shown} />}
    </section>
  );
}

// Diff shows the top-level fields of an event's before and after side by side; the changed ones first.
function Diff({ ev }: { ev: AuditEvent }) {
  const before: JsonObject = ev.before ?? {};
  const after: JsonObject = ev.after ?? {};
  const changed = new Set(ev.changedFields);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort((a, b) => Number(changed.has(b)) - Number(changed.has(a)) || a.localeCompare(b));
  const show = (o: JsonObject, k: string) => (k in o ? JSON.stringify(o[k], null, 2) : "—");
  return (
    <div className="card" role="region" aria-label={`Audit event ${ev.id}`}>
      <h2>
        {ev.rpc} {ev.resourceName}
      </h2>
      <table aria-label="Before and after">
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k}>
              <th scope="row">
                {k}
                {changed.has(k) ? " (changed)" : ""}
              </th>
              <td>
                <pre className="body" tabIndex={0}>{show(before, k)}</pre>
              </td>
              <td>
                <pre className="body" tabIndex={0}>{show(after, k)}</pre>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
