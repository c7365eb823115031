import { useState, type ReactNode } from "react";
import { useQuery } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Dimension, Granularity, type Filter, type Series, type Totals } from "@gen/llmgw/usage/v1/usage_service_pb";
import { useApi } from "../context";
import { ErrorBox, Field, When } from "../components";
import { LineChart } from "../chart";
import {
  buckets,
  customFilter,
  durationMs,
  isMetricKey,
  isRangeKey,
  metrics,
  metricText,
  parseUTC,
  rangeFilter,
  ranges,
  toUTCInput,
  usd,
  type MetricKey,
  type RangeKey,
} from "../lib/usage";

const granularities = [
  { g: Granularity.MINUTE, label: "Minute" },
  { g: Granularity.HOUR, label: "Hour" },
  { g: Granularity.DAY, label: "Day" },
];

const costDimensions = [
  { d: Dimension.USER, label: "User" },
  { d: Dimension.TEAM, label: "Team" },
  { d: Dimension.VIRTUAL_ACCOUNT, label: "Virtual account" },
  { d: Dimension.METADATA, label: "Metadata key" },
];

// Usage is the dashboard: the Usage API's answers as they are, over one time range. Requests,
// failures, tokens and cost by model per bucket (GetTimeSeries), totals by model and cost by
// user, team, virtual account or a metadata key (GetCostBreakdown), and latency and time to
// first token per model (GetLatencyPercentiles).
export default function Usage() {
  const { api } = useApi();
  const [range, setRange] = useState<RangeKey | "custom">("24h");
  const [granularity, setGranularity] = useState<Granularity>(ranges["24h"].granularity);
  // The range is fixed when chosen or refreshed, so every query asks about the same one.
  const [asOf, setAsOf] = useState(() => new Date());
  const [custom, setCustom] = useState(() => {
    const f = rangeFilter("24h", new Date());
    return { start: toUTCInput(timestampDate(f.startTime!)), end: toUTCInput(timestampDate(f.endTime!)) };
  });
  const [applied, setApplied] = useState<{ start: Date; end: Date }>();
  const [customError, setCustomError] = useState<string>();
  const [metric, setMetric] = useState<MetricKey>("requests");
  const [asTable, setAsTable] = useState(false);
  const [costBy, setCostBy] = useState<Dimension>(Dimension.USER);
  const [metaKey, setMetaKey] = useState("");

  const filter: Filter | undefined =
    range === "custom" ? (applied ? customFilter(applied.start, applied.end) : undefined) : rangeFilter(range, asOf);
  // asOf is part of every query's key: Refresh within the same minute (the same range) still
  // asks the server again instead of answering from the cache.
  const key = filter ? [timestampDate(filter.startTime!).getTime(), timestampDate(filter.endTime!).getTime(), range === "custom" ? 0 : asOf.getTime()] : [];
  const enabled = !!filter;
  const breakdown = useQuery({
    queryKey: ["breakdown", ...key],
    queryFn: () => api.usage.getCostBreakdown({ filter, groupBy: Dimension.MODEL }),
    enabled,
  });
  const series = useQuery({
    queryKey: ["series", granularity, ...key],
    queryFn: () => api.usage.getTimeSeries({ filter, granularity, groupBy: Dimension.MODEL }),
    enabled,
  });
  const metaMissing = costBy === Dimension.METADATA && !metaKey.trim();
  const cost = useQuery({
    queryKey: ["cost", costBy, metaKey.trim(), ...key],
    queryFn: () => api.usage.getCostBreakdown({ filter, groupBy: costBy, groupByMetadataKey: costBy === Dimension.METADATA ? metaKey.trim() : "" }),
    enabled: enabled && !metaMissing,
  });
  const latency = useQuery({
    queryKey: ["latency", ...key],
    queryFn: () => api.usage.getLatencyPercentiles({ filter }),
    enabled,
  });

  function applyCustom() {
    const start = parseUTC(custom.start);
    const end = parseUTC(custom.end);
    if (!start || !end) return setCustomError("enter both times as YYYY-MM-DDTHH:MM (UTC)");
    if (end <= start) return setCustomError("the end must be after the start");
    setCustomError(undefined);
    setApplied({ start, end });
  }

  const costLabel = costDimensions.find((c) => c.d === costBy)?.label ?? "";
  const bucketLabel = granularities.find((x) => x.g === granularity)?.label.toLowerCase() ?? "";

  return (
    <section aria-labelledby="usage-h">
      <h1 id="usage-h">Usage</h1>
      <div className="row toolbar">
        <label>
          Time range{" "}
          <select
            value={range}
            onChange={(e) => {
              const v = e.target.value;
              if (isRangeKey(v)) {
                setRange(v);
                setGranularity(ranges[v].granularity);
              } else if (v === "custom") setRange("custom");
              setAsOf(new Date());
            }}
          >
            {Object.entries(ranges).map(([k, r]) => (
              <option key={k} value={k}>
                {r.label}
              </option>
            ))}
            <option value="custom">Custom…</option>
          </select>
        </label>
        <label>
          Bucket{" "}
          <select value={granularity} onChange={(e) => setGranularity(Number(e.target.value) as Granularity)}>
            {granularities.map((x) => (
              <option key={x.g} value={x.g}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary" onClick={() => setAsOf(new Date())} disabled={range === "custom"}>
          Refresh
        </button>
        {filter && (
          <span>
            <When t={timestampDate(filter.startTime!)} /> to <When t={timestampDate(filter.endTime!)} />
          </span>
        )}
      </div>
      {range === "custom" && (
        <form
          className="row toolbar"
          aria-label="Custom range"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            applyCustom();
          }}
        >
          <Field label="From (UTC)" error={customError}>
            {(id, d, invalid) => (
              <input id={id} type="datetime-local" value={custom.start} onChange={(e) => setCustom({ ...custom, start: e.target.value })} aria-describedby={d} aria-invalid={invalid} />
            )}
          </Field>
          <Field label="To (UTC)">
            {(id, d) => <input id={id} type="datetime-local" value={custom.end} onChange={(e) => setCustom({ ...custom, end: e.target.value })} aria-describedby={d} />}
          </Field>
          <button type="submit">Apply range</button>
        </form>
      )}
      <ErrorBox error={breakdown.error ?? series.error ?? latency.error} />

      <Panel title="By model" id="by-model">
        {breakdown.data && (
          <div className="tablewrap">
            <TotalsTable label="Usage by model" first="Model" groups={breakdown.data.groups} totals={breakdown.data.totals} allLabel="All models" />
          </div>
        )}
      </Panel>

      <Panel title="Over time" id="over-time">
        <div className="row toolbar">
          <label>
            Metric{" "}
            <select value={metric} onChange={(e) => isMetricKey(e.target.value) && setMetric(e.target.value)}>
              {Object.entries(metrics).map(([k, m]) => (
                <option key={k} value={k}>
                  {m.label}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="secondary" aria-pressed={asTable} onClick={() => setAsTable(!asTable)}>
            {asTable ? "Show chart" : "Show table"}
          </button>
        </div>
        {series.data && filter && (
          <SeriesView
            series={series.data.series}
            truncated={series.data.truncated}
            filter={filter}
            granularity={granularity}
            metric={metric}
            asTable={asTable}
            title={`${metrics[metric].label} per ${bucketLabel} by model`}
          />
        )}
      </Panel>

      <Panel title="Cost by" id="cost-by">
        <div className="row toolbar">
          <label>
            Group by{" "}
            <select value={costBy} onChange={(e) => setCostBy(Number(e.target.value) as Dimension)}>
              {costDimensions.map((c) => (
                <option key={c.d} value={c.d}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
          {costBy === Dimension.METADATA && (
            <label>
              Metadata key <input value={metaKey} onChange={(e) => setMetaKey(e.target.value)} />
            </label>
          )}
        </div>
        {metaMissing && <p className="hint">Enter the metadata key to group by.</p>}
        <ErrorBox error={cost.error} />
        {cost.data && !metaMissing && (
          <div className="tablewrap">
            <TotalsTable label={`Cost by ${costLabel.toLowerCase()}`} first={costLabel} groups={cost.data.groups} totals={cost.data.totals} allLabel="All" />
            {cost.data.truncated && <p className="hint">Only the largest groups are shown.</p>}
          </div>
        )}
      </Panel>

      <Panel title="Latency by model" id="latency">
        {latency.data && (
          <div className="tablewrap">
            <table aria-label="Latency by model">
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col" className="num">Requests</th>
                  <th scope="col" className="num">p50</th>
                  <th scope="col" className="num">p95</th>
                  <th scope="col" className="num">p99</th>
                  <th scope="col" className="num">Streams</th>
                  <th scope="col" className="num">TTFT p50</th>
                  <th scope="col" className="num">TTFT p95</th>
                  <th scope="col" className="num">TTFT p99</th>
                </tr>
              </thead>
              <tbody>
                {latency.data.models.map((m) => (
                  <tr key={m.model}>
                    <th scope="row">{m.model || "(none)"}</th>
                    <td className="num">{String(m.requests)}</td>
                    <td className="num">{durationMs(m.latency?.p50)}</td>
                    <td className="num">{durationMs(m.latency?.p95)}</td>
                    <td className="num">{durationMs(m.latency?.p99)}</td>
                    <td className="num">{String(m.streams)}</td>
                    <td className="num">{m.streams ? durationMs(m.ttft?.p50) : "—"}</td>
                    <td className="num">{m.streams ? durationMs(m.ttft?.p95) : "—"}</td>
                    <td className="num">{m.streams ? durationMs(m.ttft?.p99) : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {latency.data.models.length === 0 && <p>No requests in this range.</p>}
          </div>
        )}
      </Panel>
    </section>
  );
}

function Panel({ title, id, children }: { title: string; id: string; children: ReactNode }) {
  return (
    <section className="dash" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function SeriesView(props: { series: Series[]; truncated: boolean; filter: Filter; granularity: Granularity; metric: MetricKey; asTable: boolean; title: string }) {
  const { series, filter, granularity, metric } = props;
  const of = metrics[metric].of;
  const start = timestampDate(filter.startTime!);
  const layout = buckets(start, timestampDate(filter.endTime!), granularity);
  if (series.length === 0) return <p>No requests in this range.</p>;
  // Bucket start times with a point in any series, in order, for the table.
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => timestampDate(p.startTime!).getTime())))].sort((a, b) => a - b);
  if (props.asTable) {
    return (
      <div className="tablewrap">
        <table aria-label={props.title}>
          <thead>
            <tr>
              <th scope="col">Bucket (UTC)</th>
              {series.map((s) => (
                <th key={s.group} scope="col" className="num">
                  {s.group || "(none)"}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {times.map((t) => (
              <tr key={t}>
                <th scope="row">
                  <When t={new Date(t)} />
                </th>
                {series.map((s) => {
                  const p = s.points.find((q) => timestampDate(q.startTime!).getTime() === t);
                  return (
                    <td key={s.group} className="num">
                      {metricText(of(p?.totals))}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row">Total</th>
              {series.map((s) => (
                <td key={s.group} className="num">
                  {metricText(of(s.totals))}
                </td>
              ))}
            </tr>
          </tfoot>
        </table>
        {props.truncated && <p className="hint">Only the largest series are shown.</p>}
      </div>
    );
  }
  const chartSeries = series.map((s) => {
    const values = new Array<number>(layout.count).fill(0);
    for (const p of s.points) {
      const i = layout.index(timestampDate(p.startTime!));
      if (i >= 0 && i < layout.count) values[i] = Number(of(p.totals));
    }
    return { name: s.group || "(none)", values };
  });
  const summary = `${props.title}: ${series.map((s) => `${s.group || "(none)"} ${metricText(of(s.totals))} in total`).join("; ")}. Show table for every bucket.`;
  return <LineChart series={chartSeries} summary={summary} />;
}

// TotalsTable is a breakdown's table: a row a group (first names the groups' column), then the
// totals of all of them (allLabel).
function TotalsTable(props: { label: string; first: string; groups: { key: string; totals?: Totals }[]; totals?: Totals; allLabel: string }) {
  return (
    <table aria-label={props.label}>
      <thead>
        <tr>
          <th scope="col">{props.first}</th>
          <th scope="col" className="num">Requests</th>
          <th scope="col" className="num">Failures</th>
          <th scope="col" className="num">Prompt tokens</th>
          <th scope="col" className="num">Completion tokens</th>
          <th scope="col" className="num">Cost</th>
          <th scope="col" className="num">Unpriced requests</th>
        </tr>
      </thead>
      <tbody>
        {props.groups.map((g) => (
          <TotalsRow key={g.key} label={g.key || "(none)"} t={g.totals} />
        ))}
      </tbody>
      <tfoot>
        <TotalsRow label={props.allLabel} t={props.totals} />
      </tfoot>
    </table>
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
