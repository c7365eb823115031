import { describe, expect, it } from "vitest";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { RoutingRuleSchema, RoutingSchema, RoutingTargetSchema } from "@gen/llmgw/admin/v1/admin_pb";
import { optionsText, routingOf, rowOf, stickyOf, stickyText, targetOf, targetsText, whenText } from "./routing";
import { emptyTarget } from "./validate";

// stored is a target as the API returns one it was sent with no options: the defaults filled in.
const stored = (o: Record<string, unknown> = {}) =>
  create(RoutingTargetSchema, {
    target: "a/x",
    weight: 100,
    retryConfig: { attempts: 2, delay: 100, onStatusCodes: [429, 500, 502, 503] },
    fallbackStatusCodes: [401, 403, 404, 429, 500, 502, 503],
    fallbackCandidate: true,
    ...o,
  } as MessageInitShape<typeof RoutingTargetSchema>);

describe("rowOf", () => {
  it("shows the API's defaults empty, as they would be typed", () => {
    expect(rowOf(stored())).toEqual({ ...emptyTarget, target: "a/x", weight: "100" });
  });
  it("shows every option that differs", () => {
    const r = rowOf(
      stored({
        priority: 2,
        weight: 0,
        retryConfig: { attempts: 3, delay: 250, onStatusCodes: [503] },
        fallbackStatusCodes: [500],
        fallbackCandidate: false,
        overrideParams: { temperature: 0.2 },
        headersOverride: { set: { "X-Team": "web" }, remove: ["X-Debug"] },
        slaCutoff: { timeToFirstTokenMs: 2000 },
      }),
    );
    expect(r).toEqual({
      target: "a/x",
      weight: "",
      priority: "2",
      attempts: "3",
      delay: "250",
      retryOn: "503",
      fallbackOn: "500",
      fallbackCandidate: false,
      params: '{"temperature":0.2}',
      headersSet: "X-Team: web",
      headersRemove: "X-Debug",
      slaTpot: "",
      slaTtft: "2000",
    });
    expect(optionsText(r)).toBe('3 tries; 250 ms apart; retry on 503; fall back on 500; no fallback to it; params {"temperature":0.2}; headers; SLA');
  });
});

describe("targetOf", () => {
  it("leaves every empty option unset, so the API's defaults apply", () => {
    const t = targetOf({ ...emptyTarget, target: "a/x", weight: "100" });
    expect(t.retryConfig).toBeUndefined();
    expect(t.fallbackStatusCodes).toEqual([]);
    expect(t.fallbackCandidate).toBeUndefined();
    expect(t.overrideParams).toBeUndefined();
    expect(t.headersOverride).toBeUndefined();
    expect(t.slaCutoff).toBeUndefined();
    expect([t.target, t.weight, t.priority]).toEqual(["a/x", 100, 0]);
  });
  it("sends what is typed, and a row read back is the same row", () => {
    const row = {
      ...emptyTarget,
      target: "a/x",
      priority: "1",
      attempts: "3",
      retryOn: "429, 503",
      fallbackOn: "500",
      fallbackCandidate: false,
      params: '{"max_tokens":512}',
      headersSet: "X-Team: web",
      headersRemove: "X-Debug",
      slaTpot: "40",
    };
    const t = targetOf(row);
    expect(t.retryConfig?.attempts).toBe(3);
    expect(t.retryConfig?.delay).toBeUndefined();
    expect(t.retryConfig?.onStatusCodes).toEqual([429, 503]);
    expect(t.fallbackCandidate).toBe(false);
    expect(t.overrideParams).toEqual({ max_tokens: 512 });
    expect(t.headersOverride?.set).toEqual({ "X-Team": "web" });
    expect(t.slaCutoff?.timePerOutputTokenMs).toBe(40);
    expect(rowOf(t)).toEqual(row);
  });
});

describe("sticky routing", () => {
  it("is sent only when on, and read back as it was", () => {
    expect(routingOf("weight-based-routing", [], { on: false, ttl: "600", ids: [] }).stickyRouting).toBeUndefined();
    const r = create(RoutingSchema, routingOf("weight-based-routing", [], { on: true, ttl: "600", ids: [{ source: "headers", key: " x-session-id " }] }));
    expect(r.stickyRouting?.ttlSeconds).toBe(600);
    expect(r.stickyRouting?.sessionIdentifiers.map((i) => [i.source, i.key])).toEqual([["headers", "x-session-id"]]);
    expect(stickyOf(r)).toEqual({ on: true, ttl: "600", ids: [{ source: "headers", key: "x-session-id" }] });
    expect(stickyText(r)).toBe(", sticky 600 s by headers.x-session-id");
    expect(stickyOf(undefined).on).toBe(false);
  });
});

describe("table texts", () => {
  it("a rule's condition: models, then subjects and metadata when set", () => {
    expect(whenText(create(RoutingRuleSchema, { when: { models: ["a/x"] } }))).toBe("a/x");
    expect(whenText(create(RoutingRuleSchema, { when: { models: ["a/x"], subjects: ["team:eng"], metadata: { env: "web" } } }))).toBe("a/x; for team:eng; metadata env=web");
  });
  it("targets with their weight or priority, and options only when set", () => {
    expect(targetsText(create(RoutingSchema, { type: "weight-based-routing", loadBalanceTargets: [stored()] }))).toBe("a/x 100%");
    expect(targetsText(create(RoutingSchema, { type: "priority-based-routing", loadBalanceTargets: [stored({ weight: 0, priority: 1, retryConfig: { attempts: 4 } })] }))).toBe(
      "a/x (priority 1) [4 tries]",
    );
  });
});
