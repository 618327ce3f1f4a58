/**
 * A key's requests over time, stacked by outcome: an SVG for the eye and the same numbers as a
 * table for everyone else (screen readers, copy and paste).
 */
import type { UsageBucket } from "../api/client";
import { barScale, ChartFigure } from "./ChartFigure";

export const OUTCOMES = ["success", "forbidden", "rate_limited", "unauthorized"] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const OUTCOME_LABELS: Record<Outcome, string> = {
  success: "Success",
  forbidden: "Forbidden (403)",
  rate_limited: "Rate limited (429)",
  unauthorized: "Unauthorized (401)",
};

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
  const { step, x, y } = barScale(series.length, max);
  const barWidth = Math.max(1, step * 0.8);
  const described = OUTCOMES.map((o, i) => `${totals[i] ?? 0} ${OUTCOME_LABELS[o].toLowerCase()}`).join(", ");

  return (
    <ChartFigure
      id={id}
      title={title}
      description={`${title}: ${described}`}
      max={max}
      labels={series.map((bucket) => bucketLabel(bucket.start, granularity))}
      bars={series.map((bucket, i) => {
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
                  x={x(i) + (step - barWidth) / 2}
                  y={top}
                  width={barWidth}
                  height={Math.max(height, 0.5)}
                />
              );
            })}
          </g>
        );
      })}
      legend={OUTCOMES.map((o, i) => (
        <li key={o}>
          <span class={`swatch o-${o}`} aria-hidden="true" />
          {OUTCOME_LABELS[o]}: {totals[i]}
        </li>
      ))}
      columns={
        <>
          <th scope="col">Start</th>
          {OUTCOMES.map((o) => (
            <th scope="col" key={o}>
              {OUTCOME_LABELS[o]}
            </th>
          ))}
          <th scope="col">Total</th>
        </>
      }
      rows={series.map((bucket) => (
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
    />
  );
}
