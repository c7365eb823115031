// What the signed-in caller may see and do, from the Admin API's GetCaller. The server decides
// (services/admin/authz.go); this only keeps the app from offering what it would refuse.
import type { GetCallerResponse } from "@gen/llmgw/admin/v1/admin_pb";

export interface Access {
  // adminApi: the Admin API serves the caller beyond GetCaller (a role and the admin scope).
  adminApi: boolean;
  admin: boolean;
  viewer: boolean;
  teamAdmin: boolean;
  // user is the caller's user name ("" for the admin token or a virtual account).
  user: string;
  teams: string[];
}

// Page kinds: config pages are the admin's to change and the viewer's to read; team pages
// (API keys, rate limits and budgets) a team admin also manages for their teams; own pages
// (usage, request log, playground) serve everyone, each seeing their own.
export type PageKind = "config" | "team" | "own";

export function accessOf(c: Pick<GetCallerResponse, "adminApi" | "roles" | "user" | "teams">): Access {
  const has = (r: string) => c.adminApi && c.roles.includes(r);
  return { adminApi: c.adminApi, admin: has("admin"), viewer: has("viewer"), teamAdmin: has("team-admin"), user: c.user, teams: [...c.teams] };
}

// mayRead: whether the caller sees pages of the kind.
export function mayRead(a: Access, kind: PageKind): boolean {
  switch (kind) {
    case "own":
      return true;
    case "team":
      return a.admin || a.viewer || a.teamAdmin;
    case "config":
      return a.admin || a.viewer;
  }
}

// mayWrite: whether the caller gets the create, change and delete controls of the kind's pages.
export function mayWrite(a: Access, kind: PageKind): boolean {
  switch (kind) {
    case "own":
      return true;
    case "team":
      return a.admin || a.teamAdmin;
    case "config":
      return a.admin;
  }
}

// teamScoped: a team admin without a wider role, whose writes must name their teams.
export function teamScoped(a: Access): boolean {
  return a.teamAdmin && !a.admin;
}

// listsUsers: whether the caller may list every user (a team admin alone may not).
export function listsUsers(a: Access): boolean {
  return a.admin || a.viewer;
}
