import { describe, expect, it } from "vitest";
import { errorLine, lineRange } from "./config";

describe("errorLine", () => {
  it("reads the line a refusal names", () => {
    expect(errorLine("line 27: document 4: rate_limits[0].limits[0].limit_to: expected a positive whole number")).toBe(27);
    expect(errorLine("plan_hash: the plan is not the one reviewed")).toBeUndefined();
    expect(errorLine("document 1: line 3: expected a mapping")).toBeUndefined();
  });
});

describe("lineRange", () => {
  const text = "a: 1\nbb: 2\n\nccc: 3";
  it("gives each line's offsets, without its newline", () => {
    expect(lineRange(text, 1)).toEqual([0, 4]);
    expect(lineRange(text, 2)).toEqual([5, 10]);
    expect(lineRange(text, 3)).toEqual([11, 11]);
    expect(lineRange(text, 4)).toEqual([12, 18]);
    expect(text.slice(...lineRange(text, 4)!)).toBe("ccc: 3");
  });
  it("is undefined past the end or before the start", () => {
    expect(lineRange(text, 5)).toBeUndefined();
    expect(lineRange(text, 0)).toBeUndefined();
  });
});
