import { render, screen, within } from "@testing-library/preact";
import { describe, expect, it } from "vitest";
import type { UsageBucket } from "../api/client";
import { Sparkline } from "./Sparkline";
import { UsageChart } from "./UsageChart";

const series: UsageBucket[] = [
  { start: "2026-12-06T08:00:00Z", success: 5, forbidden: 1, rate_limited: 0, unauthorized: 0 },
  { start: "2026-12-06T09:00:00Z", success: 0, forbidden: 0, rate_limited: 0, unauthorized: 0 },
  { start: "2026-12-06T10:00:00Z", success: 3, forbidden: 0, rate_limited: 2, unauthorized: 1 },
];

describe("UsageChart", () => {
  it("has a table holding exactly the numbers it draws", () => {
    render(<UsageChart id="u" title="Requests per hour" series={series} granularity="hour" />);
    const rows = within(screen.getByTestId("u-table")).getAllByRole("row").slice(1);
    const cells = rows.map((row) =>
      Array.from(row.querySelectorAll("td")).map((td) => Number(td.textContent)),
    );
    expect(cells).toEqual([
      [5, 1, 0, 0, 6],
      [0, 0, 0, 0, 0],
      [3, 0, 2, 1, 6],
    ]);
    // One bar segment per non-zero count.
    expect(document.querySelectorAll("rect.bar")).toHaveLength(5);
    expect(document.querySelectorAll("rect.o-rate_limited")).toHaveLength(1);
  });

  it("is an image named by its title, with the totals", () => {
    render(<UsageChart id="u" title="Requests per hour" series={series} granularity="hour" />);
    const img = screen.getByRole("img");
    const title = document.getElementById(img.getAttribute("aria-labelledby") ?? "");
    expect(title?.tagName.toLowerCase()).toBe("title");
    expect(title?.textContent).toContain("8 success");
    expect(title?.textContent).toContain("2 rate limited");
  });
});

describe("Sparkline", () => {
  it("tabulates the total per bucket", () => {
    render(<Sparkline id="s" label="Requests" series={series} />);
    const values = within(screen.getByTestId("s-table"))
      .getAllByRole("row")
      .slice(1)
      .map((row) => Number(row.querySelector("td")?.textContent));
    expect(values).toEqual([6, 0, 6]);
    expect(document.querySelector("polyline")?.getAttribute("points")?.split(" ")).toHaveLength(3);
  });
});
