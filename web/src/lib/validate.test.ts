import { describe, expect, it } from "vitest";
import { checkEmail, checkIssuer, checkModelName, checkName, checkNumber, checkPositive, checkCondition, checkLimits, checkOverrideHeader, checkPricing, checkRouting, checkSticky, checkURL, emptyTarget, noPrices, parseHeaderLines, parseMetadata, parseStatuses, pricesOf, pricingOf, splitList } from "./validate";

describe("checkName", () => {
  it.each([
    ["alice", undefined],
    ["a.b_c-9", undefined],
    ["9lives", undefined],
    ["", "user.name is required"],
    ["Alice", "must be"],
    ["-a", "must be"],
    ["a".repeat(63), undefined],
    ["a".repeat(64), "must be"],
    ["has space", "must be"],
  ])("%j", (v, want) => {
    const got = checkName("user.name", v);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe("checkEmail", () => {
  it("accepts empty and addresses, refuses others", () => {
    expect(checkEmail("")).toBeUndefined();
    expect(checkEmail("a@b.example")).toBeUndefined();
    expect(checkEmail("nope")).toBeDefined();
    expect(checkEmail("a b@c")).toBeDefined();
  });
});

describe("checkNumber", () => {
  it.each([
    ["", undefined],
    ["0.7", undefined],
    ["2", undefined],
    ["2.1", "between"],
    ["-1", "between"],
    ["abc", "a number"],
  ])("%j", (v, want) => {
    const got = checkNumber("temperature", v, 0, 2);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe("splitList", () => {
  it("trims and drops empty entries", () => {
    expect(splitList(" a, b ,,c ,")).toEqual(["a", "b", "c"]);
    expect(splitList("")).toEqual([]);
  });
});

describe("checkPositive", () => {
  it.each([
    ["2", true, undefined],
    ["0.5", false, undefined],
    ["0.5", true, "whole number"],
    ["0", true, "positive"],
    ["-3", false, "positive"],
    ["x", false, "positive"],
    ["", false, "required"],
  ])("%j whole=%j", (v, whole, want) => {
    const got = checkPositive("limit", v, whole);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe("checkURL", () => {
  it.each([
    ["", undefined],
    ["http://127.0.0.1:9/v1", undefined],
    ["https://api.openai.com/v1", undefined],
    ["ftp://example.com", "must be an http or https URL"],
    ["not a url", "must be an http or https URL"],
  ])("%j", (v, want) => {
    const got = checkURL("base_url", v);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe("checkIssuer", () => {
  it.each([
    ["https://login.example.com", undefined],
    ["http://localhost:8080", undefined],
    ["http://127.0.0.1:5556/dex", undefined],
    ["http://login.example.com", "must be an https URL"],
    ["", "is required"],
  ])("%j", (v, want) => {
    const got = checkIssuer("issuer", v);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe("checkModelName", () => {
  it.each([
    ["gpt-4o", undefined],
    ["llama3.1:8b", undefined],
    ["", "is required"],
    ["a b", "no whitespace"],
    ["a/b", "no '/'"],
    ["a*", "no '*'"],
    ["a".repeat(129), "at most 128"],
  ])("%j", (v, want) => {
    const got = checkModelName("model.name", v);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe("checkPricing", () => {
  it("accepts no price at all", () => {
    expect(Object.values(checkPricing(noPrices)).filter(Boolean)).toEqual([]);
    expect(pricingOf(noPrices)).toBeUndefined();
  });
  it("requires input and output once any price is given", () => {
    const errs = checkPricing({ ...noPrices, cachedInput: "0.5" });
    expect(errs["model.pricing.input_per_mtok"]).toContain("is required");
    expect(errs["model.pricing.output_per_mtok"]).toContain("is required");
    expect(errs["model.pricing.cached_input_per_mtok"]).toBeUndefined();
  });
  it("refuses negatives and non-numbers at their fields", () => {
    const errs = checkPricing({ ...noPrices, input: "-1", output: "abc" });
    expect(errs["model.pricing.input_per_mtok"]).toContain("between 0 and");
    expect(errs["model.pricing.output_per_mtok"]).toContain("must be a number");
  });
  it("round-trips a price", () => {
    const p = { ...noPrices, input: "2.5", output: "10", cacheWrite1h: "6" };
    expect(Object.values(checkPricing(p)).filter(Boolean)).toEqual([]);
    const msg = pricingOf(p);
    expect(msg).toEqual({ inputPerMtok: 2.5, outputPerMtok: 10, cachedInputPerMtok: 0, cacheWritePerMtok: 0, cacheWrite1hPerMtok: 6 });
    expect(pricesOf(msg)).toEqual(p);
  });
});

describe("checkRouting", () => {
  const p = "virtual_model.routing_config";
  const t = (target: string, weight = "", priority = "") => ({ ...emptyTarget, target, weight, priority });
  it("accepts weights that sum to 100", () => {
    expect(checkRouting(p, "weight-based-routing", [t("a/x", "60"), t("b/y", "40")])).toEqual({});
  });
  it("refuses weights that do not sum to 100, at the targets list", () => {
    expect(checkRouting(p, "weight-based-routing", [t("a/x", "60"), t("b/y", "30")])[`${p}.load_balance_targets`]).toContain("sum to 90");
  });
  it("refuses a missing weight, a duplicate and a bad model at their rows", () => {
    const errs = checkRouting(p, "weight-based-routing", [t("a/x", "100"), t("a/x"), t("nomodel", "0")]);
    expect(errs[`${p}.load_balance_targets[1].target`]).toContain("duplicate target a/x");
    expect(errs[`${p}.load_balance_targets[1].weight`]).toContain("0 to 100");
    expect(errs[`${p}.load_balance_targets[2].target`]).toContain("choose a model");
  });
  it("refuses no targets, no type, and a weight outside weight-based-routing", () => {
    expect(checkRouting(p, "", [])[`${p}.type`]).toBeDefined();
    expect(checkRouting(p, "priority-based-routing", [])[`${p}.load_balance_targets`]).toContain("at least one");
    expect(checkRouting(p, "priority-based-routing", [t("a/x", "10", "1")])[`${p}.load_balance_targets[0].weight`]).toContain("only to weight");
    expect(checkRouting(p, "latency-based-routing", [t("a/x", "", "2")])[`${p}.load_balance_targets[0].priority`]).toContain("only to priority");
    expect(checkRouting(p, "priority-based-routing", [t("a/x", "", "1"), t("b/y", "", "0")])).toEqual({});
  });
});

describe("checkRouting, a target's options", () => {
  const p = "routing_rule.routing_config";
  const q = `${p}.load_balance_targets[0]`;
  const one = (o: Partial<typeof emptyTarget>, type = "priority-based-routing") => checkRouting(p, type, [{ ...emptyTarget, target: "a/x", ...o }]);
  it("accepts every option within the API's ranges", () => {
    expect(
      one({ attempts: "3", delay: "250", retryOn: "429, 503", fallbackOn: "500", fallbackCandidate: false, params: '{"temperature": 0.2, "max_tokens": 512, "stop": ["x"]}', headersSet: "X-Team: web\n\nX-Trace: 1", headersRemove: "x-debug", slaTpot: "50" }),
    ).toEqual({});
  });
  it("refuses retries, delays and status codes out of range, at their fields", () => {
    expect(one({ attempts: "0" })[`${q}.retry_config.attempts`]).toContain("from 1 to 10");
    expect(one({ attempts: "11" })[`${q}.retry_config.attempts`]).toContain("from 1 to 10");
    expect(one({ delay: "60001" })[`${q}.retry_config.delay`]).toContain("0 to 60000");
    expect(one({ retryOn: "429, 99" })[`${q}.retry_config.on_status_codes`]).toContain("99 is not an HTTP status code");
    expect(one({ fallbackOn: "abc" })[`${q}.fallback_status_codes`]).toContain("abc is not");
  });
  it("refuses override parameters that are not a JSON object, not overridable or out of range", () => {
    expect(one({ params: "[1]" })[`${q}.override_params`]).toContain("JSON object");
    expect(one({ params: "{" })[`${q}.override_params`]).toContain("JSON object");
    expect(one({ params: '{"model": "x"}' })[`${q}.override_params`]).toContain("model cannot be overridden");
    expect(one({ params: '{"temperature": 3}' })[`${q}.override_params`]).toContain("temperature must be a number from 0 to 2");
    expect(one({ params: '{"max_tokens": 0}' })[`${q}.override_params`]).toContain("at least 1");
  });
  it("refuses header overrides of credentials, signatures and framing, and bad lines", () => {
    expect(one({ headersSet: "Authorization: x" })[`${q}.headers_override.set`]).toContain("cannot be overridden");
    expect(one({ headersSet: "no colon" })[`${q}.headers_override.set`]).toContain("Name: value");
    expect(one({ headersRemove: "x-amz-date" })[`${q}.headers_override.remove`]).toContain("AWS");
    expect(one({ headersRemove: "bad name" })[`${q}.headers_override.remove`]).toContain("not a header name");
  });
  it("takes SLA cutoffs only under priority-based-routing", () => {
    expect(one({ slaTtft: "100" }, "latency-based-routing")[`${q}.sla_cutoff`]).toContain("only to priority");
    expect(one({ slaTpot: "0", slaTtft: "0" })[`${q}.sla_cutoff`]).toContain("expected time_per_output_token_ms or");
    expect(one({ slaTpot: "3600001" })[`${q}.sla_cutoff.time_per_output_token_ms`]).toContain("from 1 to 3600000");
  });
});

describe("checkSticky", () => {
  const p = "virtual_model.routing_config";
  const s = `${p}.sticky_routing`;
  const id = (source: string, key: string) => ({ source, key });
  it("checks nothing when off", () => {
    expect(checkSticky(p, "priority-based-routing", { on: false, ttl: "", ids: [] })).toEqual({});
  });
  it("accepts a TTL and distinct identifiers under weight-based-routing", () => {
    expect(checkSticky(p, "weight-based-routing", { on: true, ttl: "600", ids: [id("headers", "x-session-id"), id("metadata", "session")] })).toEqual({});
  });
  it("refuses it outside weight-based-routing", () => {
    expect(checkSticky(p, "priority-based-routing", { on: true, ttl: "600", ids: [id("headers", "x")] })[s]).toContain("only to weight-based-routing");
  });
  it("refuses a TTL out of range, no identifiers, a bad header and a duplicate", () => {
    expect(checkSticky(p, "weight-based-routing", { on: true, ttl: "0", ids: [id("headers", "x")] })[`${s}.ttl_seconds`]).toContain("1 to 604800");
    expect(checkSticky(p, "weight-based-routing", { on: true, ttl: "604801", ids: [id("headers", "x")] })[`${s}.ttl_seconds`]).toContain("1 to 604800");
    expect(checkSticky(p, "weight-based-routing", { on: true, ttl: "60", ids: [] })[`${s}.session_identifiers`]).toContain("at least one");
    expect(checkSticky(p, "weight-based-routing", { on: true, ttl: "60", ids: [id("headers", "x y")] })[`${s}.session_identifiers[0].key`]).toContain("not a header name");
    expect(checkSticky(p, "weight-based-routing", { on: true, ttl: "60", ids: [id("metadata", "")] })[`${s}.session_identifiers[0].key`]).toContain("required");
    expect(checkSticky(p, "weight-based-routing", { on: true, ttl: "60", ids: [id("headers", "X-S"), id("headers", "x-s")] })[`${s}.session_identifiers[1].key`]).toContain("duplicate");
    expect(checkSticky(p, "weight-based-routing", { on: true, ttl: "60", ids: [id("metadata", "K"), id("metadata", "k")] })).toEqual({});
  });
});

describe("checkCondition", () => {
  const p = "routing_rule.when";
  it("accepts the subject kinds and key=value metadata", () => {
    expect(checkCondition(p, "user:alice, team:eng, virtualaccount:web, virtual-account:x, *", "env=prod, tier=gold")).toEqual({});
  });
  it("refuses an unknown kind or a name with a space, and metadata without =", () => {
    expect(checkCondition(p, "group:x", "")[`${p}.subjects`]).toContain('"group:x"');
    expect(checkCondition(p, "user:", "")[`${p}.subjects`]).toContain("subjects[0]");
    expect(checkCondition(p, "", "env")[`${p}.metadata`]).toContain('"env" is not key=value');
    expect(checkCondition(p, "", `k=${"v".repeat(129)}`)[`${p}.metadata`]).toContain("at most 128");
  });
});

describe("parsers", () => {
  it("reads status codes, header lines and metadata", () => {
    expect(parseStatuses("429, 503")).toEqual({ codes: [429, 503] });
    expect(parseStatuses("600").bad).toBe("600");
    expect(parseHeaderLines("X-A: 1\nX-B:  two words ")).toEqual({ set: { "X-A": "1", "X-B": "two words" } });
    expect(parseMetadata("a=1, b = 2")).toEqual({ metadata: { a: "1", b: "2" } });
    expect(parseMetadata("=1").bad).toBe("=1");
  });
  it("knows the headers an override may not touch", () => {
    expect(checkOverrideHeader("X-Team")).toBeUndefined();
    expect(checkOverrideHeader("content-length")).toContain("cannot be overridden");
  });
});

describe("checkLimits", () => {
  it("accepts several limits of distinct units", () => {
    expect(checkLimits([{ unit: "requests_per_minute", limit: "2" }, { unit: "tokens_per_day", limit: "1000" }])).toEqual({
      "rate_limit.limits[0].limit_to": undefined,
      "rate_limit.limits[1].limit_to": undefined,
    });
  });
  it("refuses no limit, a unit twice and a limit that is not a positive whole number, at their rows", () => {
    expect(checkLimits([])["rate_limit.limits"]).toContain("at least one");
    const errs = checkLimits([{ unit: "requests_per_minute", limit: "2" }, { unit: "requests_per_minute", limit: "1.5" }, { unit: "tokens_per_day", limit: "0" }]);
    expect(errs["rate_limit.limits[1].unit"]).toContain("given twice");
    expect(errs["rate_limit.limits[1].limit_to"]).toContain("whole number");
    expect(errs["rate_limit.limits[2].limit_to"]).toContain("must be positive");
  });
});
