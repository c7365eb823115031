import { describe, expect, it } from "vitest";
import { checkEmail, checkIssuer, checkModelName, checkName, checkNumber, checkPositive, checkPricing, checkRouting, checkURL, noPrices, pricesOf, pricingOf, splitList } from "./validate";

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
  const t = (target: string, weight = "", priority = "") => ({ target, weight, priority });
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
