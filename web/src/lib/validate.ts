// Client-side checks that mirror the Admin API's, so a form says what is wrong before it sends.
// The server checks again; its word is final (see errors.ts).

// nameRE is the Admin API's resource name rule (store.validateName).
const nameRE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function checkName(field: string, v: string): string | undefined {
  if (v === "") return `${field} is required`;
  if (!nameRE.test(v)) return `${field} must be 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`;
  return undefined;
}

export function checkEmail(v: string): string | undefined {
  if (v === "") return undefined;
  return /^[^\s@]+@[^\s@]+$/.test(v) ? undefined : "email must look like name@example.com";
}

// splitList turns "a, b ,,c" into ["a", "b", "c"].
export function splitList(v: string): string[] {
  return v.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

// checkNumber checks an optional number field within [min, max].
export function checkNumber(field: string, v: string, min: number, max: number): string | undefined {
  if (v.trim() === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) return `${field} must be a number`;
  if (n < min || n > max) return `${field} must be between ${min} and ${max}`;
  return undefined;
}

// checkPositive checks a required positive number; whole says it must be an integer.
export function checkPositive(field: string, v: string, whole: boolean): string | undefined {
  if (v.trim() === "") return `${field} is required`;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) return `${field} must be positive`;
  if (whole && !Number.isInteger(n)) return `${field} must be a whole number`;
  return undefined;
}

// checkURL accepts "" (the default) or an http(s) URL.
export function checkURL(field: string, v: string): string | undefined {
  if (v === "") return undefined;
  try {
    const u = new URL(v);
    if (u.protocol === "http:" || u.protocol === "https:") return undefined;
  } catch {
    // not a URL
  }
  return `${field} must be an http or https URL`;
}

// checkIssuer is the identity provider issuer rule: an https URL, http only to localhost.
export function checkIssuer(field: string, v: string): string | undefined {
  if (v === "") return `${field} is required`;
  try {
    const u = new URL(v);
    const local = u.hostname === "localhost" || u.hostname === "127.0.0.1" || u.hostname === "[::1]";
    if (u.protocol === "https:" || (u.protocol === "http:" && local)) return undefined;
  } catch {
    // not a URL
  }
  return `${field} must be an https URL (http only to localhost)`;
}

// checkModelName is the Admin API's model name rule (store.validateModelName).
export function checkModelName(field: string, v: string): string | undefined {
  if (v === "") return `${field} is required`;
  if (v.length > 128 || /[/*\s]/.test(v)) return `${field} must be at most 128 characters with no '/', no '*' and no whitespace`;
  return undefined;
}

// PriceFields are a pricing override's inputs, US dollars per million tokens, as typed.
export interface PriceFields {
  input: string;
  output: string;
  cachedInput: string;
  cacheWrite: string;
  cacheWrite1h: string;
}

export const noPrices: PriceFields = { input: "", output: "", cachedInput: "", cacheWrite: "", cacheWrite1h: "" };

// checkPricing checks a pricing override: all empty means none (the catalog's price); else
// the input and output prices are required, and every price given is a number from 0 to
// 100000 (the API refuses negatives). The errors are keyed by the field they are about
// ("model.pricing.input_per_mtok", ...).
export function checkPricing(p: PriceFields): Record<string, string | undefined> {
  const set = Object.values(p).some((v) => v.trim() !== "");
  const f = (name: string, v: string, required: boolean) => {
    const field = `model.pricing.${name}`;
    if (required && set && v.trim() === "") return `${field} is required when the model has a price`;
    return checkNumber(field, v, 0, 100000);
  };
  return {
    "model.pricing.input_per_mtok": f("input_per_mtok", p.input, true),
    "model.pricing.output_per_mtok": f("output_per_mtok", p.output, true),
    "model.pricing.cached_input_per_mtok": f("cached_input_per_mtok", p.cachedInput, false),
    "model.pricing.cache_write_per_mtok": f("cache_write_per_mtok", p.cacheWrite, false),
    "model.pricing.cache_write_1h_per_mtok": f("cache_write_1h_per_mtok", p.cacheWrite1h, false),
  };
}

// pricingOf is the Pricing message of checked fields: undefined when all are empty.
export function pricingOf(p: PriceFields) {
  if (!Object.values(p).some((v) => v.trim() !== "")) return undefined;
  const n = (v: string) => (v.trim() === "" ? 0 : Number(v));
  return { inputPerMtok: n(p.input), outputPerMtok: n(p.output), cachedInputPerMtok: n(p.cachedInput), cacheWritePerMtok: n(p.cacheWrite), cacheWrite1hPerMtok: n(p.cacheWrite1h) };
}

// pricesOf is the fields of a stored pricing override (empty for none; 0 of an optional price,
// which means "the input price applies", shown empty).
export function pricesOf(p?: { inputPerMtok: number; outputPerMtok: number; cachedInputPerMtok: number; cacheWritePerMtok: number; cacheWrite1hPerMtok: number }): PriceFields {
  if (!p) return noPrices;
  const o = (v: number) => (v === 0 ? "" : String(v));
  return { input: String(p.inputPerMtok), output: String(p.outputPerMtok), cachedInput: o(p.cachedInputPerMtok), cacheWrite: o(p.cacheWritePerMtok), cacheWrite1h: o(p.cacheWrite1hPerMtok) };
}

// TargetRow is one routing target as typed in a targets table: the model, its weight or
// priority, and its options (empty: the API's default). Lists of status codes and header
// names are comma-separated; headersSet holds one "Name: value" a line; params a JSON object.
export interface TargetRow {
  target: string;
  weight: string;
  priority: string;
  attempts: string;
  delay: string;
  retryOn: string;
  fallbackOn: string;
  fallbackCandidate: boolean;
  params: string;
  headersSet: string;
  headersRemove: string;
  slaTpot: string;
  slaTtft: string;
}

// emptyTarget is a new row: every option at the API's default.
export const emptyTarget: TargetRow = {
  target: "",
  weight: "",
  priority: "",
  attempts: "",
  delay: "",
  retryOn: "",
  fallbackOn: "",
  fallbackCandidate: true,
  params: "",
  headersSet: "",
  headersRemove: "",
  slaTpot: "",
  slaTtft: "",
};

export const routingTypes = ["weight-based-routing", "priority-based-routing", "latency-based-routing"] as const;

// Limits of snapshot/check.go.
const maxRetryAttempts = 10;
const maxRetryDelayMs = 60000;
const maxSLACutoffMs = 3600000;
const maxPriority = 1 << 20;

// overridableParams are the request parameters a target may override (chat.OverridableParams).
export const overridableParams = ["temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty", "seed", "stop"];

// protectedHeaders are the headers an override may not set or remove (provider.CheckOverrideHeader):
// the credentials, their signatures (X-Amz-*) and what frames the request.
const protectedHeaders = [
  "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "anthropic-version", "host", "content-type",
  "content-length", "content-encoding", "transfer-encoding", "connection", "te", "upgrade", "cookie",
];

// headerNameRE is an HTTP header name (an RFC 9110 token).
const headerNameRE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

// checkOverrideHeader is provider.CheckOverrideHeader: a header name an override may touch.
export function checkOverrideHeader(name: string): string | undefined {
  if (!headerNameRE.test(name)) return `"${name}" is not a header name`;
  const l = name.toLowerCase();
  if (protectedHeaders.includes(l)) return `${name} is set by the gateway for the provider and cannot be overridden`;
  if (l.startsWith("x-amz-")) return `${name} is part of AWS's request signature and cannot be overridden`;
  return undefined;
}

// parseStatuses reads a comma-separated list of HTTP status codes; bad is the first entry that
// is not one (100 to 599).
export function parseStatuses(v: string): { codes: number[]; bad?: string } {
  const codes: number[] = [];
  for (const s of splitList(v)) {
    if (!/^\d+$/.test(s) || Number(s) < 100 || Number(s) > 599) return { codes, bad: s };
    codes.push(Number(s));
  }
  return { codes };
}

// parseHeaderLines reads "Name: value" lines (blank lines skipped); bad is the first line
// without a colon.
export function parseHeaderLines(v: string): { set: Record<string, string>; bad?: string } {
  const set: Record<string, string> = {};
  for (const line of v.split("\n")) {
    if (line.trim() === "") continue;
    const i = line.indexOf(":");
    if (i < 0) return { set, bad: line.trim() };
    set[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return { set };
}

// parseParams reads the override parameters, a JSON object; undefined when v is empty, an
// error message when it is not an object.
export function parseParams(v: string): { params?: Record<string, unknown>; bad?: string } {
  if (v.trim() === "") return {};
  try {
    const p: unknown = JSON.parse(v);
    if (typeof p === "object" && p !== null && !Array.isArray(p)) return { params: p as Record<string, unknown> };
  } catch {
    // not JSON
  }
  return { bad: 'expected a JSON object, such as {"temperature": 0.2}' };
}

// checkParam mirrors chat.CheckParam's types and ranges for the overridable parameters.
function checkParam(name: string, v: unknown): string | undefined {
  if (!overridableParams.includes(name)) return `${name} cannot be overridden; these can: ${overridableParams.join(", ")}`;
  const num = typeof v === "number";
  const range = (lo: number, hi: number) => (num && (v as number) >= lo && (v as number) <= hi ? undefined : `${name} must be a number from ${lo} to ${hi}`);
  switch (name) {
    case "temperature":
      return range(0, 2);
    case "top_p":
      return range(0, 1);
    case "presence_penalty":
    case "frequency_penalty":
      return range(-2, 2);
    case "max_tokens":
    case "max_completion_tokens":
      return num && Number.isInteger(v) && (v as number) >= 1 ? undefined : `${name} must be a whole number of at least 1`;
    case "seed":
      return num && Number.isInteger(v) ? undefined : `${name} must be a whole number`;
    case "stop":
      return typeof v === "string" || (Array.isArray(v) && v.every((s) => typeof s === "string")) ? undefined : `${name} must be a string or a list of strings`;
  }
  return undefined;
}

// checkRouting mirrors the API's routing check (snapshot.CheckRouting) for the fields a form
// edits: at least one target and at most 50, each a model name "<account>/<model>" at most
// once; weights whole numbers from 0 to 100, only for weight-based-routing, where they sum to
// 100; priorities whole numbers from 0 to 1048576 and SLA cutoffs, only for
// priority-based-routing; retry attempts from 1 to 10 and delay from 0 to 60000 ms; status
// codes from 100 to 599; override parameters the overridable ones, in range; header overrides
// that name no credential or framing header. param is the routing config's path
// ("virtual_model.routing_config"); errors are keyed by the path of the field they are about,
// as the API names it.
export function checkRouting(param: string, type: string, rows: TargetRow[]): Record<string, string | undefined> {
  const errs: Record<string, string | undefined> = {};
  const list = `${param}.load_balance_targets`;
  if (!(routingTypes as readonly string[]).includes(type)) errs[`${param}.type`] = `${param}.type: choose the routing type`;
  if (rows.length === 0) errs[list] = `${list}: add at least one target`;
  if (rows.length > 50) errs[list] = `${list}: at most 50 targets`;
  let sum = 0;
  const whole = (v: string, min: number, max: number) => v.trim() === "" || (/^\d+$/.test(v.trim()) && Number(v) >= min && Number(v) <= max);
  rows.forEach((r, i) => {
    const p = `${list}[${i}]`;
    const set = (f: string, msg: string) => (errs[`${p}.${f}`] = `${p}.${f}: ${msg}`);
    const [acct, name] = [r.target.slice(0, r.target.indexOf("/")), r.target.slice(r.target.indexOf("/") + 1)];
    if (!r.target.includes("/") || !acct || !name) set("target", "choose a model");
    else if (rows.slice(0, i).some((o) => o.target === r.target)) set("target", `duplicate target ${r.target}`);
    if (type === "weight-based-routing") {
      if (r.weight.trim() === "" || !whole(r.weight, 0, 100)) set("weight", "a whole number from 0 to 100");
      else sum += Number(r.weight);
    } else if (r.weight.trim() !== "" && r.weight.trim() !== "0") set("weight", "weight applies only to weight-based-routing");
    if (!whole(r.priority, 0, maxPriority)) set("priority", `a whole number from 0 to ${maxPriority}`);
    else if (type !== "priority-based-routing" && r.priority.trim() !== "" && r.priority.trim() !== "0") set("priority", "priority applies only to priority-based-routing");
    if (r.slaTpot.trim() !== "" || r.slaTtft.trim() !== "") {
      if (type !== "priority-based-routing") set("sla_cutoff", "sla_cutoff applies only to priority-based-routing");
      else if (!whole(r.slaTpot, 0, maxSLACutoffMs)) set("sla_cutoff.time_per_output_token_ms", `expected milliseconds from 1 to ${maxSLACutoffMs}`);
      else if (!whole(r.slaTtft, 0, maxSLACutoffMs)) set("sla_cutoff.time_to_first_token_ms", `expected milliseconds from 1 to ${maxSLACutoffMs}`);
      else if (!Number(r.slaTpot) && !Number(r.slaTtft)) set("sla_cutoff", "expected time_per_output_token_ms or time_to_first_token_ms");
    }
    if (!whole(r.attempts, 1, maxRetryAttempts)) set("retry_config.attempts", `expected an integer from 1 to ${maxRetryAttempts}`);
    if (!whole(r.delay, 0, maxRetryDelayMs)) set("retry_config.delay", `expected milliseconds from 0 to ${maxRetryDelayMs}`);
    const retryOn = parseStatuses(r.retryOn);
    if (retryOn.bad !== undefined) set("retry_config.on_status_codes", `${retryOn.bad} is not an HTTP status code`);
    const fallbackOn = parseStatuses(r.fallbackOn);
    if (fallbackOn.bad !== undefined) set("fallback_status_codes", `${fallbackOn.bad} is not an HTTP status code`);
    const params = parseParams(r.params);
    if (params.bad) set("override_params", params.bad);
    else
      for (const [k, v] of Object.entries(params.params ?? {})) {
        const e = checkParam(k, v);
        if (e) {
          set("override_params", e);
          break;
        }
      }
    const hs = parseHeaderLines(r.headersSet);
    if (hs.bad !== undefined) set("headers_override.set", `"${hs.bad}" is not "Name: value"`);
    else
      for (const k of Object.keys(hs.set)) {
        const e = checkOverrideHeader(k);
        if (e) {
          set("headers_override.set", e);
          break;
        }
      }
    for (const k of splitList(r.headersRemove)) {
      const e = checkOverrideHeader(k);
      if (e) {
        set("headers_override.remove", e);
        break;
      }
    }
  });
  if (type === "weight-based-routing" && rows.length && !Object.keys(errs).some((k) => k.endsWith(".weight")) && sum !== 100)
    errs[list] = `${list}: weights sum to ${sum}; they must sum to 100`;
  return errs;
}

// SessionRow is one session identifier of sticky routing as typed.
export interface SessionRow {
  source: string;
  key: string;
}

// StickyFields is a routing config's sticky routing as typed: on says it is set.
export interface StickyFields {
  on: boolean;
  ttl: string;
  ids: SessionRow[];
}

export const maxStickyTTL = 7 * 24 * 3600;

// checkSticky mirrors snapshot.CheckSticky: only for weight-based-routing; a TTL of whole
// seconds from 1 to a week; one to ten session identifiers, each from "headers" (a header
// name) or "metadata" (a key), none twice (header names compared case-insensitively).
export function checkSticky(param: string, type: string, st: StickyFields): Record<string, string | undefined> {
  const p = `${param}.sticky_routing`;
  if (!st.on) return {};
  if (type !== "weight-based-routing") return { [p]: `${p}: sticky_routing applies only to weight-based-routing` };
  const errs: Record<string, string | undefined> = {};
  const t = st.ttl.trim();
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > maxStickyTTL) errs[`${p}.ttl_seconds`] = `${p}.ttl_seconds: expected an integer from 1 to ${maxStickyTTL}`;
  if (st.ids.length === 0) errs[`${p}.session_identifiers`] = `${p}.session_identifiers: add at least one session identifier`;
  if (st.ids.length > 10) errs[`${p}.session_identifiers`] = `${p}.session_identifiers: at most 10`;
  const same = (a: SessionRow, b: SessionRow) => a.source === b.source && (a.source === "headers" ? a.key.toLowerCase() === b.key.toLowerCase() : a.key === b.key);
  st.ids.forEach((id, i) => {
    const f = `${p}.session_identifiers[${i}]`;
    if (id.source !== "headers" && id.source !== "metadata") errs[`${f}.source`] = `${f}.source: choose headers or metadata`;
    else if (id.source === "headers" && !headerNameRE.test(id.key)) errs[`${f}.key`] = `${f}.key: "${id.key}" is not a header name`;
    else if (id.key === "") errs[`${f}.key`] = `${f}.key is required`;
    else if (st.ids.slice(0, i).some((o) => same(o, id))) errs[`${f}.key`] = `${f}: duplicate session identifier`;
  });
  return errs;
}

// subjectRE is governance.NormalizeSubject's rule: "*", or a kind and a name without spaces.
const subjectRE = /^(\*|(user|team|virtualaccount|virtual-account):[^\s\p{Cc}]+)$/u;

// checkCondition mirrors the API's check of a condition's subjects and metadata (store
// validateCondition): each subject "user:<name>", "team:<name>", "virtualaccount:<name>" or
// "*"; metadata "key=value" pairs, keys 1 to 128 characters and values at most 128.
export function checkCondition(param: string, subjects: string, metadata: string): Record<string, string | undefined> {
  const errs: Record<string, string | undefined> = {};
  splitList(subjects).forEach((s, i) => {
    if (!errs[`${param}.subjects`] && !subjectRE.test(s))
      errs[`${param}.subjects`] = `${param}.subjects[${i}]: subject "${s}" must be "user:<name>", "team:<name>", "virtualaccount:<name>" or "*"`;
  });
  const md = parseMetadata(metadata);
  if (md.bad !== undefined) errs[`${param}.metadata`] = `${param}.metadata: "${md.bad}" is not key=value`;
  else
    for (const [k, v] of Object.entries(md.metadata))
      if ([...k].length > 128 || [...v].length > 128) errs[`${param}.metadata`] = `${param}.metadata keys and values must have at most 128 characters; "${k}" can never match`;
  return errs;
}

// parseMetadata reads "k=v, k2=v2"; bad is the first pair without "=" or with an empty key.
export function parseMetadata(v: string): { metadata: Record<string, string>; bad?: string } {
  const metadata: Record<string, string> = {};
  for (const pair of splitList(v)) {
    const i = pair.indexOf("=");
    if (i <= 0) return { metadata, bad: pair };
    metadata[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return { metadata };
}

// metadataText is metadata as the form shows it, "k=v, k2=v2".
export function metadataText(m: Record<string, string> | undefined): string {
  return Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

// LimitRow is one limit of a rate limit as typed: its unit and the most it admits.
export interface LimitRow {
  unit: string;
  limit: string;
}

// checkLimits mirrors the API's check of a rate limit's limits: at least one, each unit at most
// once, each limit a positive whole number. Errors are keyed by the API's paths
// ("rate_limit.limits[1].limit_to").
export function checkLimits(rows: LimitRow[]): Record<string, string | undefined> {
  const errs: Record<string, string | undefined> = {};
  if (rows.length === 0) errs["rate_limit.limits"] = "rate_limit.limits: add at least one limit";
  rows.forEach((r, i) => {
    const p = `rate_limit.limits[${i}]`;
    if (rows.slice(0, i).some((o) => o.unit === r.unit)) errs[`${p}.unit`] = `${p}.unit ${r.unit} is given twice; a rule names each unit at most once`;
    errs[`${p}.limit_to`] = checkPositive(`${p}.limit_to`, r.limit, true);
  });
  return errs;
}
