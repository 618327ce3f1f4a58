/**
 * A link's clicks per day, human clicks and bot clicks side by side: an SVG for the eye and the
 * same numbers as a table (in the frame `ChartFigure` draws).
 */
import type { DayCount } from "../stats";
import { barScale, ChartFigure } from "./ChartFigure";

export function dayLabel(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  return d.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

export function ClicksChart({ id, title, days }: { id: string; title: string; days: DayCount[] }) {
  const clicks = days.reduce((sum, d) => sum + d.clicks, 0);
  const bots = days.reduce((sum, d) => sum + d.bot_clicks, 0);
  const max = Math.max(1, ...days.map((d) => Math.max(d.clicks, d.bot_clicks)));
  const { step, x: slot, y } = barScale(days.length, max);
  const barWidth = Math.max(0.5, step * 0.4);
  return (
    <ChartFigure
      id={id}
      title={title}
      description={`${title}: ${clicks} clicks, ${bots} bot clicks, at most ${max} in a day`}
      max={max}
      labels={days.map((day) => dayLabel(day.date))}
      bars={days.map((day, i) => {
        const x = slot(i) + step * 0.1;
        return (
          <g key={day.date}>
            {day.clicks > 0 ? (
              <rect
                class="bar c-clicks"
                x={x}
                y={y(day.clicks)}
                width={barWidth}
                height={Math.max(y(0) - y(day.clicks), 0.5)}
              />
            ) : null}
            {day.bot_clicks > 0 ? (
              <rect
                class="bar c-bots"
                x={x + barWidth}
                y={y(day.bot_clicks)}
                width={barWidth}
                height={Math.max(y(0) - y(day.bot_clicks), 0.5)}
              />
            ) : null}
          </g>
        );
      })}
      legend={
        <>
          <li>
            <span class="swatch c-clicks" aria-hidden="true" />
            Clicks: <span data-testid={`${id}-clicks`}>{clicks}</span>
          </li>
          <li>
            <span class="swatch c-bots" aria-hidden="true" />
            Bot clicks: <span data-testid={`${id}-bots`}>{bots}</span>
          </li>
        </>
      }
      columns={
        <>
          <th scope="col">Day (UTC)</th>
          <th scope="col">Clicks</th>
          <th scope="col">Bot clicks</th>
        </>
      }
      rows={days.map((day) => (
        <tr key={day.date}>
          <th scope="row">
            <time dateTime={day.date}>{dayLabel(day.date)}</time>
          </th>
          <td class="num">{day.clicks}</td>
          <td class="num">{day.bot_clicks}</td>
        </tr>
      ))}
    />
  );
}
