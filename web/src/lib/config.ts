// The Config (YAML) page's helpers: where in the YAML a refusal points.

// errorLine is the line a PlanConfig refusal names ("line 12: document 4: ..."), or undefined.
export function errorLine(message: string): number | undefined {
  const m = /^line (\d+): /.exec(message);
  return m ? Number(m[1]) : undefined;
}

// lineRange is the [start, end) character offsets of the 1-based line in text, or undefined
// when text has no such line.
export function lineRange(text: string, line: number): [number, number] | undefined {
  if (line < 1) return undefined;
  let start = 0;
  for (let i = 1; i < line; i++) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) return undefined;
    start = nl + 1;
  }
  const end = text.indexOf("\n", start);
  return [start, end < 0 ? text.length : end];
}
