/** Short links: the numbered pages of the list, and a new link. */
import { useState } from "preact/hooks";
import { unwrap, useSession, type Link, type LinkListMeta } from "../api/client";
import { useLoad } from "../api/useLoad";
import { CopyButton } from "../components/CopyButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { ExternalLink } from "../components/ExternalLink";
import { takeFlash } from "../flash";
import { formatTime } from "../format";
import { holds } from "../permissions";
import { href } from "../routing";
import { LinkForm } from "./LinkForm";

export const LINKS_PER_PAGE = 20;

/** The page number in the address (`?page=2`, from 0), within what the API pages by number. */
export function readPage(query: URLSearchParams): number {
  const raw = query.get("page") ?? "0";
  if (!/^\d{1,5}$/.test(raw)) return 0;
  return Math.min(Number(raw), Math.floor(2000 / LINKS_PER_PAGE) - 1);
}

export function LinksPage({ query }: { query: URLSearchParams }) {
  const { client, permissions } = useSession();
  const page = readPage(query);
  const [flash] = useState(() => takeFlash());
  const [notice, setNotice] = useState("");
  const [created, setCreated] = useState<Link[]>([]);
  const list = useLoad(async () => {
    const { data, meta } = await unwrap(
      client.GET("/short-link/list", { params: { query: { page, limit: LINKS_PER_PAGE } } }),
    );
    return { links: data, meta: meta as LinkListMeta };
  }, [page]);
  const canCreate = holds(permissions, "shortLinks", "create");
  const canStats = holds(permissions, "stats", "read");
  const fresh = page === 0 ? created.filter((c) => !list.value?.links.some((l) => l.id === c.id)) : [];
  const links = [...fresh, ...(list.value?.links ?? [])];
  const total = list.value?.meta.total;
  const pages = total !== undefined ? Math.max(1, Math.ceil(total / LINKS_PER_PAGE)) : undefined;

  return (
    <>
      <h1 tabIndex={-1}>Short links</h1>
      {flash ? (
        <p class="notice" role="status" data-testid="flash">
          {flash}
        </p>
      ) : null}
      <p role="status" class="status" data-testid="links-status">
        {notice}
      </p>
      {canCreate ? (
        <details class="create" data-testid="link-create">
          <summary>Create a link</summary>
          <LinkForm
            onSaved={(link) => {
              setCreated((items) => [link, ...items]);
              setNotice(`Created ${link.short_url}.`);
            }}
          />
        </details>
      ) : null}
      <h2>All links</h2>
      <ErrorBanner error={list.error} />
      <div class="table-scroll">
        <table class="cards" data-testid="links-table">
          <caption class="visually-hidden">Short links, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Slug</th>
              <th scope="col">Short URL</th>
              <th scope="col">Destination</th>
              <th scope="col">Clicks</th>
              <th scope="col">Bot clicks</th>
              <th scope="col">Expires</th>
              {canStats ? <th scope="col">Stats</th> : null}
            </tr>
          </thead>
          <tbody>
            {links.map((link) => (
              <tr key={link.id} data-testid={`link-row-${link.id}`} class="link-row">
                <th scope="row" data-label="Slug">
                  <a href={href(`/links/${link.id}`)} data-testid="link-open">
                    {link.slug}
                  </a>
                  {link.title ? <span class="muted"> {link.title}</span> : null}
                </th>
                <td data-label="Short URL">
                  <ExternalLink url={link.short_url} testId="link-short-url" class="wrap" />{" "}
                  <CopyButton
                    value={link.short_url}
                    label={`short URL of ${link.slug}`}
                    testId="copy-short-url"
                  />
                </td>
                <td data-label="Destination" class="wrap">
                  {link.destination.value}
                </td>
                <td data-label="Clicks" class="num" data-testid="link-clicks">
                  {link.clicks}
                </td>
                <td data-label="Bot clicks" class="num" data-testid="link-bot-clicks">
                  {link.bot_clicks}
                </td>
                <td data-label="Expires">{formatTime(link.expires_at)}</td>
                {canStats ? (
                  <td data-label="Stats">
                    <a href={href(`/links/${link.id}/stats`)} data-testid="link-stats">
                      Stats<span class="visually-hidden"> of {link.slug}</span>
                    </a>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!list.loading && links.length === 0 && !list.error ? <p>No links on this page.</p> : null}
      <nav class="pager" aria-label="Pages of links">
        <p class="muted" role="status">
          {list.loading
            ? "Loading links…"
            : `Page ${page + 1}${pages !== undefined ? ` of ${pages}` : ""}${total !== undefined ? `, ${total} links in all` : ""}.`}
        </p>
        {page > 0 ? (
          <a
            class="button"
            href={href("/links", { page: page - 1 > 0 ? String(page - 1) : "" })}
            data-testid="links-prev"
          >
            Previous page
          </a>
        ) : null}
        {list.value?.meta.has_more ? (
          <a class="button" href={href("/links", { page: String(page + 1) })} data-testid="links-next">
            Next page
          </a>
        ) : null}
      </nav>
    </>
  );
}
