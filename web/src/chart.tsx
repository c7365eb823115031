// LineChart draws series over the Usage API's time buckets as SVG lines, one colour per
// series (at most 8 colours, then they repeat). It is loaded with the Usage page only. The
// caller gives the text alternative: the chart is one image with a summary for screen readers,
// and the page offers the same numbers as a table.
export interface ChartSeries {
  name: string;
  // values, one per bucket of the layout (0 where the API returned no point)
  values: number[];
}

const W = 600;
const H = 160;

export function LineChart({ series, summary }: { series: ChartSeries[]; summary: string }) {
  const count = Math.max(1, ...series.map((s) => s.values.length));
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const x = (i: number) => (count === 1 ? W / 2 : (i / (count - 1)) * W);
  const y = (v: number) => H - 4 - (max ? (v / max) * (H - 8) : 0);
  return (
    <figure className="linechart">
      <svg className="chart" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={summary}>
        {series.map((s, i) => (
          <polyline
            key={s.name}
            className={`s${i % 8}`}
            vectorEffect="non-scaling-stroke"
            points={s.values.map((v, j) => `${x(j).toFixed(2)},${y(v).toFixed(2)}`).join(" ")}
          />
        ))}
      </svg>
      <figcaption>
        <ul className="legend">
          {series.map((s, i) => (
            <li key={s.name}>
              <span className={`swatch s${i % 8}`} aria-hidden="true" />
              {s.name}
            </li>
          ))}
        </ul>
        <span className="hint">Peak {max}.</span>
      </figcaption>
    </figure>
  );
}
