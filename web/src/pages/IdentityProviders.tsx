import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ActionsHeader, ErrorBox, Field, FormError, TextField } from "../components";
import { fieldError } from "../lib/errors";
import { checkIssuer, checkName, splitList } from "../lib/validate";

const fields = ["identity_provider.name", "identity_provider.issuer", "identity_provider.audiences", "identity_provider.user_claim", "identity_provider.groups_claim", "identity_provider.client_id"] as const;
type Errors = Partial<Record<(typeof fields)[number] | "", string>>;

// IdentityProviders lists the OIDC identity providers whose tokens authenticate users, and
// creates and deletes them.
export default function IdentityProviders() {
  const { api } = useApi();
  const access = useAccess();
  const write = mayWrite(access, "config");
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ["identity-providers"], queryFn: () => api.admin.listIdentityProviders({}) });
  const [name, setName] = useState("");
  const [issuer, setIssuer] = useState("");
  const [audiences, setAudiences] = useState("");
  const [userClaim, setUserClaim] = useState("");
  const [groupsClaim, setGroupsClaim] = useState("");
  const [clientId, setClientId] = useState("");
  const [createUsers, setCreateUsers] = useState(false);
  const [errors, setErrors] = useState<Errors>({});
  const [confirm, setConfirm] = useState<string>();

  const create = useMutation({
    mutationFn: () =>
      api.admin.createIdentityProvider({
        identityProvider: { name, issuer, audiences: splitList(audiences), userClaim, groupsClaim, clientId, createUsers },
      }),
    onSuccess: () => {
      setName("");
      setIssuer("");
      setAudiences("");
      setUserClaim("");
      setGroupsClaim("");
      setClientId("");
      setCreateUsers(false);
      return qc.invalidateQueries({ queryKey: ["identity-providers"] });
    },
    onError: (err) => {
      const fe = fieldError(err, fields);
      setErrors({ [fe.field]: fe.message });
    },
  });
  const remove = useMutation({
    mutationFn: (n: string) => api.admin.deleteIdentityProvider({ name: n }),
    onSettled: () => {
      setConfirm(undefined);
      return qc.invalidateQueries({ queryKey: ["identity-providers"] });
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = {
      "identity_provider.name": checkName("identity_provider.name", name),
      "identity_provider.issuer": checkIssuer("identity_provider.issuer", issuer),
      "identity_provider.audiences": splitList(audiences).length ? undefined : "identity_provider.audiences is required: the aud values this gateway accepts",
    };
    setErrors(errs);
    if (Object.values(errs).some(Boolean)) return;
    create.mutate();
  }

  return (
    <section aria-labelledby="idp-h">
      <h1 id="idp-h">Identity providers</h1>
      {write && (
      <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create an identity provider">
        <h2>Create an identity provider</h2>
        <div className="row">
          <TextField label="Provider name" error={errors["identity_provider.name"]} value={name} onChange={setName} />
          <Field label="Issuer URL" error={errors["identity_provider.issuer"]}>
            {(id, d, inv) => <input id={id} type="url" value={issuer} onChange={(e) => setIssuer(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
          </Field>
          <TextField label="Audiences (comma-separated)" error={errors["identity_provider.audiences"]} value={audiences} onChange={setAudiences} />
        </div>
        <div className="row">
          <TextField label="User claim (optional)" error={errors["identity_provider.user_claim"]} hint="empty: email, else sub" value={userClaim} onChange={setUserClaim} />
          <TextField label="Groups claim (optional)" error={errors["identity_provider.groups_claim"]} value={groupsClaim} onChange={setGroupsClaim} />
          <TextField label="Login client ID (optional)" error={errors["identity_provider.client_id"]} value={clientId} onChange={setClientId} />
          <div className="field check">
            <input id="idp-create-users" type="checkbox" checked={createUsers} onChange={(e) => setCreateUsers(e.target.checked)} />
            <label htmlFor="idp-create-users">Create unknown users</label>
          </div>
        </div>
        <FormError message={errors[""]} />
        <button type="submit" disabled={create.isPending}>
          Create identity provider
        </button>
      </form>
      )}
      <ErrorBox error={list.error ?? remove.error} />
      {list.data && (
        <table aria-label="Identity providers">
          <caption>{list.data.identityProviders.length} identity providers</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Issuer</th>
              <th scope="col">Audiences</th>
              <th scope="col">Creates users</th>
              <ActionsHeader />
            </tr>
          </thead>
          <tbody>
            {list.data.identityProviders.map((p) => (
              <tr key={p.name}>
                <th scope="row">{p.name}</th>
                <td>{p.issuer}</td>
                <td>{p.audiences.join(", ")}</td>
                <td>{p.createUsers ? "yes" : "no"}</td>
                <td>
                  {write && (confirm === p.name ? (
                    <>
                      <button type="button" className="danger" onClick={() => remove.mutate(p.name)} disabled={remove.isPending}>
                        Confirm delete {p.name}
                      </button>{" "}
                      <button type="button" className="secondary" onClick={() => setConfirm(undefined)}>
                        Cancel
                      </button>
                    </>
                  ) : (
                    <button type="button" className="secondary" onClick={() => setConfirm(p.name)} aria-label={`Delete ${p.name}`}>
                      Delete
                    </button>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
