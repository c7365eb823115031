import { Fragment, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ActionsHeader, EditRow, ErrorBox, FormError, hasErrors, RowActions, SaveCancel, TextField, useSave, type Errors } from "../components";
import type { AuthzRule, Team } from "@gen/llmgw/admin/v1/admin_pb";
import { fieldError } from "../lib/errors";
import { checkName, splitList } from "../lib/validate";


// Access holds teams and the authorization rules that say who may call which models.
export default function Access() {
  const write = mayWrite(useAccess(), "config");
  return (
    <section aria-labelledby="access-h">
      <h1 id="access-h">Teams &amp; access</h1>
      {write && (
        <div className="row">
          <TeamForm />
          <RuleForm />
        </div>
      )}
      <Lists />
    </section>
  );
}

function TeamForm() {
  const { api } = useApi();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const m = useMutation({
    mutationFn: () => api.admin.createTeam({ team: { name, description } }),
    onSuccess: () => {
      setName("");
      setDescription("");
      return qc.invalidateQueries({ queryKey: ["teams"] });
    },
    onError: (err) => {
      const fe = fieldError(err, ["team.name", "team.description"]);
      setErrors({ [fe.field]: fe.message });
    },
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs = { "team.name": checkName("team.name", name) };
    setErrors(errs);
    if (!Object.values(errs).some(Boolean)) m.mutate();
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create a team">
      <h2>Create a team</h2>
      <TextField label="Team name" error={errors["team.name"]} value={name} onChange={setName} />
      <TextField label="Description" error={errors["team.description"]} value={description} onChange={setDescription} />
      <FormError message={errors[""]} />
      <button type="submit" disabled={m.isPending}>
        Create team
      </button>
    </form>
  );
}

function RuleForm() {
  const { api } = useApi();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [models, setModels] = useState("");
  const [users, setUsers] = useState("");
  const [teams, setTeams] = useState("");
  const [vas, setVas] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const fields = ["authz_rule.name", "authz_rule.models", "authz_rule.users", "authz_rule.teams", "authz_rule.virtual_accounts"];
  const m = useMutation({
    mutationFn: () => api.admin.createAuthzRule({
        authzRule: { name, models: splitList(models), users: splitList(users), teams: splitList(teams), virtualAccounts: splitList(vas) },
      }),
    onSuccess: () => {
      setName("");
      setModels("");
      setUsers("");
      setTeams("");
      setVas("");
      return qc.invalidateQueries({ queryKey: ["authz"] });
    },
    onError: (err) => {
      const fe = fieldError(err, fields);
      setErrors({ [fe.field]: fe.message });
    },
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = {
      "authz_rule.name": checkName("authz_rule.name", name),
      "authz_rule.models": splitList(models).length ? undefined : "authz_rule.models needs at least one model",
      "authz_rule.users": splitList(users).length || splitList(teams).length || splitList(vas).length ? undefined : "name at least one user or team",
    };
    setErrors(errs);
    if (!Object.values(errs).some(Boolean)) m.mutate();
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create an access rule">
      <h2>Allow models</h2>
      <TextField label="Rule name" error={errors["authz_rule.name"]} value={name} onChange={setName} />
      <TextField label="Models (comma-separated)" hint={'"account/*" for an account\'s models, "*" for all'} error={errors["authz_rule.models"]} value={models} onChange={setModels} />
      <TextField label="For users (comma-separated)" error={errors["authz_rule.users"]} value={users} onChange={setUsers} />
      <TextField label="For teams (comma-separated)" error={errors["authz_rule.teams"]} value={teams} onChange={setTeams} />
      <TextField label="For virtual accounts (comma-separated)" error={errors["authz_rule.virtual_accounts"]} value={vas} onChange={setVas} />
      <FormError message={errors[""]} />
      <button type="submit" disabled={m.isPending}>
        Create rule
      </button>
    </form>
  );
}

function Lists() {
  const { api } = useApi();
  const write = mayWrite(useAccess(), "config");
  const qc = useQueryClient();
  const teams = useQuery({ queryKey: ["teams"], queryFn: () => api.admin.listTeams({}) });
  const rules = useQuery({ queryKey: ["authz"], queryFn: () => api.admin.listAuthzRules({}) });
  const [editing, setEditing] = useState<string>();
  const removeTeam = useMutation({
    mutationFn: (n: string) => api.admin.deleteTeam({ name: n }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["teams"] }),
  });
  const removeRule = useMutation({
    mutationFn: (n: string) => api.admin.deleteAuthzRule({ name: n }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["authz"] }),
  });
  return (
    <>
      <ErrorBox error={teams.error ?? rules.error ?? removeTeam.error ?? removeRule.error} />
      <h2>Teams</h2>
      {teams.data && (
        <table aria-label="Teams">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Members</th>
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {teams.data.teams.map((t) => (
              <Fragment key={t.name}>
                <tr>
                  <th scope="row">{t.name}</th>
                  <td>{t.description}</td>
                  <td>{t.members.join(", ")}</td>
                  {write && (
                    <RowActions name={`team ${t.name}`} onEdit={() => setEditing(`team:${t.name}`)} onDelete={() => removeTeam.mutate(t.name)} pending={removeTeam.isPending} />
                  )}
                </tr>
                {write && editing === `team:${t.name}` && (
                  <EditRow colSpan={4}>
                    <EditTeam team={t} onDone={() => setEditing(undefined)} />
                  </EditRow>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      <h2>Access rules</h2>
      {rules.data && (
        <table aria-label="Access rules">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Models</th>
              <th scope="col">Users</th>
              <th scope="col">Teams</th>
              <th scope="col">Virtual accounts</th>
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {rules.data.authzRules.map((r) => (
              <Fragment key={r.name}>
                <tr>
                  <th scope="row">{r.name}</th>
                  <td>{r.models.join(", ")}</td>
                  <td>{r.users.join(", ")}</td>
                  <td>{r.teams.join(", ")}</td>
                  <td>{r.virtualAccounts.join(", ")}</td>
                  {write && (
                    <RowActions name={`rule ${r.name}`} onEdit={() => setEditing(`rule:${r.name}`)} onDelete={() => removeRule.mutate(r.name)} pending={removeRule.isPending} />
                  )}
                </tr>
                {write && editing === `rule:${r.name}` && (
                  <EditRow colSpan={6}>
                    <EditRule rule={r} onDone={() => setEditing(undefined)} />
                  </EditRow>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function EditTeam({ team, onDone }: { team: Team; onDone: () => void }) {
  const { api } = useApi();
  const [description, setDescription] = useState(team.description);
  const { m, errors, setErrors } = useSave(["team.description"], () => api.admin.updateTeam({ team: { name: team.name, description } }), onDone, [["teams"]]);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        m.mutate(undefined);
      }}
      onChange={() => setErrors({})}
      noValidate
      className="card"
      aria-label={`Edit team ${team.name}`}
    >
      <TextField label="Description" error={errors["team.description"]} value={description} onChange={setDescription} />
      <FormError message={errors[""]} />
      <SaveCancel pending={m.isPending} onCancel={onDone} />
    </form>
  );
}

const ruleFields = ["authz_rule.name", "authz_rule.models", "authz_rule.users", "authz_rule.teams", "authz_rule.virtual_accounts"];

function EditRule({ rule, onDone }: { rule: AuthzRule; onDone: () => void }) {
  const { api } = useApi();
  const [models, setModels] = useState(rule.models.join(", "));
  const [users, setUsers] = useState(rule.users.join(", "));
  const [teams, setTeams] = useState(rule.teams.join(", "));
  const [vas, setVas] = useState(rule.virtualAccounts.join(", "));
  const { m, errors, setErrors } = useSave(
    ruleFields,
    () =>
      api.admin.updateAuthzRule({
        authzRule: { name: rule.name, models: splitList(models), users: splitList(users), teams: splitList(teams), virtualAccounts: splitList(vas) },
      }),
    onDone,
    [["authz"]],
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = {
      "authz_rule.models": splitList(models).length ? undefined : "authz_rule.models needs at least one model",
      "authz_rule.users": splitList(users).length || splitList(teams).length || splitList(vas).length ? undefined : "name at least one user, team or virtual account",
    };
    setErrors(errs);
    if (!hasErrors(errs)) m.mutate(undefined);
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label={`Edit rule ${rule.name}`}>
      <div className="row">
        <TextField label="Models" error={errors["authz_rule.models"]} value={models} onChange={setModels} />
        <TextField label="Users" error={errors["authz_rule.users"]} value={users} onChange={setUsers} />
        <TextField label="Teams" error={errors["authz_rule.teams"]} value={teams} onChange={setTeams} />
        <TextField label="Virtual accounts" error={errors["authz_rule.virtual_accounts"]} value={vas} onChange={setVas} />
      </div>
      <FormError message={errors[""]} />
      <SaveCancel pending={m.isPending} onCancel={onDone} />
    </form>
  );
}
