/** A link's stats as the console shows them: the date range in the address, the days, the CSV. */
import type { LinkStats } from "./api/client";

const DATE = /^[2-9][0-9]{3}-[0-9]{2}-[0-9]{2}$/;
const DAY_MS = 86_400_000;
/** The API refuses ranges over 366 days. */
export const MAX_RANGE_DAYS = 366;

export interface DateRange {
  from: string;
  to: string;
}

export function isDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return utcDate(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS);
}

/** The API's default: the 30 UTC days through today. */
export function defaultRange(now = Date.now()): DateRange {
  const to = utcDate(now);
  return { from: addDays(to, -29), to };
}

/**
 * The range in the address (`?from=YYYY-MM-DD&to=YYYY-MM-DD`), each bound falling back to the
 * default when missing or malformed; a bound 30 days from the other when only one is given.
 */
export function readRange(query: URLSearchParams, now = Date.now()): DateRange {
  const fallback = defaultRange(now);
  const rawFrom = query.get("from") ?? "";
  const rawTo = query.get("to") ?? "";
  const from = isDate(rawFrom) ? rawFrom : null;
  const to = isDate(rawTo) ? rawTo : null;
  if (from && to) return { from, to };
  if (from) return { from, to: addDays(from, 29) };
  if (to) return { from: addDays(to, -29), to };
  return fallback;
}

/** Why the API would refuse this range, or null. */
export function rangeProblem(range: DateRange): string | null {
  if (!isDate(range.from)) return "The start is not a date.";
  if (!isDate(range.to)) return "The end is not a date.";
  if (range.from > range.to) return "The start is after the end.";
  if (daysBetween(range) > MAX_RANGE_DAYS) return `The range is over ${MAX_RANGE_DAYS} days.`;
  return null;
}

/** Days in the range, both ends included. */
export function daysBetween(range: DateRange): number {
  return (
    Math.round((Date.parse(`${range.to}T00:00:00Z`) - Date.parse(`${range.from}T00:00:00Z`)) / DAY_MS) + 1
  );
}

export interface DayCount {
  date: string;
  clicks: number;
  bot_clicks: number;
}

/** Every day of the stats' range, zero where `by_day` (which lists only days with clicks) has none. */
export function fillDays(stats: Pick<LinkStats, "from" | "to" | "by_day">): DayCount[] {
  const byDate = new Map(stats.by_day.map((d) => [d.date, d]));
  const days: DayCount[] = [];
  const count = Math.min(daysBetween(stats), MAX_RANGE_DAYS);
  for (let i = 0; i < count; i++) {
    const date = addDays(stats.from, i);
    const day = byDate.get(date);
    days.push({ date, clicks: day?.clicks ?? 0, bot_clicks: day?.bot_clicks ?? 0 });
  }
  return days;
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; quotes doubled.
 * A text starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a
 * spreadsheet never reads it as a formula (OWASP's CSV injection rule); numbers stay numbers.
 */
export function csvField(value: string | number): string {
  const text = typeof value === "string" && /^[=+\-@\t\r]/.test(value) ? `'${value}` : String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: readonly (string | number)[]): string {
  return values.map(csvField).join(",");
}

/**
 * The shown figures as one CSV table (CRLF lines): one row per day of the range, then the top
 * referrers and countries, told apart by the first column.
 */
export function statsCsv(stats: LinkStats): string {
  const rows: (string | number)[][] = [["kind", "key", "clicks", "bot_clicks"]];
  for (const day of fillDays(stats)) rows.push(["day", day.date, day.clicks, day.bot_clicks]);
  rows.push(["total", `${stats.from}..${stats.to}`, stats.clicks, stats.bot_clicks]);
  for (const r of stats.top_referrers) rows.push(["referrer", r.host, r.clicks, ""]);
  for (const c of stats.top_countries) rows.push(["country", c.country, c.clicks, ""]);
  return rows.map(csvRow).join("\r\n") + "\r\n";
}

export function statsFileName(slug: string, range: DateRange): string {
  return `${slug.replace(/[^A-Za-z0-9_-]/g, "_")}-clicks-${range.from}-to-${range.to}.csv`;
}

/** Saves `blob` under `name` through a temporary `a[download]` (no new window), then lets it go. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own reference by now; revoke after the click has been handled.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
