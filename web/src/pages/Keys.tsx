import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useAccess, useApi } from "../context";
import { listsUsers, mayWrite } from "../lib/access";
import { ActionsHeader, ErrorBox, Field, FormError, SecretOnce, TextField, When } from "../components";
import { fieldError } from "../lib/errors";

const fields = ["api_key.name", "api_key.user", "api_key.owner", "api_key.expire_time", "api_key.scopes"] as const;
type Errors = Partial<Record<(typeof fields)[number] | "", string>>;

export default function Keys() {
  const { api } = useApi();
  const access = useAccess();
  const write = mayWrite(access, "team");
  const qc = useQueryClient();
  const keys = useQuery({ queryKey: ["keys"], queryFn: () => api.admin.listApiKeys({}) });
  // A team admin alone may not list users: the form offers them their own user.
  const users = useQuery({ queryKey: ["users"], queryFn: () => api.admin.listUsers({}), enabled: listsUsers(access) });
  const [name, setName] = useState("");
  const [user, setUser] = useState(listsUsers(access) ? "" : access.user);
  const [expire, setExpire] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  // The new key's secret: only in this component's state, shown once, dropped on Done.
  const [secret, setSecret] = useState<{ name: string; value: string; rotated?: boolean }>();
  const [confirm, setConfirm] = useState<string>();

  const create = useMutation({
    mutationFn: () =>
      api.admin.createApiKey({
        apiKey: {
          name,
          owner: { case: "user", value: user },
          expireTime: expire ? timestampFromDate(new Date(`${expire}T00:00:00Z`)) : undefined,
        },
      }),
    onSuccess: (res) => {
      setSecret({ name: res.apiKey?.name ?? "", value: res.secret });
      setName("");
      setExpire("");
      return qc.invalidateQueries({ queryKey: ["keys"] });
    },
    onError: (err) => {
      const fe = fieldError(err, fields);
      setErrors({ [fe.field === "api_key.owner" ? "api_key.user" : fe.field]: fe.message });
    },
  });
  const [rotating, setRotating] = useState<string>();
  const [grace, setGrace] = useState("0");
  const rotate = useMutation({
    mutationFn: (id: string) => api.admin.rotateApiKey({ id, gracePeriod: grace === "0" ? undefined : { seconds: BigInt(grace) } }),
    onSuccess: (res) => {
      setSecret({ name: res.apiKey?.name ?? "", value: res.secret, rotated: true });
    },
    onSettled: () => {
      setRotating(undefined);
      return qc.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.admin.revokeApiKey({ id }),
    onSettled: () => {
      setConfirm(undefined);
      return qc.invalidateQueries({ queryKey: ["keys"] });
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Errors = {
      "api_key.name": name.length > 200 ? "api_key.name is longer than 200 characters" : undefined,
      "api_key.user": user ? undefined : "choose the user the key authenticates",
      "api_key.expire_time": expire && new Date(`${expire}T00:00:00Z`) <= new Date() ? "api_key.expire_time must be in the future" : undefined,
    };
    setErrors(errs);
    if (Object.values(errs).some(Boolean)) return;
    create.mutate();
  }

  return (
    <section aria-labelledby="keys-h">
      <h1 id="keys-h">API keys</h1>
      {secret && (
        <SecretOnce
          key={secret.value}
          label="New key secret"
          heading={secret.rotated ? `Key “${secret.name}” rotated: its new secret` : `Key “${secret.name}” created`}
          value={secret.value}
          onDone={() => setSecret(undefined)}
        />
      )}
      {write && (
      <form onSubmit={submit} onChange={() => setErrors({})} noValidate className="card" aria-label="Create an API key">
        <h2>Create a key</h2>
        <div className="row">
          <TextField label="Key name" error={errors["api_key.name"]} value={name} onChange={setName} />
          <Field label="Owner (user)" error={errors["api_key.user"]}>
            {(id, d, inv) => (
              <select id={id} value={user} onChange={(e) => setUser(e.target.value)} aria-describedby={d} aria-invalid={inv}>
                <option value="">choose a user…</option>
                {(users.data?.users ?? (access.user ? [{ name: access.user }] : [])).map((u) => (
                  <option key={u.name} value={u.name}>
                    {u.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Expires (optional, UTC date)" error={errors["api_key.expire_time"]}>
            {(id, d, inv) => (
              <input id={id} type="date" value={expire} onChange={(e) => setExpire(e.target.value)} aria-describedby={d} aria-invalid={inv} />
            )}
          </Field>
        </div>
        <FormError message={errors[""]} />
        <button type="submit" disabled={create.isPending}>
          Create key
        </button>
      </form>
      )}
      <ErrorBox error={keys.error ?? revoke.error ?? rotate.error} />
      {keys.data && (
        <table>
          <caption>{keys.data.apiKeys.length} keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Owner</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <ActionsHeader />
            </tr>
          </thead>
          <tbody>
            {keys.data.apiKeys.map((k) => (
              <tr key={k.id}>
                <th scope="row">{k.name || k.id}</th>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.owner.case === "virtualAccount" ? `virtual account ${k.owner.value}` : k.owner.value}</td>
                <td>
                  <When t={k.createTime && timestampDate(k.createTime)} />
                </td>
                <td>
                  <When t={k.lastUsedTime && timestampDate(k.lastUsedTime)} />
                </td>
                <td>{k.revokeTime ? "revoked" : "active"}</td>
                <td>
                  {write && !k.revokeTime && rotating === k.id && (
                    <div className="row">
                      <label>
                        Old secret stops{" "}
                        <select value={grace} onChange={(e) => setGrace(e.target.value)}>
                          <option value="0">at once</option>
                          <option value="3600">in 1 hour</option>
                          <option value="86400">in 1 day</option>
                        </select>
                      </label>
                      <button type="button" onClick={() => rotate.mutate(k.id)} disabled={rotate.isPending}>
                        Confirm rotate {k.name}
                      </button>
                      <button type="button" className="secondary" onClick={() => setRotating(undefined)}>
                        Cancel
                      </button>
                    </div>
                  )}
                  {write && !k.revokeTime && rotating !== k.id && confirm !== k.id && (
                    <>
                      <button type="button" className="secondary" onClick={() => { setConfirm(undefined); setRotating(k.id); }} aria-label={`Rotate ${k.name || k.id}`}>
                        Rotate
                      </button>{" "}
                    </>
                  )}
                  {write && !k.revokeTime && rotating !== k.id &&
                    (confirm === k.id ? (
                      <>
                        <button type="button" className="danger" onClick={() => revoke.mutate(k.id)} disabled={revoke.isPending}>
                          Confirm revoke {k.name}
                        </button>{" "}
                        <button type="button" className="secondary" onClick={() => setConfirm(undefined)}>
                          Cancel
                        </button>
                      </>
                    ) : (
                      <button type="button" className="secondary" onClick={() => { setRotating(undefined); setConfirm(k.id); }} aria-label={`Revoke ${k.name || k.id}`}>
                        Revoke
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
