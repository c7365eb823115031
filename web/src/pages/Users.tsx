import { Fragment, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ActionsHeader, EditRow, ErrorBox, Field, FormError, hasErrors, RowActions, TextField, useSave, When } from "../components";
import type { User } from "@gen/llmgw/admin/v1/admin_pb";
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

  const [editing, setEditing] = useState<string>();
  const remove = useMutation({
    mutationFn: (n: string) => api.admin.deleteUser({ name: n }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["users"] }),
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
        <FormError message={errors[""]} />
        <button type="submit" disabled={create.isPending}>
          Create user
        </button>
      </form>
      )}
      <ErrorBox error={list.error ?? remove.error} />
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
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {list.data.users.map((u) => (
              <Fragment key={u.name}>
              <tr>
                <th scope="row">{u.name}</th>
                <td>{u.email}</td>
                <td>{u.teams.join(", ")}</td>
                <td>{u.roles.join(", ")}</td>
                <td>{u.disabled ? "disabled" : "active"}</td>
                <td>
                  <When t={u.createTime && timestampDate(u.createTime)} />
                </td>
                {write && (
                  <RowActions name={u.name} onEdit={() => setEditing(u.name)} onDelete={() => remove.mutate(u.name)} pending={remove.isPending} />
                )}
              </tr>
              {write && editing === u.name && (
                <EditRow colSpan={7}>
                  <EditUser user={u} onDone={() => setEditing(undefined)} />
                </EditRow>
              )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

// EditUser replaces a user's email, teams, role and status (UpdateUser); the name is immutable.
function EditUser({ user, onDone }: { user: User; onDone: () => void }) {
  const { api } = useApi();
  const [email, setEmail] = useState(user.email);
  const [teams, setTeams] = useState(user.teams.join(", "));
  const [roles, setRoles] = useState<string[]>(user.roles);
  const [disabled, setDisabled] = useState(user.disabled);
  const { m, errors, setErrors } = useSave(
    fields,
    () => api.admin.updateUser({ user: { name: user.name, email, teams: splitList(teams), roles, disabled, admin: false } }),
    onDone,
    [["users"]],
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    const errs = { "user.email": checkEmail(email) };
    setErrors(errs);
    if (!hasErrors(errs)) m.mutate(undefined);
  }
  return (
    <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label={`Edit user ${user.name}`}>
      <h2>Edit {user.name}</h2>
      <div className="row">
        <Field label="Email" error={errors["user.email"]}>
          {(id, d, inv) => <input id={id} type="email" value={email} onChange={(e) => setEmail(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
        </Field>
        <TextField label="Teams" error={errors["user.teams"]} value={teams} onChange={setTeams} />
        <fieldset className="roles">
          <legend>Admin API roles</legend>
          {["viewer", "team-admin", "admin"].map((r) => (
            <span className="field check" key={r}>
              <input
                id={`role-${r}-${user.name}`}
                type="checkbox"
                checked={roles.includes(r)}
                onChange={(e) => setRoles(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))}
              />
              <label htmlFor={`role-${r}-${user.name}`}>{r}</label>
            </span>
          ))}
          {errors["user.roles"] && (
            <small className="error" role="alert">
              {errors["user.roles"]}
            </small>
          )}
        </fieldset>
        <div className="field check">
          <input id={`disabled-${user.name}`} type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} />
          <label htmlFor={`disabled-${user.name}`}>Disabled</label>
        </div>
      </div>
      <FormError message={errors[""]} />
      <button type="submit" disabled={m.isPending}>
        Save
      </button>{" "}
      <button type="button" className="secondary" onClick={onDone}>
        Cancel
      </button>
    </form>
  );
}
