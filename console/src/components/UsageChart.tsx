/**
 * A key's requests over time, stacked by outcome: an SVG for the eye and the same numbers as a
 * table for everyone else (screen readers, copy and paste).
 */
import type { UsageBucket } from "../api/client";

export const OUTCOMES = ["success", "forbidden", "rate_limited", "unauthorized"] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const OUTCOME_LABELS: Record<Outcome, string> = {
  success: "Success",
  forbidden: "Forbidden (403)",
  rate_limited: "Rate limited (429)",
  unauthorized: "Unauthorized (401)",
};

const WIDTH = 640;
const HEIGHT = 200;
const LEFT = 40;
const BOTTOM = 22;
const TOP = 8;

export function bucketTotal(bucket: UsageBucket): number {
  return OUTCOMES.reduce((sum, o) => sum + bucket[o], 0);
}

export function bucketLabel(start: string, granularity: string): string {
  const date = new Date(start);
  if (Number.isNaN(date.getTime())) return start;
  return granularity === "day"
    ? date.toLocaleDateString(undefined, { month: "short", day: "numeric" })
    : date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

interface Props {
  id: string;
  title: string;
  series: UsageBucket[];
  granularity: string;
}

export function UsageChart({ id, title, series, granularity }: Props) {
  const totals = OUTCOMES.map((o) => series.reduce((sum, b) => sum + b[o], 0));
  const max = Math.max(1, ...series.map(bucketTotal));
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const step = series.length > 0 ? plotWidth / series.length : plotWidth;
  const barWidth = Math.max(1, step * 0.8);
  const y = (value: number) => TOP + plotHeight - (value / max) * plotHeight;
  const titleId = `${id}-title`;
  const described = OUTCOMES.map((o, i) => `${totals[i] ?? 0} ${OUTCOME_LABELS[o].toLowerCase()}`).join(", ");
  const first = series[0];
  const last = series[series.length - 1];

  return (
    <figure class="chart" data-testid={`${id}-figure`}>
      <svg
        role="img"
        aria-labelledby={titleId}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="xMidYMid meet"
        class="chart-svg"
      >
        <title id={titleId}>{`${title}: ${described}`}</title>
        <line class="axis" x1={LEFT} y1={TOP + plotHeight} x2={WIDTH - 4} y2={TOP + plotHeight} />
        <line class="grid" x1={LEFT} y1={TOP} x2={WIDTH - 4} y2={TOP} />
        <text class="tick" x={LEFT - 6} y={TOP + 4} text-anchor="end">
          {max}
        </text>
        <text class="tick" x={LEFT - 6} y={TOP + plotHeight} text-anchor="end">
          0
        </text>
        {series.map((bucket, i) => {
          let base = 0;
          return (
            <g key={bucket.start}>
              {OUTCOMES.map((outcome) => {
                const value = bucket[outcome];
                if (value === 0) return null;
                const top = y(base + value);
                const height = y(base) - top;
                base += value;
                return (
                  <rect
                    key={outcome}
                    class={`bar o-${outcome}`}
                    x={LEFT + i * step + (step - barWidth) / 2}
                    y={top}
                    width={barWidth}
                    height={Math.max(height, 0.5)}
                  />
                );
              })}
            </g>
          );
        })}
        {first ? (
          <text class="tick" x={LEFT} y={HEIGHT - 6}>
            {bucketLabel(first.start, granularity)}
          </text>
        ) : null}
        {last && last !== first ? (
          <text class="tick" x={WIDTH - 4} y={HEIGHT - 6} text-anchor="end">
            {bucketLabel(last.start, granularity)}
          </text>
        ) : null}
      </svg>
      <figcaption>
        <ul class="legend">
          {OUTCOMES.map((o, i) => (
            <li key={o}>
              <span class={`swatch o-${o}`} aria-hidden="true" />
              {OUTCOME_LABELS[o]}: {totals[i]}
            </li>
          ))}
        </ul>
        <details>
          <summary>Show data</summary>
          <div class="table-scroll">
            <table data-testid={`${id}-table`}>
              <caption>{title}</caption>
              <thead>
                <tr>
                  <th scope="col">Start</th>
                  {OUTCOMES.map((o) => (
                    <th scope="col" key={o}>
                      {OUTCOME_LABELS[o]}
                    </th>
                  ))}
                  <th scope="col">Total</th>
                </tr>
              </thead>
              <tbody>
                {series.map((bucket) => (
                  <tr key={bucket.start}>
                    <th scope="row">
                      <time dateTime={bucket.start}>{bucketLabel(bucket.start, granularity)}</time>
                    </th>
                    {OUTCOMES.map((o) => (
                      <td key={o} class="num">
                        {bucket[o]}
                      </td>
                    ))}
                    <td class="num">{bucketTotal(bucket)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </figcaption>
    </figure>
  );
}
