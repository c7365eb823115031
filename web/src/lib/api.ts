// The Connect-ES clients of the gateway's Admin and Usage APIs, generated from proto/ into
// gen/ts. Every call carries the signed-in token as a bearer token.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "@gen/llmgw/admin/v1/admin_pb";
import { UsageService } from "@gen/llmgw/usage/v1/usage_service_pb";
import type { TokenStore } from "./auth";

export interface Api {
  admin: Client<typeof AdminService>;
  usage: Client<typeof UsageService>;
}

export function bearer(tokens: TokenStore): Interceptor {
  return (next) => async (req) => {
    const token = tokens.get();
    if (token) req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
}

export function newApi(baseUrl: string, tokens: TokenStore): Api {
  const transport = createConnectTransport({ baseUrl, interceptors: [bearer(tokens)] });
  return { admin: createClient(AdminService, transport), usage: createClient(UsageService, transport) };
}
