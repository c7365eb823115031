import { useState, type FormEvent } from "react";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useApi } from "../context";
import { ErrorBox, When } from "../components";
import { bodyText, isRangeKey, ms, rangeFilter, ranges, usd, type RangeKey } from "../lib/usage";
import { splitList } from "../lib/validate";

interface Filters {
  range: RangeKey;
  models: string;
  users: string;
  failuresOnly: boolean;
  asOf: number;
}

// Requests is the request log (ListRequests), newest first, a page at a time, with the
// detail of one request (GetRequest): its attempts, the rules that counted it, its bodies.
export default function Requests() {
  const { api } = useApi();
  const [draft, setDraft] = useState<Filters>({ range: "24h", models: "", users: "", failuresOnly: false, asOf: Date.now() });
  const [applied, setApplied] = useState(draft);
  const [open, setOpen] = useState<string>();
  const log = useInfiniteQuery({
    queryKey: ["requests", applied],
    initialPageParam: "",
    queryFn: ({ pageParam }) => {
      const filter = rangeFilter(applied.range, new Date(applied.asOf));
      filter.models = splitList(applied.models);
      filter.users = splitList(applied.users);
      return api.usage.listRequests({ filter, failuresOnly: applied.failuresOnly, pageSize: 50, pageToken: pageParam });
    },
    getNextPageParam: (last) => last.nextPageToken || undefined,
  });
  const events = log.data?.pages.flatMap((p) => p.events) ?? [];

  function submit(e: FormEvent) {
    e.preventDefault();
    const next = { ...draft, asOf: Date.now() };
    setDraft(next);
    setApplied(next);
  }

  return (
    <section aria-labelledby="req-h">
      <h1 id="req-h">Request log</h1>
      <form className="card row" onSubmit={submit} aria-label="Filter requests">
        <div className="field">
          <label htmlFor="req-range">Time range</label>
          <select id="req-range" value={draft.range} onChange={(e) => isRangeKey(e.target.value) && setDraft({ ...draft, range: e.target.value })}>
            {Object.entries(ranges).map(([k, r]) => (
              <option key={k} value={k}>
                {r.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="req-models">Models (comma-separated)</label>
          <input id="req-models" value={draft.models} onChange={(e) => setDraft({ ...draft, models: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="req-users">Users (comma-separated)</label>
          <input id="req-users" value={draft.users} onChange={(e) => setDraft({ ...draft, users: e.target.value })} />
        </div>
        <div className="field check">
          <input id="req-failures" type="checkbox" checked={draft.failuresOnly} onChange={(e) => setDraft({ ...draft, failuresOnly: e.target.checked })} />
          <label htmlFor="req-failures">Failures only</label>
        </div>
        <button type="submit">Apply</button>
      </form>
      <ErrorBox error={log.error} />
      {log.data && (
        <table aria-label="Requests">
          <caption>{events.length} requests, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Model</th>
              <th scope="col">Who</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">Tokens in / out</th>
              <th scope="col" className="num">Cost</th>
              <th scope="col" className="num">Latency</th>
              <th scope="col">
                <span className="sr-only">Details</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {events.map((ev) => (
              <tr key={ev.eventId}>
                <td>
                  <When t={ev.time && timestampDate(ev.time)} />
                </td>
                <th scope="row">{ev.model || "—"}</th>
                <td>{ev.user || ev.virtualAccount || ev.principal}</td>
                <td>
                  {ev.status}
                  {ev.httpStatus ? ` (${ev.httpStatus})` : ""}
                </td>
                <td className="num">
                  {String(ev.tokens?.prompt ?? 0n)} / {String(ev.tokens?.completion ?? 0n)}
                </td>
                <td className="num">{ev.priced ? usd(ev.costUsd) : "—"}</td>
                <td className="num">{ms(ev.latencyUs)}</td>
                <td>
                  <button type="button" className="secondary" aria-expanded={open === ev.eventId} onClick={() => setOpen(open === ev.eventId ? undefined : ev.eventId)} aria-label={`Details of ${ev.eventId}`}>
                    Details
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
      {open && <Detail id={open} />}
    </section>
  );
}

function Detail({ id }: { id: string }) {
  const { api } = useApi();
  const q = useQuery({ queryKey: ["request", id], queryFn: () => api.usage.getRequest({ eventId: id }) });
  const ev = q.data?.event;
  return (
    <div className="card" role="region" aria-label={`Request ${id}`}>
      <h2>Request {id}</h2>
      <ErrorBox error={q.error} />
      {ev && (
        <>
          <dl className="stats">
            <dt>Surface</dt>
            <dd>{ev.surface}</dd>
            <dt>Operation</dt>
            <dd>{ev.operation || "—"}</dd>
            <dt>Served by</dt>
            <dd>{ev.target?.model || "—"}</dd>
            <dt>Stream</dt>
            <dd>{ev.stream ? "yes" : "no"}</dd>
            <dt>Error class</dt>
            <dd>{ev.errorClass || "—"}</dd>
            <dt>Time to first token</dt>
            <dd>{ev.ttftUs ? ms(ev.ttftUs) : "—"}</dd>
            <dt>Counted by</dt>
            <dd>{ev.counted.join(", ") || "—"}</dd>
            <dt>Would have been refused by</dt>
            <dd>{ev.wouldBlock.join(", ") || "—"}</dd>
          </dl>
          <h3>Attempts</h3>
          {ev.attempts.length === 0 ? (
            <p>None: the request never reached a model.</p>
          ) : (
            <table aria-label="Attempts">
              <thead>
                <tr>
                  <th scope="col">Target</th>
                  <th scope="col">Status</th>
                  <th scope="col">Error class</th>
                  <th scope="col" className="num">Latency</th>
                </tr>
              </thead>
              <tbody>
                {ev.attempts.map((a, i) => (
                  <tr key={i}>
                    <th scope="row">{a.target}</th>
                    <td>
                      {a.status}
                      {a.httpStatus ? ` (${a.httpStatus})` : ""}
                    </td>
                    <td>{a.errorClass || "—"}</td>
                    <td className="num">{ms(a.latencyUs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>Request body</h3>
          <pre className="body" tabIndex={0}>{bodyText(ev.bodies?.request ?? new Uint8Array(), ev.bodies?.requestTruncated ?? false)}</pre>
          <h3>Response body</h3>
          <pre className="body" tabIndex={0}>{bodyText(ev.bodies?.response ?? new Uint8Array(), ev.bodies?.responseTruncated ?? false)}</pre>
        </>
      )}
    </div>
  );
}
