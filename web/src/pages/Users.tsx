import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ErrorBox, Field, When } from "../components";
import { fieldError } from "../lib/errors";
import { checkEmail, checkName, splitList } from "../lib/validate";

const fields = ["user.name", "user.email", "user.teams", "user.roles"] as const;
type Errors = Partial<Record<(typeof fields)[number] | "", string>>;

export default function Users() {
  const { api } = useApi();
  const access = useAccess();
  const write = mayWrite(access, "config");
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ["users"], queryFn: () => api.admin.listUsers({}) });
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [teams, setTeams] = useState("");
  const [role, setRole] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const create = useMutation({
    mutationFn: () =>
      api.admin.createUser({ user: { name, email, teams: splitList(teams), roles: role ? [role] : [] } }),
    onSuccess: () => {
      setName("");
      setEmail("");
      setTeams("");
      setRole("");
      return qc.invalidateQueries({ queryKey: ["users"] });
    },
    onError: (err) => {
      const fe = fieldError(err, fields);
      setErrors({ [fe.field]: fe.message });
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = { "user.name": checkName("user.name", name), "user.email": checkEmail(email) };
    setErrors(errs);
    if (Object.values(errs).some(Boolean)) return;
    create.mutate();
  }

  return (
    <section aria-labelledby="users-h">
      <h1 id="users-h">Users</h1>
      {write && (
      <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create a user">
        <h2>Create a user</h2>
        <div className="row">
          <Field label="Name" error={errors["user.name"]}>
            {(id, d, inv) => (
              <input id={id} value={name} onChange={(e) => setName(e.target.value)} aria-describedby={d} aria-invalid={inv} />
            )}
          </Field>
          <Field label="Email (optional)" error={errors["user.email"]}>
            {(id, d, inv) => (
              <input id={id} type="email" value={email} onChange={(e) => setEmail(e.target.value)} aria-describedby={d} aria-invalid={inv} />
            )}
          </Field>
          <Field label="Teams (comma-separated)" error={errors["user.teams"]}>
            {(id, d, inv) => (
              <input id={id} value={teams} onChange={(e) => setTeams(e.target.value)} aria-describedby={d} aria-invalid={inv} />
            )}
          </Field>
          <Field label="Admin API role" error={errors["user.roles"]}>
            {(id, d, inv) => (
              <select id={id} value={role} onChange={(e) => setRole(e.target.value)} aria-describedby={d} aria-invalid={inv}>
                <option value="">none</option>
                <option value="viewer">viewer</option>
                <option value="team-admin">team-admin</option>
                <option value="admin">admin</option>
              </select>
            )}
          </Field>
        </div>
        {errors[""] && (
          <p className="error" role="alert">
            {errors[""]}
          </p>
        )}
        <button type="submit" disabled={create.isPending}>
          Create user
        </button>
      </form>
      )}
      <ErrorBox error={list.error} />
      {list.data && (
        <table>
          <caption>{list.data.users.length} users</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Teams</th>
              <th scope="col">Roles</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {list.data.users.map((u) => (
              <tr key={u.name}>
                <th scope="row">{u.name}</th>
                <td>{u.email}</td>
                <td>{u.teams.join(", ")}</td>
                <td>{u.roles.join(", ")}</td>
                <td>{u.disabled ? "disabled" : "active"}</td>
                <td>
                  <When t={u.createTime && timestampDate(u.createTime)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
