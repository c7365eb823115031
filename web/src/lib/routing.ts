// Routing configs as the Routing page edits them: a stored target as a form's row and back
// (options at the API's defaults shown empty, an empty option sent unset), sticky routing,
// and the short texts the tables show.
import { create, type JsonObject } from "@bufbuild/protobuf";
import {
  HeadersOverrideSchema,
  RetryConfigSchema,
  RoutingTargetSchema,
  SlaCutoffSchema,
  StickyRoutingSchema,
  type Routing,
  type RoutingRule,
  type RoutingTarget,
} from "@gen/llmgw/admin/v1/admin_pb";
import { metadataText, parseHeaderLines, parseParams, parseStatuses, splitList, type StickyFields, type TargetRow } from "./validate";

// whenText is a rule's condition: its models, then its subjects and metadata when it has them.
export function whenText(r: RoutingRule): string {
  const w = r.when;
  const extra = [w?.subjects.length ? `for ${w.subjects.join(", ")}` : "", metadataText(w?.metadata) ? `metadata ${metadataText(w?.metadata)}` : ""].filter(Boolean);
  return [w?.models.join(", ") ?? "", ...extra].join("; ");
}

// targetsText is a routing config's targets, each with its weight or priority and the options
// it sets.
export function targetsText(r?: Routing): string {
  return (r?.loadBalanceTargets ?? [])
    .map((t) => {
      const base = t.target + (r?.type === "weight-based-routing" ? ` ${t.weight}%` : r?.type === "priority-based-routing" ? ` (priority ${t.priority})` : "");
      const o = optionsText(rowOf(t));
      return o ? `${base} [${o}]` : base;
    })
    .join(", ");
}

// optionsText is a short account of a target's options that differ from the defaults.
export function optionsText(r: TargetRow): string {
  const o: string[] = [];
  if (r.attempts) o.push(`${r.attempts} tries`);
  if (r.delay) o.push(`${r.delay} ms apart`);
  if (r.retryOn) o.push(`retry on ${r.retryOn}`);
  if (r.fallbackOn) o.push(`fall back on ${r.fallbackOn}`);
  if (!r.fallbackCandidate) o.push("no fallback to it");
  if (r.params) o.push(`params ${r.params}`);
  if (r.headersSet || r.headersRemove) o.push("headers");
  if (r.slaTpot || r.slaTtft) o.push("SLA");
  return o.join("; ");
}

export function stickyText(r?: Routing): string {
  const st = r?.stickyRouting;
  if (!st) return "";
  return `, sticky ${st.ttlSeconds} s by ${st.sessionIdentifiers.map((i) => `${i.source}.${i.key}`).join(" + ")}`;
}

const nonZero = (v?: number) => (v ? String(v) : "");

// unlessDefault is v, or "" when it is the API's default d (an empty field means the default).
const unlessDefault = (v: string, d: string) => (v === d ? "" : v);

// rowOf is a stored target as the form's row; options at the API's defaults (which it fills
// in) are shown empty, as they would be typed.
export function rowOf(t: RoutingTarget): TargetRow {
  const hs = t.headersOverride;
  const rc = t.retryConfig;
  return {
    target: t.target,
    weight: nonZero(t.weight),
    priority: nonZero(t.priority),
    attempts: rc?.attempts === undefined ? "" : unlessDefault(String(rc.attempts), "2"),
    delay: rc?.delay === undefined ? "" : unlessDefault(String(rc.delay), "100"),
    retryOn: unlessDefault((rc?.onStatusCodes ?? []).join(", "), "429, 500, 502, 503"),
    fallbackOn: unlessDefault(t.fallbackStatusCodes.join(", "), "401, 403, 404, 429, 500, 502, 503"),
    fallbackCandidate: t.fallbackCandidate ?? true,
    params: t.overrideParams && Object.keys(t.overrideParams).length ? JSON.stringify(t.overrideParams) : "",
    headersSet: Object.entries(hs?.set ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join("\n"),
    headersRemove: (hs?.remove ?? []).join(", "),
    slaTpot: nonZero(t.slaCutoff?.timePerOutputTokenMs),
    slaTtft: nonZero(t.slaCutoff?.timeToFirstTokenMs),
  };
}

export function rowsOf(r?: Routing): TargetRow[] {
  return (r?.loadBalanceTargets ?? []).map(rowOf);
}

// targetOf is a checked row as the API's target; an empty option is left unset (the default).
export function targetOf(r: TargetRow): RoutingTarget {
  const n = (v: string) => (v.trim() === "" ? undefined : Number(v));
  const t = create(RoutingTargetSchema, { target: r.target, weight: Number(r.weight || 0), priority: Number(r.priority || 0) });
  const retryOn = parseStatuses(r.retryOn).codes;
  if (r.attempts.trim() || r.delay.trim() || retryOn.length) t.retryConfig = create(RetryConfigSchema, { attempts: n(r.attempts), delay: n(r.delay), onStatusCodes: retryOn });
  t.fallbackStatusCodes = parseStatuses(r.fallbackOn).codes;
  if (!r.fallbackCandidate) t.fallbackCandidate = false;
  const params = parseParams(r.params).params;
  if (params) t.overrideParams = params as JsonObject;
  const set = parseHeaderLines(r.headersSet).set;
  const remove = splitList(r.headersRemove);
  if (Object.keys(set).length || remove.length) t.headersOverride = create(HeadersOverrideSchema, { set, remove });
  if (r.slaTpot.trim() || r.slaTtft.trim()) t.slaCutoff = create(SlaCutoffSchema, { timePerOutputTokenMs: Number(r.slaTpot || 0), timeToFirstTokenMs: Number(r.slaTtft || 0) });
  return t;
}

// routingOf is the routing config of checked rows and, for a virtual model, its sticky routing
// when it is on (checkSticky refuses it under a type other than weight-based-routing).
export function routingOf(type: string, rows: TargetRow[], sticky?: StickyFields) {
  return {
    type,
    stickyRouting:
      sticky?.on
        ? create(StickyRoutingSchema, { ttlSeconds: Number(sticky.ttl), sessionIdentifiers: sticky.ids.map((i) => ({ source: i.source, key: i.key.trim() })) })
        : undefined,
    loadBalanceTargets: rows.map(targetOf),
  };
}

// stickyOf is a routing config's sticky routing as the form's fields; off (with a TTL of an
// hour ready) when it has none.
export function stickyOf(r?: Routing): StickyFields {
  const st = r?.stickyRouting;
  if (!st) return { on: false, ttl: "3600", ids: [] };
  return { on: true, ttl: String(st.ttlSeconds), ids: st.sessionIdentifiers.map((i) => ({ source: i.source, key: i.key })) };
}

