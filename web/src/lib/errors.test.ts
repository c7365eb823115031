import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { fieldError } from "./errors";

const userFields = ["user.name", "user.email", "user.teams"];
const keyFields = ["api_key.name", "api_key.user", "api_key.expire_time"];

describe("fieldError", () => {
  it.each([
    ["a path at the start", new ConnectError('user.name "Bob" must be 1 to 63 lowercase letters', Code.InvalidArgument), userFields, "user.name"],
    ["a path after a prefix", new ConnectError("create api key: api_key.expire_time must be in the future", Code.InvalidArgument), keyFields, "api_key.expire_time"],
    ["the longest path", new ConnectError("api_key.name is longer than 200 characters", Code.InvalidArgument), ["api_key", "api_key.name"], "api_key.name"],
    ["a duplicate names the resource", new ConnectError('user "alice" already exists', Code.AlreadyExists), userFields, "user.name"],
    ["a missing team is about the teams", new ConnectError('team "eng" does not exist', Code.InvalidArgument), userFields, "user.teams"],
    ["a missing user is about the owner", new ConnectError('user "bob" does not exist', Code.InvalidArgument), keyFields, "api_key.user"],
    ["a missing resource of no field", new ConnectError('virtual account "x" does not exist', Code.InvalidArgument), keyFields, ""],
    ["a path of no field", new ConnectError("api_key needs an owner: user or virtual_account", Code.InvalidArgument), keyFields, ""],
    ["not a prefix of a longer path", new ConnectError("user.names is wrong", Code.InvalidArgument), userFields, ""],
    ["an indexed element is about its list", new ConnectError('rate_limit.applies_per[0]: "x" is not a dimension', Code.InvalidArgument), ["rate_limit.name", "rate_limit.applies_per"], "rate_limit.applies_per"],
    ["an indexed path in the fields", new ConnectError('create rate limit: rate_limit.limits[0].unit "rpm" must be one of ...', Code.InvalidArgument), ["rate_limit.limits", "rate_limit.limits[0].unit"], "rate_limit.limits[0].unit"],
    ["a duplicate of a two-word resource", new ConnectError('rate limit "web-rpm" already exists', Code.AlreadyExists), ["rate_limit.name"], "rate_limit.name"],
    ["a routing target's row", new ConnectError("virtual_model.routing_config.load_balance_targets[1].target: duplicate target a/x", Code.InvalidArgument),
      ["virtual_model.routing_config.load_balance_targets", "virtual_model.routing_config.load_balance_targets[0].target", "virtual_model.routing_config.load_balance_targets[1].target"],
      "virtual_model.routing_config.load_balance_targets[1].target"],
    ["a routing config's whole list", new ConnectError("virtual_model.routing_config.load_balance_targets: weights sum to 90; they must sum to 100", Code.InvalidArgument),
      ["virtual_model.routing_config", "virtual_model.routing_config.load_balance_targets", "virtual_model.routing_config.load_balance_targets[0].weight"],
      "virtual_model.routing_config.load_balance_targets"],
    ["a price names its override", new ConnectError("model.pricing prices must not be negative", Code.InvalidArgument), ["model.name", "model.pricing", "model.pricing.input_per_mtok"], "model.pricing"],
    ["a path under a field is about that field", new ConnectError("routing_rule.routing_config.load_balance_targets[0].override_params.temperature: temperature must be at most 2", Code.InvalidArgument),
      ["routing_rule.routing_config", "routing_rule.routing_config.load_balance_targets[0].override_params"],
      "routing_rule.routing_config.load_balance_targets[0].override_params"],
    ["a header under its override", new ConnectError("x.headers_override.set.Host: Host is set by the gateway", Code.InvalidArgument), ["x", "x.headers_override.set", "x.headers_override"], "x.headers_override.set"],
    ["a plain error", new Error("network down"), userFields, ""],
  ])("%s", (_, err, fields, want) => {
    const got = fieldError(err, fields);
    expect(got.field).toBe(want);
    expect(got.message).toBe(ConnectError.from(err).rawMessage);
  });
});
