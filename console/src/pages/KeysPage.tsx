/** The key list: server-side filters (created by, external id) and page-side ones (type, environment). */
import { useState } from "preact/hooks";
import { isMissingRoute, listAll, unwrap, useSession, type Key, type KeyUsageSummary } from "../api/client";
import { useCursorList } from "../api/useCursorList";
import { useLoad } from "../api/useLoad";
import { ErrorBanner } from "../components/ErrorBanner";
import { LoadMore } from "../components/LoadMore";
import { Sparkline } from "../components/Sparkline";
import { takeFlash } from "../flash";
import { formatTime } from "../format";
import { asPermissions, holds, summary } from "../permissions";
import { href, navigate, readQuery } from "../routing";

const FILTERS = ["type", "environment", "created_by", "external_id"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

export function maskedKey(prefix: string, key: Pick<Key, "environment" | "id" | "last4">): string {
  return `${prefix}_${key.environment}_${key.id}.…${key.last4}`;
}

export function KeysPage({ query }: { query: URLSearchParams }) {
  const { client, permissions, prefix, self } = useSession();
  const applied = readQuery(query, FILTERS);
  const [draft, setDraft] = useState<Filters>(applied);
  const [flash] = useState(() => takeFlash());
  const serverFilters = [applied.created_by, applied.external_id] as const;

  const list = useCursorList(
    (cursor) =>
      unwrap(
        client.GET("/v1/keys", {
          params: {
            query: {
              limit: 50,
              cursor,
              created_by: applied.created_by || undefined,
              external_id: applied.external_id || undefined,
            },
          },
        }),
      ),
    serverFilters,
  );

  // Totals over the last 24 hours, to draw sparklines only for keys that were used.
  const usage = useLoad(async () => {
    const summaries = await listAll<KeyUsageSummary>(
      (cursor) => unwrap(client.GET("/v1/usage", { params: { query: { limit: 100, cursor } } })),
      1000,
    );
    return new Map(summaries.map((s) => [s.key_id, s]));
  }, []);
  const usageAvailable = !isMissingRoute(usage.error);

  const shown = list.items.filter(
    (k) =>
      (!applied.type || k.type === applied.type) &&
      (!applied.environment || k.environment === applied.environment),
  );

  const apply = (event: Event) => {
    event.preventDefault();
    navigate(href("/keys", { ...draft }));
  };

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>API keys</h1>
        {holds(permissions, "apiKeys", "create") ? (
          <a class="button primary" href={href("/keys/new")} data-testid="create-key-link">
            Create key
          </a>
        ) : null}
      </div>
      {flash ? (
        <p class="notice" role="status" data-testid="flash">
          {flash}
        </p>
      ) : null}
      <form class="filters" onSubmit={apply} aria-label="Filter keys">
        <div class="field">
          <label for="filter-type">Type</label>
          <select
            id="filter-type"
            value={draft.type}
            onChange={(e) => setDraft({ ...draft, type: e.currentTarget.value })}
            data-testid="filter-type"
          >
            <option value="">Any</option>
            <option value="user">User</option>
            <option value="bot">Bot</option>
          </select>
        </div>
        {self.environment === "live" ? (
          <div class="field">
            <label for="filter-environment">Environment</label>
            <select
              id="filter-environment"
              value={draft.environment}
              onChange={(e) => setDraft({ ...draft, environment: e.currentTarget.value })}
              data-testid="filter-environment"
            >
              <option value="">Any</option>
              <option value="live">Live</option>
              <option value="test">Test</option>
            </select>
          </div>
        ) : null}
        <div class="field">
          <label for="filter-created-by">Created by (key or user id)</label>
          <input
            id="filter-created-by"
            value={draft.created_by}
            onInput={(e) => setDraft({ ...draft, created_by: e.currentTarget.value })}
            data-testid="filter-created-by"
          />
        </div>
        <div class="field">
          <label for="filter-external-id">External id</label>
          <input
            id="filter-external-id"
            value={draft.external_id}
            onInput={(e) => setDraft({ ...draft, external_id: e.currentTarget.value })}
            data-testid="filter-external-id"
          />
        </div>
        <div class="field actions">
          <button type="submit" data-testid="filter-apply">
            Apply filters
          </button>
          <a
            href={href("/keys")}
            class="button"
            onClick={() => setDraft(readQuery(new URLSearchParams(), FILTERS))}
          >
            Clear
          </a>
        </div>
      </form>
      <ErrorBanner error={list.error} />
      <div class="table-scroll">
        <table class="cards" data-testid="keys-table">
          <caption class="visually-hidden">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Owner</th>
              <th scope="col">Permissions</th>
              <th scope="col">Key</th>
              <th scope="col">Environment</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              {usageAvailable ? <th scope="col">Requests, 24 h</th> : null}
            </tr>
          </thead>
          <tbody>
            {shown.map((key) => (
              <tr key={key.id} data-testid={`key-row-${key.id}`} class="key-row">
                <th scope="row" data-label="Name">
                  <a href={href(`/keys/${key.id}`)} data-testid="key-link">
                    {key.name}
                  </a>
                </th>
                <td data-label="Type">{key.type}</td>
                <td data-label="Owner">{key.type === "bot" ? "Bot" : key.owner}</td>
                <td data-label="Permissions" class="perm-summary">
                  {summary(asPermissions(key.permissions))}
                </td>
                <td data-label="Key">
                  <code class="masked" data-testid="key-masked">
                    {maskedKey(prefix, key)}
                  </code>
                  <span class="visually-hidden" data-testid="key-last4">
                    {key.last4}
                  </span>
                </td>
                <td data-label="Environment">
                  <span class={`badge env-${key.environment}`}>{key.environment}</span>
                </td>
                <td data-label="Status">
                  <span class={`badge ${key.enabled ? "ok" : "off"}`}>
                    {key.enabled ? "enabled" : "disabled"}
                  </span>
                </td>
                <td data-label="Created">{formatTime(key.created_at)}</td>
                <td data-label="Expires">{formatTime(key.expires_at)}</td>
                <td data-label="Last used">{formatTime(key.last_used_at)}</td>
                {usageAvailable ? (
                  <td data-label="Requests, 24 h">
                    <KeySparkline keyId={key.id} name={key.name} summary={usage.value?.get(key.id)} />
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!list.loading && shown.length === 0 && !list.error ? <p>No keys match.</p> : null}
      {applied.type || applied.environment ? (
        <p class="muted">
          Type and environment filter the {list.items.length} keys loaded so far; load more to search further.
        </p>
      ) : null}
      <LoadMore list={list} shown={shown.length} noun={["key", "keys"]} />
    </>
  );
}

/** The row's sparkline, read only for keys that have requests in the span. */
function KeySparkline({
  keyId,
  name,
  summary,
}: {
  keyId: string;
  name: string;
  summary: KeyUsageSummary | undefined;
}) {
  const { client } = useSession();
  const total = summary
    ? summary.totals.success +
      summary.totals.forbidden +
      summary.totals.rate_limited +
      summary.totals.unauthorized
    : 0;
  const series = useLoad(
    async () =>
      total > 0
        ? (await unwrap(client.GET("/v1/keys/{id}/usage", { params: { path: { id: keyId } } }))).data.series
        : [],
    [keyId, total],
  );
  if (total === 0) return <span class="muted">0</span>;
  if (!series.value || series.value.length === 0) return <span class="muted">{total}</span>;
  return (
    <Sparkline
      id={`spark-${keyId}`}
      label={`Requests of ${name} per hour, last 24 hours`}
      series={series.value}
    />
  );
}
