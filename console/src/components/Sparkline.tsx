/** A row-sized usage line: total requests per bucket, with its numbers in a table. */
import type { UsageBucket } from "../api/client";
import { bucketLabel, bucketTotal } from "./UsageChart";

const WIDTH = 96;
const HEIGHT = 24;

export function Sparkline({ id, label, series }: { id: string; label: string; series: UsageBucket[] }) {
  const values = series.map(bucketTotal);
  const max = Math.max(1, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const step = values.length > 1 ? WIDTH / (values.length - 1) : WIDTH;
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(HEIGHT - 2 - (v / max) * (HEIGHT - 4)).toFixed(1)}`)
    .join(" ");
  const titleId = `${id}-title`;
  return (
    <figure class="spark" data-testid={`${id}-figure`}>
      <svg role="img" aria-labelledby={titleId} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} class="spark-svg">
        <title id={titleId}>{`${label}: ${total} requests, at most ${max} in an hour`}</title>
        <polyline class="spark-line" points={points} />
      </svg>
      <details class="spark-data">
        <summary>
          {total}
          <span class="visually-hidden"> requests, show data</span>
        </summary>
        <table data-testid={`${id}-table`}>
          <caption class="visually-hidden">{label}</caption>
          <thead>
            <tr>
              <th scope="col">Hour</th>
              <th scope="col">Requests</th>
            </tr>
          </thead>
          <tbody>
            {series.map((bucket, i) => (
              <tr key={bucket.start}>
                <th scope="row">{bucketLabel(bucket.start, "hour")}</th>
                <td class="num">{values[i]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
