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

// TargetRow is one routing target as typed in a targets table.
export interface TargetRow {
  target: string;
  weight: string;
  priority: string;
}

export const routingTypes = ["weight-based-routing", "priority-based-routing", "latency-based-routing"] as const;

// checkRouting mirrors the API's routing check (snapshot.CheckRouting) for the fields a form
// edits: at least one target and at most 50, each a model name "<account>/<model>" at most
// once; weights whole numbers from 0 to 100, only for weight-based-routing, where they sum to
// 100; priorities whole numbers from 0 to 1048576, only for priority-based-routing. param is
// the routing config's path ("virtual_model.routing_config"); errors are keyed by the path of
// the field they are about, as the API names it.
export function checkRouting(param: string, type: string, rows: TargetRow[]): Record<string, string | undefined> {
  const errs: Record<string, string | undefined> = {};
  const list = `${param}.load_balance_targets`;
  if (!(routingTypes as readonly string[]).includes(type)) errs[`${param}.type`] = `${param}.type: choose the routing type`;
  if (rows.length === 0) errs[list] = `${list}: add at least one target`;
  if (rows.length > 50) errs[list] = `${list}: at most 50 targets`;
  let sum = 0;
  rows.forEach((r, i) => {
    const p = `${list}[${i}]`;
    const [acct, name] = [r.target.slice(0, r.target.indexOf("/")), r.target.slice(r.target.indexOf("/") + 1)];
    if (!r.target.includes("/") || !acct || !name) errs[`${p}.target`] = `${p}.target: choose a model`;
    else if (rows.slice(0, i).some((o) => o.target === r.target)) errs[`${p}.target`] = `${p}.target: duplicate target ${r.target}`;
    const whole = (v: string, max: number) => v.trim() === "" || (/^\d+$/.test(v.trim()) && Number(v) <= max);
    if (type === "weight-based-routing") {
      if (r.weight.trim() === "" || !whole(r.weight, 100)) errs[`${p}.weight`] = `${p}.weight: a whole number from 0 to 100`;
      else sum += Number(r.weight);
    } else if (r.weight.trim() !== "" && r.weight.trim() !== "0") errs[`${p}.weight`] = `${p}.weight: weight applies only to weight-based-routing`;
    if (!whole(r.priority, 1 << 20)) errs[`${p}.priority`] = `${p}.priority: a whole number from 0 to ${1 << 20}`;
    else if (type !== "priority-based-routing" && r.priority.trim() !== "" && r.priority.trim() !== "0")
      errs[`${p}.priority`] = `${p}.priority: priority applies only to priority-based-routing`;
  });
  if (type === "weight-based-routing" && rows.length && !Object.keys(errs).some((k) => k.endsWith(".weight")) && sum !== 100)
    errs[list] = `${list}: weights sum to ${sum}; they must sum to 100`;
  return errs;
}
