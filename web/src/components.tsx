import { useId, type ReactNode } from "react";
import { ConnectError } from "@connectrpc/connect";

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
