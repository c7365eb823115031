// Placing a server error next to the form field it names. The Admin API refuses invalid input
// with InvalidArgument and a message that starts with, or contains, the field's path
// ("user.name \"Bob\" must be ...", "api_key.expire_time must be in the future"); a duplicate
// is AlreadyExists naming the resource ("user \"bob\" already exists").
import { ConnectError, Code } from "@connectrpc/connect";

export interface FieldError {
  // field is the form field's API path, or "" for an error of the whole form.
  field: string;
  message: string;
}

// fieldError finds which of fields (API paths such as "user.name") an error is about: the
// longest path the message names as a whole word, or, for AlreadyExists, the path ending in
// ".name" of the resource the message starts with. Anything else is the form's error.
export function fieldError(err: unknown, fields: readonly string[]): FieldError {
  const ce = ConnectError.from(err);
  const message = ce.rawMessage;
  const named = [...fields]
    .sort((a, b) => b.length - a.length)
    .find((f) => new RegExp(`(^|[^\\w.])${escape(f)}($|[^\\w.\\[])`).test(message));
  if (named) return { field: named, message };
  if (ce.code === Code.AlreadyExists) {
    const resource = message.split(" ")[0].replace(/ /g, "_");
    const f = fields.find((p) => p === `${resource}.name`);
    if (f) return { field: f, message };
  }
  return { field: "", message };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
