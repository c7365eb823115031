import { Fragment, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { VirtualAccount } from "@gen/llmgw/admin/v1/admin_pb";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ActionsHeader, EditRow, ErrorBox, Field, FormError, hasErrors, RowActions, SaveCancel, SecretOnce, TextField, useSave, type Errors } from "../components";
import { checkName } from "../lib/validate";

const fields = ["virtual_account.name", "virtual_account.description", "virtual_account.team", "virtual_account.disabled"];

// VirtualAccounts lists the application and service identities that hold API keys: create,
// edit, delete, and issue a key for one (its secret shown once) or revoke one of its keys.
// A viewer sees the list and each account's key prefixes, and none of those controls.
export default function VirtualAccounts() {
  const { api } = useApi();
  const write = mayWrite(useAccess(), "config");
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ["virtual-accounts"], queryFn: () => api.admin.listVirtualAccounts({}) });
  const keys = useQuery({ queryKey: ["keys"], queryFn: () => api.admin.listApiKeys({}) });
  const teams = useQuery({ queryKey: ["teams"], queryFn: () => api.admin.listTeams({}) });
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [team, setTeam] = useState("");
  const [editing, setEditing] = useState<string>();
  // A new key's secret: only in this state, shown once, dropped on Done.
  const [secret, setSecret] = useState<{ account: string; value: string }>();

  const { m: create, errors, setErrors } = useSave(
    fields,
    () => api.admin.createVirtualAccount({ virtualAccount: { name, description, team } }),
    () => {
      setName("");
      setDescription("");
      setTeam("");
    },
    [["virtual-accounts"]],
  );
  const remove = useMutation({
    mutationFn: (n: string) => api.admin.deleteVirtualAccount({ name: n }),
    onSuccess: () => qc.invalidateQueries(),
  });
  const issue = useMutation({
    mutationFn: (account: string) => api.admin.createApiKey({ apiKey: { name: `${account} key`, owner: { case: "virtualAccount", value: account } } }),
    onSuccess: (res, account) => {
      setSecret({ account, value: res.secret });
      return qc.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.admin.revokeApiKey({ id }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["keys"] }),
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = { "virtual_account.name": checkName("virtual_account.name", name) };
    setErrors(errs);
    if (!hasErrors(errs)) create.mutate(undefined);
  }

  const keysOf = (account: string) =>
    (keys.data?.apiKeys ?? []).filter((k) => k.owner.case === "virtualAccount" && k.owner.value === account && !k.revokeTime);

  return (
    <section aria-labelledby="va-h">
      <h1 id="va-h">Virtual accounts</h1>
      {secret && (
        <SecretOnce
          key={secret.value}
          label="New key secret"
          heading={`Key for “${secret.account}” created`}
          value={secret.value}
          onDone={() => setSecret(undefined)}
        />
      )}
      {write && (
      <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create a virtual account">
        <h2>Create a virtual account</h2>
        <div className="row">
          <TextField label="Account name" error={errors["virtual_account.name"]} value={name} onChange={setName} />
          <TextField label="Description (optional)" error={errors["virtual_account.description"]} value={description} onChange={setDescription} />
          <Field label="Owning team (optional)" error={errors["virtual_account.team"]}>
            {(id, d, inv) => (
              <select id={id} value={team} onChange={(e) => setTeam(e.target.value)} aria-describedby={d} aria-invalid={inv}>
                <option value="">none</option>
                {teams.data?.teams.map((t) => (
                  <option key={t.name} value={t.name}>
                    {t.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <FormError message={errors[""]} />
        <button type="submit" disabled={create.isPending}>
          Create virtual account
        </button>
      </form>
      )}
      <ErrorBox error={list.error ?? keys.error ?? remove.error ?? issue.error ?? revoke.error} />
      {list.data && (
        <table aria-label="Virtual accounts">
          <caption>{list.data.virtualAccounts.length} virtual accounts</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Team</th>
              <th scope="col">Status</th>
              <th scope="col">Keys</th>
              {write && <ActionsHeader />}
            </tr>
          </thead>
          <tbody>
            {list.data.virtualAccounts.map((va) => (
              <Fragment key={va.name}>
                <tr>
                  <th scope="row">{va.name}</th>
                  <td>{va.description}</td>
                  <td>{va.team || "—"}</td>
                  <td>{va.disabled ? "disabled" : "active"}</td>
                  <td>
                    <ul className="plain">
                      {keysOf(va.name).map((k) => (
                        <li key={k.id}>
                          <code>{k.prefix}…</code>
                          {write && (
                            <>
                              {" "}
                              <button type="button" className="secondary" onClick={() => revoke.mutate(k.id)} aria-label={`Revoke key ${k.prefix} of ${va.name}`} disabled={revoke.isPending}>
                                Revoke
                              </button>
                            </>
                          )}
                        </li>
                      ))}
                    </ul>
                    {write && (
                      <button type="button" className="secondary" onClick={() => issue.mutate(va.name)} aria-label={`New key for ${va.name}`} disabled={issue.isPending}>
                        New key
                      </button>
                    )}
                  </td>
                  {write && (
                    <RowActions name={va.name} onEdit={() => setEditing(va.name)} onDelete={() => remove.mutate(va.name)} pending={remove.isPending} />
                  )}
                </tr>
                {write && editing === va.name && (
                  <EditRow colSpan={6}>
                    <EditAccount account={va} teams={teams.data?.teams.map((t) => t.name) ?? []} onDone={() => setEditing(undefined)} />
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

function EditAccount({ account, teams, onDone }: { account: VirtualAccount; teams: string[]; onDone: () => void }) {
  const { api } = useApi();
  const [description, setDescription] = useState(account.description);
  const [team, setTeam] = useState(account.team);
  const [disabled, setDisabled] = useState(account.disabled);
  const { m, errors, setErrors } = useSave(
    fields,
    () => api.admin.updateVirtualAccount({ virtualAccount: { name: account.name, description, team, disabled } }),
    onDone,
    [["virtual-accounts"]],
  );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        m.mutate(undefined);
      }}
      onChange={() => setErrors({})}
      noValidate
      className="card"
      aria-label={`Edit virtual account ${account.name}`}
    >
      <div className="row">
        <TextField label="Description" error={errors["virtual_account.description"]} value={description} onChange={setDescription} />
        <Field label="Team" error={errors["virtual_account.team"]}>
          {(id, d, inv) => (
            <select id={id} value={team} onChange={(e) => setTeam(e.target.value)} aria-describedby={d} aria-invalid={inv}>
              <option value="">none</option>
              {teams.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="field check">
          <input id={`va-disabled-${account.name}`} type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} />
          <label htmlFor={`va-disabled-${account.name}`}>Disabled</label>
        </div>
      </div>
      <FormError message={errors[""]} />
      <SaveCancel pending={m.isPending} onCancel={onDone} />
    </form>
  );
}
