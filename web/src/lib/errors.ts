// Placing a server error next to the form field it names. The Admin API refuses invalid input
// with InvalidArgument and a message that starts with, or contains, the field's path
// ("user.name \"Bob\" must be ...", "api_key.expire_time must be in the future"); a duplicate
// is AlreadyExists naming the resource ("user \"bob\" already exists"), a reference to a
// missing one InvalidArgument naming it ("team \"eng\" does not exist").
import { ConnectError, Code } from "@connectrpc/connect";

export interface FieldError {
  // field is the form field's API path, or "" for an error of the whole form.
  field: string;
  message: string;
}

// fieldError finds which of fields (API paths such as "user.name") an error is about: the
// longest path the message names as a whole word, or, for AlreadyExists, the path ending in
// ".name" of the resource the message starts with, or the longest path that one it names is
// under. Anything else is the form's error.
export function fieldError(err: unknown, fields: readonly string[]): FieldError {
  const ce = ConnectError.from(err);
  const message = ce.rawMessage;
  const named = [...fields]
    .sort((a, b) => b.length - a.length)
    .find((f) => new RegExp(`(^|[^\\w.])${escape(f)}($|[^\\w.])`).test(message));
  if (named) return { field: named, message };
  // A path under a field ("...override_params.temperature", "...headers_override.set.Host")
  // is about that field, the longest such.
  const parent = [...fields]
    .sort((a, b) => b.length - a.length)
    .find((f) => new RegExp(`(^|[^\\w.])${escape(f)}[.[]`).test(message));
  if (parent) return { field: parent, message };
  // `<resource> "<name>" already exists` is about the resource's own name; `<resource>
  // "<name>" does not exist` about the field that refers to it (user.teams for a team,
  // api_key.user for a user).
  const m = /^([a-z][a-z ]*?) "[^"]*" (already exists|does not exist)/.exec(message);
  if (m) {
    const resource = m[1].replace(/ /g, "_");
    const f =
      ce.code === Code.AlreadyExists
        ? fields.find((p) => p === `${resource}.name`)
        : fields.find((p) => {
            const last = p.slice(p.lastIndexOf(".") + 1);
            return last === resource || last === `${resource}s`;
          });
    if (f) return { field: f, message };
  }
  return { field: "", message };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
