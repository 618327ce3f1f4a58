/**
 * The frame the console's bar charts share: an SVG for the eye (axis, the top value, the first
 * and last labels) and the same numbers as a table for everyone else (screen readers, copy and
 * paste).
 */
import type { ComponentChildren } from "preact";

const WIDTH = 640;
const HEIGHT = 200;
const LEFT = 40;
const BOTTOM = 22;
const TOP = 8;
const PLOT_WIDTH = WIDTH - LEFT - 4;
const PLOT_HEIGHT = HEIGHT - TOP - BOTTOM;

export interface BarScale {
  /** The width each of the `count` slots takes. */
  step: number;
  /** Where slot `i` starts. */
  x: (i: number) => number;
  /** The height of `value` as an SVG y (from 0 to `max`). */
  y: (value: number) => number;
}

export function barScale(count: number, max: number): BarScale {
  const step = count > 0 ? PLOT_WIDTH / count : PLOT_WIDTH;
  return {
    step,
    x: (i) => LEFT + i * step,
    y: (value) => TOP + PLOT_HEIGHT - (value / max) * PLOT_HEIGHT,
  };
}

interface Props {
  id: string;
  title: string;
  /** The SVG's accessible name. */
  description: string;
  max: number;
  /** One label a bar: the first and last are drawn under the axis. */
  labels: string[];
  bars: ComponentChildren;
  legend: ComponentChildren;
  /** The table's header cells and rows. */
  columns: ComponentChildren;
  rows: ComponentChildren;
}

export function ChartFigure({ id, title, description, max, labels, bars, legend, columns, rows }: Props) {
  const titleId = `${id}-title`;
  const first = labels[0];
  const last = labels.length > 1 ? labels[labels.length - 1] : undefined;
  return (
    <figure class="chart" data-testid={`${id}-figure`}>
      <svg
        role="img"
        aria-labelledby={titleId}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="xMidYMid meet"
        class="chart-svg"
      >
        <title id={titleId}>{description}</title>
        <line class="axis" x1={LEFT} y1={TOP + PLOT_HEIGHT} x2={WIDTH - 4} y2={TOP + PLOT_HEIGHT} />
        <line class="grid" x1={LEFT} y1={TOP} x2={WIDTH - 4} y2={TOP} />
        <text class="tick" x={LEFT - 6} y={TOP + 4} text-anchor="end">
          {max}
        </text>
        <text class="tick" x={LEFT - 6} y={TOP + PLOT_HEIGHT} text-anchor="end">
          0
        </text>
        {bars}
        {first !== undefined ? (
          <text class="tick" x={LEFT} y={HEIGHT - 6}>
            {first}
          </text>
        ) : null}
        {last !== undefined ? (
          <text class="tick" x={WIDTH - 4} y={HEIGHT - 6} text-anchor="end">
            {last}
          </text>
        ) : null}
      </svg>
      <figcaption>
        <ul class="legend">{legend}</ul>
        <details>
          <summary>Show data</summary>
          <div class="table-scroll">
            <table data-testid={`${id}-table`}>
              <caption>{title}</caption>
              <thead>
                <tr>{columns}</tr>
              </thead>
              <tbody>{rows}</tbody>
            </table>
          </div>
        </details>
      </figcaption>
    </figure>
  );
}
