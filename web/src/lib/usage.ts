// Time ranges and number formatting of the Usage dashboard. Numbers are shown as the Usage API
// returns them: integers in full, cost with every digit the double carries.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FilterSchema, Granularity, type Filter, type Totals } from "@gen/llmgw/usage/v1/usage_service_pb";

export const ranges = {
  "1h": { label: "Last hour", ms: 3600_000, granularity: Granularity.MINUTE },
  "24h": { label: "Last 24 hours", ms: 24 * 3600_000, granularity: Granularity.HOUR },
  "7d": { label: "Last 7 days", ms: 7 * 24 * 3600_000, granularity: Granularity.HOUR },
  "30d": { label: "Last 30 days", ms: 30 * 24 * 3600_000, granularity: Granularity.DAY },
} as const;

export type RangeKey = keyof typeof ranges;

export function isRangeKey(v: string): v is RangeKey {
  return Object.hasOwn(ranges, v);
}

// rangeFilter is the filter of the range ending at now (exclusive), rounded up to the next
// minute so that a request made this minute is inside it.
export function rangeFilter(key: RangeKey, now: Date): Filter {
  const end = new Date(Math.ceil((now.getTime() + 1) / 60_000) * 60_000);
  const start = new Date(end.getTime() - ranges[key].ms);
  return create(FilterSchema, { startTime: timestampFromDate(start), endTime: timestampFromDate(end) });
}

// usd shows a cost in US dollars with the double's own shortest representation.
export function usd(v: number): string {
  return `$${String(v)}`;
}

const bucketWidth: Record<Granularity, number> = {
  [Granularity.UNSPECIFIED]: 3600_000,
  [Granularity.MINUTE]: 60_000,
  [Granularity.HOUR]: 3600_000,
  [Granularity.DAY]: 24 * 3600_000,
};

// buckets lays a range out in the Usage API's UTC-aligned buckets: how many there are (the
// first starts at or before start) and which one a point's start time falls in.
export function buckets(start: Date, end: Date, g: Granularity): { count: number; index: (t: Date) => number } {
  const w = bucketWidth[g];
  const first = Math.floor(start.getTime() / w) * w;
  return {
    count: Math.max(1, Math.ceil((end.getTime() - first) / w)),
    index: (t) => Math.floor((t.getTime() - first) / w),
  };
}

// ms shows a duration the Usage API gives in microseconds as milliseconds, to 0.1 ms.
export function ms(us: bigint): string {
  const tenths = (us + 50n) / 100n;
  return `${tenths / 10n}.${tenths % 10n} ms`;
}

// bodyText shows a logged body: UTF-8 text as is, anything else as its size.
export function bodyText(b: Uint8Array, truncated: boolean): string {
  if (b.length === 0) return "not logged";
  let s: string;
  try {
    s = new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    return `${b.length} bytes, not UTF-8`;
  }
  return truncated ? `${s}\n… (truncated)` : s;
}

// customFilter is the filter of the range [start, end), for the custom range of the dashboard.
export function customFilter(start: Date, end: Date): Filter {
  return create(FilterSchema, { startTime: timestampFromDate(start), endTime: timestampFromDate(end) });
}

// parseUTC reads a datetime-local input's value ("2026-12-06T10:15") as UTC, the zone the
// dashboard shows every time in; undefined when it is not one.
export function parseUTC(v: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(v)) return undefined;
  const d = new Date(`${v}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

// toUTCInput is the datetime-local value of t in UTC, to the minute.
export function toUTCInput(t: Date): string {
  return t.toISOString().slice(0, 16);
}

// durationMs shows a protobuf Duration in milliseconds with every digit it carries (the
// nanoseconds in full, trailing zeros dropped), so the page says exactly what the API said.
export function durationMs(d?: { seconds: bigint; nanos: number }): string {
  if (!d) return "—";
  const ns = d.seconds * 1_000_000_000n + BigInt(d.nanos);
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const whole = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole}${frac ? `.${frac}` : ""} ms`;
}

// Metrics of the time-series chart: what each point's totals say.
export const metrics = {
  requests: { label: "Requests", of: (t?: Totals) => t?.requests ?? 0n },
  failures: { label: "Failures", of: (t?: Totals) => t?.failures ?? 0n },
  promptTokens: { label: "Prompt tokens", of: (t?: Totals) => t?.promptTokens ?? 0n },
  completionTokens: { label: "Completion tokens", of: (t?: Totals) => t?.completionTokens ?? 0n },
  cost: { label: "Cost (USD)", of: (t?: Totals) => t?.costUsd ?? 0 },
} as const;

export type MetricKey = keyof typeof metrics;

export function isMetricKey(v: string): v is MetricKey {
  return Object.hasOwn(metrics, v);
}

// metricText shows a metric's value as the API gave it: integers in full, cost as usd does.
export function metricText(v: bigint | number): string {
  return typeof v === "bigint" ? String(v) : usd(v);
}
