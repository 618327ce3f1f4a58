/** One short link: its figures, the edit form, its QR code, and deletion. */
import { useState } from "preact/hooks";
import { unwrap, useSession } from "../api/client";
import { useLoad } from "../api/useLoad";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { CopyButton } from "../components/CopyButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { ExternalLink } from "../components/ExternalLink";
import { setFlash } from "../flash";
import { formatTime } from "../format";
import { holds } from "../permissions";
import { href, navigate } from "../routing";
import { LinkForm } from "./LinkForm";
import { LinkQr } from "./LinkQr";

export function LinkPage({ id, only }: { id: string; only?: "qr" }) {
  const { client, permissions } = useSession();
  const link = useLoad(
    async () => (await unwrap(client.GET("/short-link/{id}", { params: { path: { id } } }))).data,
    [id],
  );
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  if (!link.value) {
    return (
      <>
        <h1 tabIndex={-1}>{only === "qr" ? "QR code" : "Short link"}</h1>
        {link.loading ? <p role="status">Loading…</p> : null}
        <ErrorBanner error={link.error} />
        <p>
          <a href={href("/links")}>Back to the links</a>
        </p>
      </>
    );
  }
  const current = link.value;

  if (only === "qr") {
    return (
      <>
        <p class="crumbs">
          <a href={href("/links")}>Short links</a> / <a href={href(`/links/${id}`)}>{current.slug}</a>
        </p>
        <LinkQr link={current} headingLevel={1} />
      </>
    );
  }

  const remove = async () => {
    setBusy(true);
    setDeleteError(undefined);
    try {
      await unwrap(client.DELETE("/short-link/{id}", { params: { path: { id } } }));
      setFlash(`Deleted ${current.short_url}; its slug stays reserved for you for 90 days.`);
      navigate(href("/links"));
    } catch (failure) {
      setDeleteError(failure);
      setBusy(false);
    }
  };

  return (
    <>
      <p class="crumbs">
        <a href={href("/links")}>Short links</a>
      </p>
      <h1 tabIndex={-1}>{current.slug}</h1>
      <dl class="facts" data-testid="link-facts">
        <dt>Short URL</dt>
        <dd>
          <ExternalLink url={current.short_url} testId="link-short-url" />{" "}
          <CopyButton value={current.short_url} label="short URL" testId="copy-short-url" />
        </dd>
        <dt>Destination</dt>
        <dd class="wrap">
          <ExternalLink url={current.destination.value} testId="link-destination" />
        </dd>
        <dt>Clicks</dt>
        <dd data-testid="link-clicks">
          {current.clicks} ({current.bot_clicks} by bots, not counted)
        </dd>
        <dt>Expires</dt>
        <dd>{formatTime(current.expires_at)}</dd>
        <dt>Created</dt>
        <dd>{formatTime(current.created_at)}</dd>
      </dl>
      <p class="actions">
        {holds(permissions, "stats", "read") ? (
          <a class="button" href={href(`/links/${id}/stats`)} data-testid="link-stats">
            Click stats
          </a>
        ) : null}
        <a class="button" href={href(`/links/${id}/qr`)} data-testid="link-qr">
          QR code page
        </a>
      </p>
      {holds(permissions, "shortLinks", "update") ? (
        <section aria-labelledby="edit-link-title">
          <h2 id="edit-link-title">Edit</h2>
          <LinkForm key={current.updated_at} link={current} onSaved={(saved) => link.setValue(saved)} />
        </section>
      ) : null}
      <LinkQr link={current} />
      {holds(permissions, "shortLinks", "delete") ? (
        <section class="danger-zone" aria-labelledby="delete-link-title">
          <h2 id="delete-link-title">Delete</h2>
          <p>The redirect stops at once (404); the slug stays reserved for you for 90 days.</p>
          <button
            type="button"
            class="danger"
            onClick={() => {
              setDeleteError(undefined);
              setDeleting(true);
            }}
            data-testid="link-delete"
          >
            Delete link
          </button>
          {deleteError && !deleting ? <ErrorBanner error={deleteError} /> : null}
        </section>
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete ${current.slug}?`}
          confirmLabel="Delete link"
          busy={busy}
          onCancel={() => setDeleting(false)}
          onConfirm={() => void remove()}
        >
          <p>
            {current.short_url} will answer 404 from now on; printed copies and QR codes of it stop working.
          </p>
          <ErrorBanner error={deleteError} />
        </ConfirmDialog>
      ) : null}
    </>
  );
}
