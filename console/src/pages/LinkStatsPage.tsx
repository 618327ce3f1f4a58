/** A link's clicks over a date range (in the address), with referrers, countries and a CSV export. */
import { useEffect, useState } from "preact/hooks";
import { unwrap, useSession } from "../api/client";
import { useLoad } from "../api/useLoad";
import { ClicksChart } from "../components/ClicksChart";
import { ErrorBanner } from "../components/ErrorBanner";
import { href, navigate } from "../routing";
import {
  fillDays,
  rangeProblem,
  readRange,
  saveBlob,
  statsCsv,
  statsFileName,
  type DateRange,
} from "../stats";

export function LinkStatsPage({ id, query }: { id: string; query: URLSearchParams }) {
  const { client } = useSession();
  const range = readRange(query);
  const [draft, setDraft] = useState<DateRange>(range);
  const [problem, setProblem] = useState<string | null>(null);
  // The address can change under the page (a link, back and forward): the form follows it.
  useEffect(() => setDraft(range), [range.from, range.to]);
  const link = useLoad(
    async () => (await unwrap(client.GET("/short-link/{id}", { params: { path: { id } } }))).data,
    [id],
  );
  const stats = useLoad(
    async () =>
      (
        await unwrap(
          client.GET("/short-link/{id}/stats", {
            params: { path: { id }, query: { from: range.from, to: range.to } },
          }),
        )
      ).data,
    [id, range.from, range.to],
  );
  const slug = link.value?.slug ?? id;
  const days = stats.value ? fillDays(stats.value) : [];

  const apply = (event: Event) => {
    event.preventDefault();
    const why = rangeProblem(draft);
    setProblem(why);
    if (!why) navigate(href(`/links/${id}/stats`, { from: draft.from, to: draft.to }));
  };

  const exportCsv = () => {
    if (!stats.value) return;
    saveBlob(
      new Blob([statsCsv(stats.value)], { type: "text/csv;charset=utf-8" }),
      statsFileName(slug, range),
    );
  };

  return (
    <>
      <p class="crumbs">
        <a href={href("/links")}>Short links</a> / <a href={href(`/links/${id}`)}>{slug}</a>
      </p>
      <h1 tabIndex={-1}>Clicks of {slug}</h1>
      <form class="filters" onSubmit={apply} noValidate aria-label="Date range" data-testid="stats-range">
        <div class="field">
          <label for="stats-from">From (UTC day)</label>
          <input
            id="stats-from"
            type="date"
            value={draft.from}
            onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })}
            data-testid="stats-from"
          />
        </div>
        <div class="field">
          <label for="stats-to">To (UTC day, included)</label>
          <input
            id="stats-to"
            type="date"
            value={draft.to}
            onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })}
            data-testid="stats-to"
          />
        </div>
        <div class="field actions">
          <button type="submit" data-testid="stats-apply">
            Show range
          </button>
          <button type="button" onClick={stats.reload} data-testid="stats-reload">
            Reload
          </button>
        </div>
      </form>
      {problem ? (
        <p class="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      <ErrorBanner error={stats.error} />
      <p role="status" class="muted">
        {stats.loading ? "Loading the figures…" : ""}
      </p>
      {stats.value ? (
        <>
          <p data-testid="stats-totals">
            {stats.value.from} to {stats.value.to}:{" "}
            <strong data-testid="stats-clicks">{stats.value.clicks}</strong> clicks,{" "}
            <strong data-testid="stats-bot-clicks">{stats.value.bot_clicks}</strong> bot clicks.
          </p>
          <ClicksChart id="clicks" title={`Clicks per day of ${slug}`} days={days} />
          <div class="actions">
            <button type="button" onClick={exportCsv} data-testid="stats-export">
              Export CSV
            </button>
          </div>
          <div class="two-tables">
            <div class="table-scroll">
              <table data-testid="referrers-table">
                <caption>Top referrers (human clicks)</caption>
                <thead>
                  <tr>
                    <th scope="col">Referrer</th>
                    <th scope="col">Clicks</th>
                  </tr>
                </thead>
                <tbody>
                  {stats.value.top_referrers.map((r) => (
                    <tr key={r.host}>
                      <th scope="row">{r.host}</th>
                      <td class="num">{r.clicks}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {stats.value.top_referrers.length === 0 ? <p class="muted">None in this range.</p> : null}
            </div>
            <div class="table-scroll">
              <table data-testid="countries-table">
                <caption>Top countries (human clicks)</caption>
                <thead>
                  <tr>
                    <th scope="col">Country</th>
                    <th scope="col">Clicks</th>
                  </tr>
                </thead>
                <tbody>
                  {stats.value.top_countries.map((c) => (
                    <tr key={c.country}>
                      <th scope="row">{c.country}</th>
                      <td class="num">{c.clicks}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {stats.value.top_countries.length === 0 ? <p class="muted">None in this range.</p> : null}
            </div>
          </div>
        </>
      ) : null}
    </>
  );
}
