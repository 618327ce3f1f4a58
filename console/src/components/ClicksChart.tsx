/**
 * A link's clicks per day, human clicks and bot clicks side by side: an SVG for the eye and the
 * same numbers as a table (the conventions of `UsageChart`).
 */
import type { DayCount } from "../stats";

const WIDTH = 640;
const HEIGHT = 200;
const LEFT = 40;
const BOTTOM = 22;
const TOP = 8;

export function dayLabel(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  return d.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

export function ClicksChart({ id, title, days }: { id: string; title: string; days: DayCount[] }) {
  const clicks = days.reduce((sum, d) => sum + d.clicks, 0);
  const bots = days.reduce((sum, d) => sum + d.bot_clicks, 0);
  const max = Math.max(1, ...days.map((d) => Math.max(d.clicks, d.bot_clicks)));
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const step = days.length > 0 ? plotWidth / days.length : plotWidth;
  const barWidth = Math.max(0.5, step * 0.4);
  const y = (value: number) => TOP + plotHeight - (value / max) * plotHeight;
  const titleId = `${id}-title`;
  const first = days[0];
  const last = days[days.length - 1];
  return (
    <figure class="chart" data-testid={`${id}-figure`}>
      <svg
        role="img"
        aria-labelledby={titleId}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="xMidYMid meet"
        class="chart-svg"
      >
        <title
          id={titleId}
        >{`${title}: ${clicks} clicks, ${bots} bot clicks, at most ${max} in a day`}</title>
        <line class="axis" x1={LEFT} y1={TOP + plotHeight} x2={WIDTH - 4} y2={TOP + plotHeight} />
        <line class="grid" x1={LEFT} y1={TOP} x2={WIDTH - 4} y2={TOP} />
        <text class="tick" x={LEFT - 6} y={TOP + 4} text-anchor="end">
          {max}
        </text>
        <text class="tick" x={LEFT - 6} y={TOP + plotHeight} text-anchor="end">
          0
        </text>
        {days.map((day, i) => {
          const x = LEFT + i * step + step * 0.1;
          return (
            <g key={day.date}>
              {day.clicks > 0 ? (
                <rect
                  class="bar c-clicks"
                  x={x}
                  y={y(day.clicks)}
                  width={barWidth}
                  height={Math.max(TOP + plotHeight - y(day.clicks), 0.5)}
                />
              ) : null}
              {day.bot_clicks > 0 ? (
                <rect
                  class="bar c-bots"
                  x={x + barWidth}
                  y={y(day.bot_clicks)}
                  width={barWidth}
                  height={Math.max(TOP + plotHeight - y(day.bot_clicks), 0.5)}
                />
              ) : null}
            </g>
          );
        })}
        {first ? (
          <text class="tick" x={LEFT} y={HEIGHT - 6}>
            {dayLabel(first.date)}
          </text>
        ) : null}
        {last && last !== first ? (
          <text class="tick" x={WIDTH - 4} y={HEIGHT - 6} text-anchor="end">
            {dayLabel(last.date)}
          </text>
        ) : null}
      </svg>
      <figcaption>
        <ul class="legend">
          <li>
            <span class="swatch c-clicks" aria-hidden="true" />
            Clicks: <span data-testid={`${id}-clicks`}>{clicks}</span>
          </li>
          <li>
            <span class="swatch c-bots" aria-hidden="true" />
            Bot clicks: <span data-testid={`${id}-bots`}>{bots}</span>
          </li>
        </ul>
        <details>
          <summary>Show data</summary>
          <div class="table-scroll">
            <table data-testid={`${id}-table`}>
              <caption>{title}</caption>
              <thead>
                <tr>
                  <th scope="col">Day (UTC)</th>
                  <th scope="col">Clicks</th>
                  <th scope="col">Bot clicks</th>
                </tr>
              </thead>
              <tbody>
                {days.map((day) => (
                  <tr key={day.date}>
                    <th scope="row">
                      <time dateTime={day.date}>{dayLabel(day.date)}</time>
                    </th>
                    <td class="num">{day.clicks}</td>
                    <td class="num">{day.bot_clicks}</td>
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
