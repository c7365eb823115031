import { useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ConnectError } from "@connectrpc/connect";
import { ConfigAction, type ApplyConfigResponse, type ConfigChange, type PlanConfigResponse } from "@gen/llmgw/admin/v1/admin_pb";
import { useAccess, useApi } from "../context";
import { mayWrite } from "../lib/access";
import { ErrorBox, Field } from "../components";
import { errorLine, lineRange } from "../lib/config";

const actionLabel: Record<ConfigAction, string> = {
  [ConfigAction.UNSPECIFIED]: "?",
  [ConfigAction.UNCHANGED]: "unchanged",
  [ConfigAction.CREATE]: "create",
  [ConfigAction.UPDATE]: "update",
};

// Config shows the stored configuration as the config file's YAML (ExportConfig), the same
// text `llmgw apply` takes. An admin edits it, reviews the server's plan (PlanConfig: each
// resource to create or update, field by field) and applies exactly the plan reviewed
// (ApplyConfig with its plan_hash). Everyone else reads it and may review changes.
export default function Config() {
  const { api } = useApi();
  const queries = useQueryClient();
  // Only the admin role may apply (services/admin/authz.go), as lib/access.ts says of every
  // config page's writes.
  const readOnly = !mayWrite(useAccess(), "config");
  const exported = useQuery({ queryKey: ["config-export"], queryFn: () => api.admin.exportConfig({}) });
  const [draft, setDraft] = useState<string>();
  const [reviewed, setReviewed] = useState<{ yaml: string; plan: PlanConfigResponse }>();
  const [applied, setApplied] = useState<ApplyConfigResponse>();
  const yaml = draft ?? exported.data?.yaml ?? "";
  const box = useRef<HTMLTextAreaElement>(null);

  const review = useMutation({
    mutationFn: (text: string) => api.admin.planConfig({ yaml: text }),
    onSuccess: (plan, text) => {
      setReviewed({ yaml: text, plan });
      setApplied(undefined);
    },
    onError: (err, text) => {
      setReviewed(undefined);
      // Select the line the refusal names, so the cursor is where the problem is.
      const line = errorLine(ConnectError.from(err).rawMessage);
      const range = line === undefined ? undefined : lineRange(text, line);
      if (range && box.current) {
        box.current.focus();
        box.current.setSelectionRange(...range);
      }
    },
  });
  const apply = useMutation({
    mutationFn: (r: { yaml: string; plan: PlanConfigResponse }) => api.admin.applyConfig({ yaml: r.yaml, planHash: r.plan.planHash }),
    onSuccess: async (res) => {
      setApplied(res);
      setReviewed(undefined);
      setDraft(undefined);
      await queries.invalidateQueries();
    },
  });
  const stale = reviewed !== undefined && reviewed.yaml !== yaml;
  const toWrite = reviewed ? reviewed.plan.created + reviewed.plan.updated : 0;

  return (
    <section aria-labelledby="config-h">
      <h1 id="config-h">Config (YAML)</h1>
      <p className="hint">
        The stored provider accounts and models, virtual models, routing rules, access rules, rate limits and budgets, as the YAML that
        <code> llmgw serve --config</code> and <code>llmgw apply</code> read. Secrets are never shown: a stored key reads
        &quot;(redacted: stored, write-only)&quot;, which keeps it. Applying is additive: a resource missing from the YAML is left alone.
        {readOnly && " You may review changes; only an admin may apply them."}
      </p>
      <ErrorBox error={exported.error} />
      <div className="card">
        <Field label="Configuration YAML" error={review.error ? ConnectError.from(review.error).rawMessage : undefined}>
          {(id, d, inv) => (
            <textarea
              ref={box}
              id={id}
              className="yaml"
              rows={24}
              spellCheck={false}
              readOnly={readOnly}
              value={yaml}
              onChange={(e) => {
                setDraft(e.target.value);
                setApplied(undefined);
              }}
              aria-describedby={d}
              aria-invalid={inv}
            />
          )}
        </Field>
        <div className="row">
          <button type="button" onClick={() => review.mutate(yaml)} disabled={!exported.data || review.isPending}>
            Review changes
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setDraft(undefined);
              setReviewed(undefined);
              review.reset();
            }}
            disabled={draft === undefined}
          >
            Discard edits
          </button>
        </div>
      </div>
      {reviewed && (
        <section className="card" aria-labelledby="plan-h">
          <h2 id="plan-h">Changes</h2>
          <p role="status" data-testid="plan-counts">
            {reviewed.plan.created} to create, {reviewed.plan.updated} to update, {reviewed.plan.unchanged} unchanged
          </p>
          <PlanTable changes={reviewed.plan.changes.filter((c) => c.action !== ConfigAction.UNCHANGED)} label="Planned changes" />
          {stale && <p className="error">The YAML has changed since this review: review the changes again before applying.</p>}
          {!readOnly && toWrite > 0 && (
            <button type="button" onClick={() => apply.mutate(reviewed)} disabled={stale || apply.isPending}>
              Apply {toWrite} {toWrite === 1 ? "change" : "changes"}
            </button>
          )}
          <ErrorBox error={apply.error} />
        </section>
      )}
      {applied && (
        <section className="card" aria-labelledby="applied-h">
          <h2 id="applied-h">Applied</h2>
          <p role="status">{applied.written} written</p>
          <PlanTable changes={applied.applied} label="Applied changes" />
        </section>
      )}
    </section>
  );
}

function PlanTable({ changes, label }: { changes: ConfigChange[]; label: string }) {
  if (changes.length === 0) return <p>Nothing to write: the stored configuration already matches.</p>;
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Action</th>
          <th scope="col">Kind</th>
          <th scope="col">Name</th>
          <th scope="col">Fields (old → new)</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((c) => (
          <tr key={`${c.kind}|${c.name}`}>
            <td>{actionLabel[c.action]}</td>
            <td>{c.kind}</td>
            <th scope="row">{c.name}</th>
            <td>
              <ul className="fields">
                {c.fields.map((f) => (
                  <li key={f.path}>
                    <code>{f.path}</code>:{" "}
                    {c.action === ConfigAction.CREATE ? (
                      <ins>{f.newValue}</ins>
                    ) : (
                      <>
                        <del>{f.oldValue}</del> → <ins>{f.newValue}</ins>
                      </>
                    )}
                  </li>
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
