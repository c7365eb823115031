import { useId, useState, type ReactNode } from "react";
import { ConnectError } from "@connectrpc/connect";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { fieldError } from "./lib/errors";

// Field is a labelled control with its error beneath, tied by aria-describedby.
export function Field(props: {
  label: string;
  error?: string;
  hint?: string;
  children: (id: string, describedBy: string | undefined, invalid: boolean) => ReactNode;
}) {
  const id = useId();
  const errId = `${id}-err`;
  const hintId = `${id}-hint`;
  const describedBy = [props.error ? errId : "", props.hint ? hintId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, describedBy, !!props.error)}
      {props.hint && (
        <small id={hintId} className="hint">
          {props.hint}
        </small>
      )}
      {props.error && (
        <small id={errId} className="error" role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

// TextField is a Field holding a plain text input bound to value.
export function TextField(props: { label: string; error?: string; hint?: string; value: string; onChange: (v: string) => void }) {
  return (
    <Field label={props.label} error={props.error} hint={props.hint}>
      {(id, d, inv) => <input id={id} value={props.value} onChange={(e) => props.onChange(e.target.value)} aria-describedby={d} aria-invalid={inv} />}
    </Field>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {ConnectError.from(error).rawMessage}
    </p>
  );
}

export function When({ t }: { t?: Date }) {
  if (!t) return <>—</>;
  return <time dateTime={t.toISOString()}>{t.toISOString().replace("T", " ").slice(0, 19)} UTC</time>;
}

// FormError is a form's error that names no field.
export function FormError({ message }: { message?: string }) {
  if (!message) return null;
  return (
    <p className="error" role="alert">
      {message}
    </p>
  );
}

// DeleteButton deletes after a confirmation: "Delete <name>" shows "Confirm delete <name>"
// and Cancel; only the confirmation calls onDelete.
export function DeleteButton(props: { name: string; onDelete: () => void; pending?: boolean }) {
  const [confirm, setConfirm] = useState(false);
  if (!confirm) {
    return (
      <button type="button" className="secondary" onClick={() => setConfirm(true)} aria-label={`Delete ${props.name}`}>
        Delete
      </button>
    );
  }
  return (
    <>
      <button type="button" className="danger" onClick={props.onDelete} disabled={props.pending}>
        Confirm delete {props.name}
      </button>{" "}
      <button type="button" className="secondary" onClick={() => setConfirm(false)}>
        Cancel
      </button>
    </>
  );
}

// EditButton opens a row's edit form; its accessible name says which row.
export function EditButton({ name, onClick }: { name: string; onClick: () => void }) {
  return (
    <button type="button" className="secondary" onClick={onClick} aria-label={`Edit ${name}`}>
      Edit
    </button>
  );
}

export type Errors = Record<string, string | undefined>;

// useSave is a write of a form: on success it runs onDone and refreshes keys' queries (every
// query when keys is empty); on failure it puts the server's error at the field it names
// (errors.ts), or the form's error ("").
export function useSave<A, T>(fields: readonly string[], fn: (a: A) => Promise<T>, onDone: (res: T) => void, keys: string[][] = []) {
  const qc = useQueryClient();
  const [errors, setErrors] = useState<Errors>({});
  const m = useMutation({
    mutationFn: fn,
    onSuccess: (res) => {
      onDone(res);
      if (!keys.length) return qc.invalidateQueries();
      return Promise.all(keys.map((k) => qc.invalidateQueries({ queryKey: k })));
    },
    onError: (err) => {
      const fe = fieldError(err, fields);
      setErrors({ [fe.field]: fe.message });
    },
  });
  return { m, errors, setErrors };
}

// hasErrors reports whether a form's client-side checks found anything.
export function hasErrors(errs: Errors): boolean {
  return Object.values(errs).some(Boolean);
}

// SaveCancel are an edit form's buttons.
export function SaveCancel({ pending, onCancel }: { pending: boolean; onCancel: () => void }) {
  return (
    <div>
      <button type="submit" disabled={pending}>
        Save
      </button>{" "}
      <button type="button" className="secondary" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

// SecretOnce shows a secret the server returns only once (a new key or token): the secret, a
// Copy button that writes it to the clipboard and says so, and Done, which drops it (onDone).
// Give it a key of the secret so that a new secret starts with "copied" cleared.
export function SecretOnce(props: { label: string; heading: string; value: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="card secret" role="region" aria-label={props.label}>
      <h2>{props.heading}</h2>
      <p>Copy the secret now: it is shown only once and cannot be retrieved later.</p>
      <div className="row">
        <code data-testid="secret">{props.value}</code>
        <button
          type="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(props.value);
              setCopied(true);
            } catch {
              setCopied(false);
            }
          }}
        >
          Copy
        </button>
        <button type="button" className="secondary" onClick={props.onDone}>
          Done
        </button>
      </div>
      <p role="status">{copied ? "Copied to the clipboard." : ""}</p>
    </div>
  );
}

// ActionsHeader is the header of a table's row-actions column: no visible text, named for
// screen readers.
export function ActionsHeader() {
  return (
    <th scope="col">
      <span className="sr-only">Actions</span>
    </th>
  );
}

// RowActions is a row's actions cell: Edit and Delete (with its confirmation), both named for
// the row.
export function RowActions(props: { name: string; onEdit: () => void; onDelete: () => void; pending?: boolean }) {
  return (
    <td>
      <EditButton name={props.name} onClick={props.onEdit} />{" "}
      <DeleteButton name={props.name} onDelete={props.onDelete} pending={props.pending} />
    </td>
  );
}

// EditRow is the table row, under the row being edited, that holds its edit form across
// colSpan columns.
export function EditRow({ colSpan, children }: { colSpan: number; children: ReactNode }) {
  return (
    <tr>
      <td colSpan={colSpan}>{children}</td>
    </tr>
  );
}
