import { describe, expect, it } from "vitest";
import { accessOf, listsUsers, mayRead, mayWrite, teamScoped } from "./access";

const caller = (roles: string[], adminApi = true) => accessOf({ adminApi, roles, user: "u", teams: ["ml"] });

describe("access", () => {
  it("gives the admin everything", () => {
    const a = caller(["admin"]);
    expect([mayRead(a, "config"), mayWrite(a, "config"), mayWrite(a, "team"), teamScoped(a), listsUsers(a)]).toEqual([true, true, true, false, true]);
  });
  it("lets a viewer read every page and change none but their own", () => {
    const a = caller(["viewer"]);
    expect([mayRead(a, "config"), mayRead(a, "team"), mayWrite(a, "config"), mayWrite(a, "team"), mayWrite(a, "own")]).toEqual([true, true, false, false, true]);
  });
  it("gives a team admin the team pages, scoped to their teams", () => {
    const a = caller(["team-admin"]);
    expect([mayRead(a, "config"), mayRead(a, "team"), mayWrite(a, "team"), teamScoped(a), listsUsers(a), a.teams]).toEqual([false, true, true, true, false, ["ml"]]);
  });
  it("gives a user without a role their own pages only", () => {
    const a = caller([]);
    expect([mayRead(a, "config"), mayRead(a, "team"), mayRead(a, "own")]).toEqual([false, false, true]);
  });
  it("ignores roles the Admin API does not serve (a key without the admin scope)", () => {
    const a = caller(["admin"], false);
    expect([a.admin, mayRead(a, "config"), mayRead(a, "team")]).toEqual([false, false, false]);
  });
});
