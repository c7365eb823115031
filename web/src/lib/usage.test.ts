import { describe, expect, it } from "vitest";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Granularity } from "@gen/llmgw/usage/v1/usage_service_pb";
import { bodyText, buckets, customFilter, durationMs, isMetricKey, isRangeKey, metricText, metrics, ms, parseUTC, rangeFilter, toUTCInput, usd } from "./usage";

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

describe("buckets", () => {
  it("aligns hours to UTC and places points", () => {
    const b = buckets(new Date("2026-12-05T10:16:00Z"), new Date("2026-12-06T10:16:00Z"), Granularity.HOUR);
    expect(b.count).toBe(25);
    expect(b.index(new Date("2026-12-05T10:00:00Z"))).toBe(0);
    expect(b.index(new Date("2026-12-06T10:00:00Z"))).toBe(24);
  });
  it("counts minutes and days", () => {
    expect(buckets(new Date("2026-12-06T09:16:00Z"), new Date("2026-12-06T10:16:00Z"), Granularity.MINUTE).count).toBe(60);
    const d = buckets(new Date("2026-11-06T10:16:00Z"), new Date("2026-12-06T10:16:00Z"), Granularity.DAY);
    expect(d.count).toBe(31);
    expect(d.index(new Date("2026-12-06T00:00:00Z"))).toBe(30);
  });
});

describe("ms", () => {
  it("rounds microseconds to tenths of a millisecond", () => {
    expect(ms(0n)).toBe("0.0 ms");
    expect(ms(12_345n)).toBe("12.3 ms");
    expect(ms(12_350n)).toBe("12.4 ms");
    expect(ms(2_000_000n)).toBe("2000.0 ms");
  });
});

describe("bodyText", () => {
  it("shows text, marks truncation, and refuses binary", () => {
    expect(bodyText(new Uint8Array(), false)).toBe("not logged");
    expect(bodyText(new TextEncoder().encode('{"a":"é"}'), false)).toBe('{"a":"é"}');
    expect(bodyText(new TextEncoder().encode("abc"), true)).toBe("abc\n… (truncated)");
    expect(bodyText(new Uint8Array([0xff, 0xfe]), false)).toBe("2 bytes, not UTF-8");
  });
});

describe("durationMs", () => {
  it("shows every digit of the duration", () => {
    expect(durationMs({ seconds: 0n, nanos: 1_234_567 })).toBe("1.234567 ms");
    expect(durationMs({ seconds: 2n, nanos: 500_000_000 })).toBe("2500 ms");
    expect(durationMs({ seconds: 0n, nanos: 1 })).toBe("0.000001 ms");
    expect(durationMs({ seconds: 0n, nanos: 0 })).toBe("0 ms");
    expect(durationMs(undefined)).toBe("—");
  });
});

describe("parseUTC and toUTCInput", () => {
  it("read and write datetime-local values as UTC", () => {
    expect(parseUTC("2026-12-06T10:15")?.toISOString()).toBe("2026-12-06T10:15:00.000Z");
    expect(parseUTC("2026-12-06")).toBeUndefined();
    expect(parseUTC("2026-13-40T99:99")).toBeUndefined();
    expect(toUTCInput(new Date("2026-12-06T10:15:30Z"))).toBe("2026-12-06T10:15");
  });
});

describe("metrics", () => {
  it("read a point's totals and show them as the API gave them", () => {
    expect(metricText(metrics.requests.of(undefined))).toBe("0");
    expect(metricText(12345678901234567n)).toBe("12345678901234567");
    expect(metricText(metrics.cost.of(undefined))).toBe("$0");
    expect(isMetricKey("cost")).toBe(true);
    expect(isMetricKey("constructor")).toBe(false);
  });
});

describe("customFilter", () => {
  it("spans exactly the chosen times", () => {
    const f = customFilter(new Date("2026-12-01T00:00:00Z"), new Date("2026-12-02T00:00:00Z"));
    expect(timestampDate(f.startTime!).toISOString()).toBe("2026-12-01T00:00:00.000Z");
    expect(timestampDate(f.endTime!).toISOString()).toBe("2026-12-02T00:00:00.000Z");
  });
});
