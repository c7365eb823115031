import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ActionsHeader, ErrorBox, FormError, SecretOnce, TextField, When } from "../components";
import { fieldError } from "../lib/errors";
import { checkName } from "../lib/validate";

// The request's only field is "name"; a duplicate is refused as `gateway token "x" already exists`.
const fields = ["name", "gateway_token.name"] as const;

export default function GatewayTokens() {
  const { api } = useApi();
  const access = useAccess();
  const write = mayWrite(access, "config");
  const qc = useQueryClient();
  const tokens = useQuery({ queryKey: ["gateway-tokens"], queryFn: () => api.admin.listGatewayTokens({}) });
  const [name, setName] = useState("");
  const [error, setError] = useState<{ name?: string; form?: string }>({});
  // The new token's secret: only in this component's state, shown once, dropped on Done.
  const [secret, setSecret] = useState<{ name: string; value: string }>();
  const [confirm, setConfirm] = useState<string>();

  const create = useMutation({
    mutationFn: () => api.admin.createGatewayToken({ name }),
    onSuccess: (res) => {
      setSecret({ name: res.gatewayToken?.name ?? "", value: res.secret });
      setName("");
      return qc.invalidateQueries({ queryKey: ["gateway-tokens"] });
    },
    onError: (err) => {
      const fe = fieldError(err, fields);
      setError(fe.field === "" ? { form: fe.message } : { name: fe.message });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.admin.revokeGatewayToken({ id }),
    onSettled: () => {
      setConfirm(undefined);
      return qc.invalidateQueries({ queryKey: ["gateway-tokens"] });
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const msg = checkName("name", name);
    setError({ name: msg });
    if (msg) return;
    create.mutate();
  }

  return (
    <section aria-labelledby="gwt-h">
      <h1 id="gwt-h">Gateway tokens</h1>
      <p>
        A gateway replica (<code>serve --role gateway</code>) presents a gateway token, as <code>LLMGW_GATEWAY_TOKEN</code>, to
        fetch its configuration from the control plane. Revoking one ends its replicas&apos; configuration stream at once.
      </p>
      {secret && (
        <SecretOnce
          key={secret.value}
          label="New gateway token secret"
          heading={`Gateway token “${secret.name}” created`}
          value={secret.value}
          onDone={() => setSecret(undefined)}
        />
      )}
      {write && (
      <form onSubmit={submit} onChange={() => setError({})} noValidate className="card" aria-label="Create a gateway token">
        <h2>Create a gateway token</h2>
        <div className="row">
          <TextField label="Token name" error={error.name} hint="names the replica or group of replicas that use it" value={name} onChange={setName} />
        </div>
        <FormError message={error.form} />
        <button type="submit" disabled={create.isPending}>
          Create token
        </button>
      </form>
      )}
      <ErrorBox error={tokens.error ?? revoke.error} />
      {tokens.data && (
        <table>
          <caption>{tokens.data.gatewayTokens.length} gateway tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Created</th>
              <th scope="col">Status</th>
              <ActionsHeader />
            </tr>
          </thead>
          <tbody>
            {tokens.data.gatewayTokens.map((t) => (
              <tr key={t.id}>
                <th scope="row">{t.name}</th>
                <td>
                  <code>{t.prefix}…</code>
                </td>
                <td>
                  <When t={t.createTime && timestampDate(t.createTime)} />
                </td>
                <td>{t.revokeTime ? "revoked" : "active"}</td>
                <td>
                  {write && !t.revokeTime &&
                    (confirm === t.id ? (
                      <>
                        <button type="button" className="danger" onClick={() => revoke.mutate(t.id)} disabled={revoke.isPending}>
                          Confirm revoke {t.name}
                        </button>{" "}
                        <button type="button" className="secondary" onClick={() => setConfirm(undefined)}>
                          Cancel
                        </button>
                      </>
                    ) : (
                      <button type="button" className="secondary" onClick={() => setConfirm(t.id)} aria-label={`Revoke ${t.name}`}>
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
