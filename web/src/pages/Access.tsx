import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ErrorBox, Field } from "../components";
import { fieldError } from "../lib/errors";
import { checkName, splitList } from "../lib/validate";

type Errors = Record<string, string | undefined>;

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
      <Field label="Team name" error={errors["team.name"]}>
        {(id, d, inv) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
      </Field>
      <Field label="Description" error={errors["team.description"]}>
        {(id, d, inv) => <input id={id} value={description} onChange={(e) => setDescription(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
      </Field>
      {errors[""] && (
        <p className="error" role="alert">
          {errors[""]}
        </p>
      )}
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
  const [errors, setErrors] = useState<Errors>({});
  const fields = ["authz_rule.name", "authz_rule.models", "authz_rule.users", "authz_rule.teams", "authz_rule.virtual_accounts"];
  const m = useMutation({
    mutationFn: () => api.admin.createAuthzRule({ authzRule: { name, models: splitList(models), users: splitList(users), teams: splitList(teams) } }),
    onSuccess: () => {
      setName("");
      setModels("");
      setUsers("");
      setTeams("");
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
      "authz_rule.users": splitList(users).length || splitList(teams).length ? undefined : "name at least one user or team",
    };
    setErrors(errs);
    if (!Object.values(errs).some(Boolean)) m.mutate();
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create an access rule">
      <h2>Allow models</h2>
      <Field label="Rule name" error={errors["authz_rule.name"]}>
        {(id, d, inv) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
      </Field>
      <Field label="Models (comma-separated)" hint={'"account/*" for an account\'s models, "*" for all'} error={errors["authz_rule.models"]}>
        {(id, d, inv) => <input id={id} value={models} onChange={(e) => setModels(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
      </Field>
      <Field label="For users (comma-separated)" error={errors["authz_rule.users"]}>
        {(id, d, inv) => <input id={id} value={users} onChange={(e) => setUsers(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
      </Field>
      <Field label="For teams (comma-separated)" error={errors["authz_rule.teams"]}>
        {(id, d, inv) => <input id={id} value={teams} onChange={(e) => setTeams(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
      </Field>
      {errors[""] && (
        <p className="error" role="alert">
          {errors[""]}
        </p>
      )}
      <button type="submit" disabled={m.isPending}>
        Create rule
      </button>
    </form>
  );
}

function Lists() {
  const { api } = useApi();
  const teams = useQuery({ queryKey: ["teams"], queryFn: () => api.admin.listTeams({}) });
  const rules = useQuery({ queryKey: ["authz"], queryFn: () => api.admin.listAuthzRules({}) });
  return (
    <>
      <ErrorBox error={teams.error ?? rules.error} />
      <h2>Teams</h2>
      {teams.data && (
        <table aria-label="Teams">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Members</th>
            </tr>
          </thead>
          <tbody>
            {teams.data.teams.map((t) => (
              <tr key={t.name}>
                <th scope="row">{t.name}</th>
                <td>{t.description}</td>
                <td>{t.members.join(", ")}</td>
              </tr>
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
            </tr>
          </thead>
          <tbody>
            {rules.data.authzRules.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td>{r.models.join(", ")}</td>
                <td>{r.users.join(", ")}</td>
                <td>{r.teams.join(", ")}</td>
                <td>{r.virtualAccounts.join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
