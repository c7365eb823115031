import { describe, expect, it } from "vitest";
import { checkEmail, checkIssuer, checkModelName, checkName, checkNumber, checkPositive, checkURL, splitList } from "./validate";

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
