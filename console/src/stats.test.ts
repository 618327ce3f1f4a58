import { describe, expect, it } from "vitest";
import type { LinkStats } from "./api/client";
import { csvField, defaultRange, fillDays, rangeProblem, readRange, statsCsv, statsFileName } from "./stats";

const NOW = Date.parse("2026-12-06T15:30:00Z");

describe("the stats date range in the address", () => {
  it("defaults to the 30 UTC days through today", () => {
    expect(defaultRange(NOW)).toEqual({ from: "2026-11-07", to: "2026-12-06" });
    expect(readRange(new URLSearchParams(""), NOW)).toEqual({ from: "2026-11-07", to: "2026-12-06" });
  });

  it("reads both bounds, and completes one bound to 30 days", () => {
    expect(readRange(new URLSearchParams("from=2026-01-01&to=2026-01-31"), NOW)).toEqual({
      from: "2026-01-01",
      to: "2026-01-31",
    });
    expect(readRange(new URLSearchParams("from=2026-02-01"), NOW)).toEqual({
      from: "2026-02-01",
      to: "2026-03-02",
    });
    expect(readRange(new URLSearchParams("to=2026-03-30"), NOW)).toEqual({
      from: "2026-03-01",
      to: "2026-03-30",
    });
  });

  it("ignores malformed or impossible dates", () => {
    expect(readRange(new URLSearchParams("from=2026-02-30&to=yesterday"), NOW)).toEqual(defaultRange(NOW));
    expect(readRange(new URLSearchParams("from=1999-01-01"), NOW)).toEqual(defaultRange(NOW));
  });

  it("names what the API would refuse", () => {
    expect(rangeProblem({ from: "2026-02-01", to: "2026-01-01" })).toMatch(/after/);
    expect(rangeProblem({ from: "2025-01-01", to: "2026-01-02" })).toMatch(/366/);
    expect(rangeProblem({ from: "2025-01-01", to: "2026-01-01" })).toBeNull();
    expect(rangeProblem({ from: "", to: "2026-01-01" })).toMatch(/not a date/);
  });
});

const stats: LinkStats = {
  link_id: "lnk_7Hq2Vb9KxR4mN1pT6wZs",
  from: "2026-11-21",
  to: "2026-11-23",
  clicks: 42,
  bot_clicks: 5,
  by_day: [
    { date: "2026-11-22", clicks: 30, bot_clicks: 4 },
    { date: "2026-11-23", clicks: 12, bot_clicks: 1 },
  ],
  top_referrers: [
    { host: "(direct)", clicks: 25 },
    { host: 'news,"example"', clicks: 17 },
  ],
  top_countries: [
    { country: "DE", clicks: 30 },
    { country: "unknown", clicks: 12 },
  ],
};

describe("the stats CSV export", () => {
  it("fills the days without clicks", () => {
    expect(fillDays(stats)).toEqual([
      { date: "2026-11-21", clicks: 0, bot_clicks: 0 },
      { date: "2026-11-22", clicks: 30, bot_clicks: 4 },
      { date: "2026-11-23", clicks: 12, bot_clicks: 1 },
    ]);
  });

  it("quotes fields holding commas, quotes or line breaks, doubling quotes", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField(12)).toBe("12");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField(" padded")).toBe('" padded"');
  });

  it("defuses formulas: a field starting with = + - @ tab or CR gets a leading quote", () => {
    expect(csvField('=HYPERLINK("http://evil.example","x")')).toBe(
      '"\'=HYPERLINK(""http://evil.example"",""x"")"',
    );
    expect(csvField("+1+1")).toBe("'+1+1");
    expect(csvField("-2+3")).toBe("'-2+3");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField("\t=1")).toBe("'\t=1");
    expect(csvField("\r=1")).toBe('"\'\r=1"');
    expect(csvField("=1,2")).toBe('"\'=1,2"');
    // Only at the start, and numbers are numbers.
    expect(csvField("a=b")).toBe("a=b");
    expect(csvField("news.example")).toBe("news.example");
    expect(csvField(-3)).toBe("-3");
    const hostile = { ...stats, top_referrers: [{ host: "=cmd|' /C calc'!A0", clicks: 3 }] };
    expect(statsCsv(hostile)).toContain("\r\nreferrer,'=cmd|' /C calc'!A0,3,\r\n");
  });

  it("is exactly the shown data", () => {
    expect(statsCsv(stats)).toBe(
      [
        "kind,key,clicks,bot_clicks",
        "day,2026-11-21,0,0",
        "day,2026-11-22,30,4",
        "day,2026-11-23,12,1",
        "total,2026-11-21..2026-11-23,42,5",
        "referrer,(direct),25,",
        'referrer,"news,""example""",17,',
        "country,DE,30,",
        "country,unknown,12,",
        "",
      ].join("\r\n"),
    );
    expect(statsFileName("launch/2026", { from: "2026-11-21", to: "2026-11-23" })).toBe(
      "launch_2026-clicks-2026-11-21-to-2026-11-23.csv",
    );
  });
});
