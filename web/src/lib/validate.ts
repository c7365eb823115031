// Client-side checks that mirror the Admin API's, so a form says what is wrong before it sends.
// The server checks again; its word is final (see errors.ts).

// nameRE is the Admin API's resource name rule (store.validateName).
const nameRE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function checkName(field: string, v: string): string | undefined {
  if (v === "") return `${field} is required`;
  if (!nameRE.test(v)) return `${field} must be 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`;
  return undefined;
}

export function checkEmail(v: string): string | undefined {
  if (v === "") return undefined;
  return /^[^\s@]+@[^\s@]+$/.test(v) ? undefined : "email must look like name@example.com";
}

// splitList turns "a, b ,,c" into ["a", "b", "c"].
export function splitList(v: string): string[] {
  return v.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

// checkNumber checks an optional number field within [min, max].
export function checkNumber(field: string, v: string, min: number, max: number): string | undefined {
  if (v.trim() === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) return `${field} must be a number`;
  if (n < min || n > max) return `${field} must be between ${min} and ${max}`;
  return undefined;
}

// checkPositive checks a required positive number; whole says it must be an integer.
export function checkPositive(field: string, v: string, whole: boolean): string | undefined {
  if (v.trim() === "") return `${field} is required`;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) return `${field} must be positive`;
  if (whole && !Number.isInteger(n)) return `${field} must be a whole number`;
  return undefined;
}

// checkURL accepts "" (the default) or an http(s) URL.
export function checkURL(field: string, v: string): string | undefined {
  if (v === "") return undefined;
  try {
    const u = new URL(v);
    if (u.protocol === "http:" || u.protocol === "https:") return undefined;
  } catch {
    // not a URL
  }
  return `${field} must be an http or https URL`;
}

// checkIssuer is the identity provider issuer rule: an https URL, http only to localhost.
export function checkIssuer(field: string, v: string): string | undefined {
  if (v === "") return `${field} is required`;
  try {
    const u = new URL(v);
    const local = u.hostname === "localhost" || u.hostname === "127.0.0.1" || u.hostname === "[::1]";
    if (u.protocol === "https:" || (u.protocol === "http:" && local)) return undefined;
  } catch {
    // not a URL
  }
  return `${field} must be an https URL (http only to localhost)`;
}

// checkModelName is the Admin API's model name rule (store.validateModelName).
export function checkModelName(field: string, v: string): string | undefined {
  if (v === "") return `${field} is required`;
  if (v.length > 128 || /[/*\s]/.test(v)) return `${field} must be at most 128 characters with no '/', no '*' and no whitespace`;
  return undefined;
}
