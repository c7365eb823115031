import { describe, expect, it } from "vitest";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { isRangeKey, rangeFilter, usd } from "./usage";

describe("rangeFilter", () => {
  it("ends at the next minute and spans the range", () => {
    const f = rangeFilter("1h", new Date("2026-12-06T10:15:30.500Z"));
    expect(timestampDate(f.endTime!).toISOString()).toBe("2026-12-06T10:16:00.000Z");
    expect(timestampDate(f.startTime!).toISOString()).toBe("2026-12-06T09:16:00.000Z");
  });
  it("includes a request made on a whole minute", () => {
    const f = rangeFilter("24h", new Date("2026-12-06T10:16:00.000Z"));
    expect(timestampDate(f.endTime!).toISOString()).toBe("2026-12-06T10:17:00.000Z");
  });
});

describe("isRangeKey", () => {
  it("knows the ranges only", () => {
    expect(isRangeKey("7d")).toBe(true);
    expect(isRangeKey("toString")).toBe(false);
  });
});

describe("usd", () => {
  it("shows every digit the API returned", () => {
    expect(usd(0.000123456789)).toBe("$0.000123456789");
    expect(usd(0)).toBe("$0");
    expect(usd(12.5)).toBe("$12.5");
  });
});
