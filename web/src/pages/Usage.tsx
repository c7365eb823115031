import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Dimension, type Totals } from "@gen/llmgw/usage/v1/usage_service_pb";
import { useApi } from "../context";
import { ErrorBox, When } from "../components";
import { buckets, isRangeKey, rangeFilter, ranges, usd, type RangeKey } from "../lib/usage";

// Usage shows the Usage API's answers as they are: requests, failures, tokens and cost by
// model over a time range, and requests per time bucket.
export default function Usage() {
  const { api } = useApi();
  const [range, setRange] = useState<RangeKey>("24h");
  // The range is fixed when chosen or refreshed, so both queries ask about the same one.
  const [asOf, setAsOf] = useState(() => new Date());
  const filter = rangeFilter(range, asOf);
  const key = [range, asOf.getTime()];
  const breakdown = useQuery({
    queryKey: ["breakdown", ...key],
    queryFn: () => api.usage.getCostBreakdown({ filter, groupBy: Dimension.MODEL }),
  });
  const series = useQuery({
    queryKey: ["series", ...key],
    queryFn: () => api.usage.getTimeSeries({ filter, granularity: ranges[range].granularity }),
  });
  const points = series.data?.series[0]?.points ?? [];
  const max = points.reduce((m, p) => Math.max(m, Number(p.totals?.requests ?? 0n)), 0);
  const layout = buckets(timestampDate(filter.startTime!), timestampDate(filter.endTime!), ranges[range].granularity);

  return (
    <section aria-labelledby="usage-h">
      <h1 id="usage-h">Usage</h1>
      <div className="row toolbar">
        <label>
          Time range{" "}
          <select
            value={range}
            onChange={(e) => {
              if (isRangeKey(e.target.value)) setRange(e.target.value);
              setAsOf(new Date());
            }}
          >
            {Object.entries(ranges).map(([k, r]) => (
              <option key={k} value={k}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary" onClick={() => setAsOf(new Date())}>
          Refresh
        </button>
        <span>
          <When t={timestampDate(filter.startTime!)} /> to <When t={timestampDate(filter.endTime!)} />
        </span>
      </div>
      <ErrorBox error={breakdown.error ?? series.error} />
      <h2>By model</h2>
      {breakdown.data && (
        <table aria-label="Usage by model">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col" className="num">Requests</th>
              <th scope="col" className="num">Failures</th>
              <th scope="col" className="num">Prompt tokens</th>
              <th scope="col" className="num">Completion tokens</th>
              <th scope="col" className="num">Cost</th>
              <th scope="col" className="num">Unpriced requests</th>
            </tr>
          </thead>
          <tbody>
            {breakdown.data.groups.map((g) => (
              <TotalsRow key={g.key} label={g.key || "(none)"} t={g.totals} />
            ))}
          </tbody>
          <tfoot>
            <TotalsRow label="All models" t={breakdown.data.totals} />
          </tfoot>
        </table>
      )}
      <h2>Requests over time</h2>
      {series.data && (
        <figure>
          <svg className="chart" viewBox={`0 0 ${layout.count * 10} 100`} preserveAspectRatio="none" role="img" aria-label={`Requests per bucket, ${points.length} buckets with requests`}>
            {points.map((p) => {
              const t = timestampDate(p.startTime!);
              const n = p.totals?.requests ?? 0n;
              const h = max ? (Number(n) / max) * 100 : 0;
              return (
                <rect key={t.getTime()} x={layout.index(t) * 10 + 1} y={100 - h} width={8} height={h}>
                  <title>{`${t.toISOString()}: ${n} requests`}</title>
                </rect>
              );
            })}
          </svg>
          <figcaption>
            {points.length === 0 ? "No requests in this range." : `${points.length} buckets with requests; peak ${max} requests.`}
          </figcaption>
        </figure>
      )}
    </section>
  );
}

function TotalsRow({ label, t }: { label: string; t?: Totals }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td className="num">{String(t?.requests ?? 0n)}</td>
      <td className="num">{String(t?.failures ?? 0n)}</td>
      <td className="num">{String(t?.promptTokens ?? 0n)}</td>
      <td className="num">{String(t?.completionTokens ?? 0n)}</td>
      <td className="num">{usd(t?.costUsd ?? 0)}</td>
      <td className="num">{String(t?.unpricedRequests ?? 0n)}</td>
    </tr>
  );
}
