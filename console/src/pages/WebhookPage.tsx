/**
 * One webhook endpoint: edit it, enable it, send a test, rotate its secret, delete it; and its
 * deliveries log, with resend and "recover since".
 */
import { useState } from "preact/hooks";
import { unwrap, useSession, type DeliveryAttempt, type Webhook, type WebhookPatch } from "../api/client";
import { useAction } from "../api/useAction";
import { useCursorList } from "../api/useCursorList";
import { useLoad } from "../api/useLoad";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorBanner } from "../components/ErrorBanner";
import { EventPicker, isAll, type EventSelection } from "../components/EventPicker";
import { LoadMore } from "../components/LoadMore";
import { SecretDialog } from "../components/SecretDialog";
import { setFlash } from "../flash";
import { formatTime, isoToLocalInput, localInputToIso } from "../format";
import { holds } from "../permissions";
import { href, navigate } from "../routing";
import { eventsSummary } from "./WebhooksPage";

/** How long the rotated-out secret keeps verifying (openapi: `previous_secret_valid_until`). */
const ROTATION_GRACE_MS = 24 * 3_600_000;

/** The fields that changed, as `PATCH /v1/webhooks/{id}` takes them. */
export function webhookPatch(
  hook: Pick<Webhook, "url" | "events" | "description">,
  draft: { url: string; events: EventSelection; description: string },
): WebhookPatch {
  const patch: WebhookPatch = {};
  if (draft.url.trim() !== hook.url) patch.url = draft.url.trim();
  if (JSON.stringify([...draft.events].sort()) !== JSON.stringify([...hook.events].sort()))
    patch.events = draft.events;
  if (draft.description.trim() !== (hook.description ?? ""))
    patch.description = draft.description.trim() || null;
  return patch;
}

export function WebhookPage({ id }: { id: string }) {
  const { client, permissions } = useSession();
  const canUpdate = holds(permissions, "webhooks", "update");
  const canDelete = holds(permissions, "webhooks", "delete");
  const hook = useLoad(
    async () => (await unwrap(client.GET("/v1/webhooks/{id}", { params: { path: { id } } }))).data,
    [id],
  );
  const deliveries = useCursorList(
    (cursor) =>
      unwrap(
        client.GET("/v1/webhooks/{id}/deliveries", {
          params: { path: { id }, query: { limit: 50, cursor } },
        }),
      ),
    [id],
  );
  const [notice, setNotice] = useState("");
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ value: string; until: string } | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [since, setSince] = useState(() => isoToLocalInput(new Date(Date.now() - 86_400_000).toISOString()));

  const act = async (name: string, run: () => Promise<string>) => {
    setBusy(name);
    setActionError(undefined);
    try {
      setNotice(await run());
    } catch (failure) {
      setActionError(failure);
    } finally {
      setBusy(null);
    }
  };

  if (!hook.value) {
    return (
      <>
        <h1 tabIndex={-1}>Webhook endpoint</h1>
        {hook.loading ? <p role="status">Loading…</p> : null}
        <ErrorBanner error={hook.error} />
        <p>
          <a href={href("/webhooks")}>Back to the endpoints</a>
        </p>
      </>
    );
  }
  const current = hook.value;
  const path = { params: { path: { id } } };

  const enable = () =>
    act("enable", async () => {
      const { data } = await unwrap(client.POST("/v1/webhooks/{id}/enable", path));
      hook.setValue(data);
      return "The endpoint is enabled.";
    });
  const test = () =>
    act("test", async () => {
      const { data } = await unwrap(client.POST("/v1/webhooks/{id}/test", path));
      setTimeout(deliveries.reload, 1500);
      return `Test event queued (delivery ${data.delivery_id}); it shows in the log below once attempted.`;
    });
  const rotate = () =>
    act("rotate", async () => {
      const { data } = await unwrap(client.POST("/v1/webhooks/{id}/rotate-secret", path));
      const { secret: value, previous_secret_valid_until: until, ...rest } = data;
      hook.setValue(rest);
      setRotating(false);
      setSecret({ value, until });
      return `Secret rotated; the old one still verifies until ${formatTime(until)}.`;
    });
  const resend = (attempt: DeliveryAttempt) =>
    act(`resend-${attempt.delivery_id}`, async () => {
      await unwrap(
        client.POST("/v1/webhooks/{id}/deliveries/{delivery_id}/resend", {
          params: { path: { id, delivery_id: attempt.delivery_id } },
        }),
      );
      setTimeout(deliveries.reload, 1500);
      return `Delivery ${attempt.delivery_id} is due again now.`;
    });
  const recover = (event: Event) => {
    event.preventDefault();
    const iso = localInputToIso(since);
    if (!iso) {
      setActionError(new Error("Give the date and time to recover from."));
      return;
    }
    void act("recover", async () => {
      const { data } = await unwrap(
        client.POST("/v1/webhooks/{id}/recover", { params: { path: { id }, query: { since: iso } } }),
      );
      setTimeout(deliveries.reload, 1500);
      return `${data.requeued} failed deliver${data.requeued === 1 ? "y is" : "ies are"} due again (since ${formatTime(data.since)}).`;
    });
  };
  const remove = async () => {
    setBusy("delete");
    setActionError(undefined);
    try {
      await unwrap(client.DELETE("/v1/webhooks/{id}", path));
      setFlash(`Deleted the endpoint ${current.url}.`);
      navigate(href("/webhooks"));
    } catch (failure) {
      setActionError(failure);
      setBusy(null);
    }
  };

  return (
    <>
      <p class="crumbs">
        <a href={href("/webhooks")}>Webhooks</a>
      </p>
      <h1 tabIndex={-1} class="wrap">
        {current.url}
      </h1>
      <dl class="facts" data-testid="webhook-facts">
        <dt>Id</dt>
        <dd>
          <code>{current.id}</code>
        </dd>
        <dt>State</dt>
        <dd>
          <span class={`badge ${current.enabled ? "ok" : "off"}`} data-testid="webhook-state">
            {current.enabled ? "enabled" : "disabled"}
          </span>
          {current.disabled_reason ? ` ${current.disabled_reason}` : ""}
        </dd>
        <dt>Events</dt>
        <dd>{eventsSummary(current.events)}</dd>
        <dt>Failing since</dt>
        <dd>{formatTime(current.failing_since, "not failing")}</dd>
        <dt>Last success</dt>
        <dd>{formatTime(current.last_success_at)}</dd>
      </dl>
      <p role="status" class="status" data-testid="webhook-status">
        {notice}
      </p>
      {actionError && !deleting && !rotating ? <ErrorBanner error={actionError} /> : null}
      {canUpdate ? (
        <div class="actions">
          {!current.enabled ? (
            <button
              type="button"
              class="primary"
              disabled={busy !== null}
              onClick={() => void enable()}
              data-testid="webhook-enable"
            >
              Enable
            </button>
          ) : null}
          <button
            type="button"
            disabled={busy !== null}
            onClick={() => void test()}
            data-testid="webhook-test"
          >
            Send a test event
          </button>
          <button
            type="button"
            disabled={busy !== null}
            onClick={() => {
              setActionError(undefined);
              setRotating(true);
            }}
            data-testid="webhook-rotate"
          >
            Rotate the secret
          </button>
        </div>
      ) : null}
      {canUpdate ? (
        <section aria-labelledby="edit-webhook-title">
          <h2 id="edit-webhook-title">Edit</h2>
          <EditWebhook key={current.updated_at} hook={current} onSaved={(saved) => hook.setValue(saved)} />
        </section>
      ) : null}
      <section aria-labelledby="deliveries-title">
        <h2 id="deliveries-title">Deliveries</h2>
        <p class="muted">Every attempt, newest first; attempt records are kept 30 days.</p>
        <div class="actions">
          <button type="button" onClick={deliveries.reload} data-testid="deliveries-reload">
            Reload
          </button>
        </div>
        <ErrorBanner error={deliveries.error} />
        <div class="table-scroll">
          <table class="cards" data-testid="deliveries-table">
            <caption class="visually-hidden">Delivery attempts, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Attempt</th>
                <th scope="col">Status</th>
                <th scope="col">Duration</th>
                <th scope="col">Error</th>
                <th scope="col">Next retry</th>
                {canUpdate ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {deliveries.items.map((attempt) => (
                <tr
                  key={`${attempt.delivery_id}-${attempt.attempt}-${attempt.at}`}
                  data-testid="delivery-row"
                  data-delivery-id={attempt.delivery_id}
                  data-attempt={attempt.attempt}
                  data-event-type={attempt.event_type}
                  data-status-code={attempt.status_code ?? ""}
                >
                  <th scope="row" data-label="When">
                    <time dateTime={attempt.at}>{formatTime(attempt.at)}</time>
                  </th>
                  <td data-label="Event">
                    <code>{attempt.event_type}</code>
                  </td>
                  <td data-label="Attempt" class="num">
                    {attempt.attempt}
                  </td>
                  <td data-label="Status">
                    {attempt.status_code === null ? (
                      <span class="muted">no answer</span>
                    ) : (
                      <span class={`badge ${attempt.status_code < 300 ? "ok" : "off"}`}>
                        {attempt.status_code}
                      </span>
                    )}
                  </td>
                  <td data-label="Duration" class="num">
                    {attempt.duration_ms} ms
                  </td>
                  <td data-label="Error">{attempt.error ?? ""}</td>
                  <td data-label="Next retry">{formatTime(attempt.next_retry_at, "none")}</td>
                  {canUpdate ? (
                    <td data-label="Actions">
                      <button
                        type="button"
                        class="small"
                        disabled={busy !== null}
                        onClick={() => void resend(attempt)}
                        data-testid="delivery-resend"
                      >
                        Resend<span class="visually-hidden"> delivery {attempt.delivery_id}</span>
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {!deliveries.loading && deliveries.items.length === 0 && !deliveries.error ? (
          <p data-testid="deliveries-empty">No deliveries yet.</p>
        ) : null}
        <LoadMore list={deliveries} shown={deliveries.items.length} noun={["attempt", "attempts"]} />
        {canUpdate ? (
          <form
            class="filters"
            onSubmit={recover}
            aria-label="Recover failed deliveries"
            data-testid="recover-form"
          >
            <div class="field">
              <label for="recover-since">Re-send what failed since</label>
              <input
                id="recover-since"
                type="datetime-local"
                value={since}
                onInput={(e) => setSince(e.currentTarget.value)}
                aria-describedby="recover-since-hint"
                data-testid="recover-since"
              />
              <p id="recover-since-hint" class="muted">
                Local time, at most 7 days ago. Enable a disabled endpoint first.
              </p>
            </div>
            <div class="field actions">
              <button type="submit" disabled={busy !== null} data-testid="recover-submit">
                Recover
              </button>
            </div>
          </form>
        ) : null}
      </section>
      {canDelete ? (
        <section class="danger-zone" aria-labelledby="delete-webhook-title">
          <h2 id="delete-webhook-title">Delete</h2>
          <p>Nothing more is sent to it; deliveries still pending fail.</p>
          <button
            type="button"
            class="danger"
            onClick={() => {
              setActionError(undefined);
              setDeleting(true);
            }}
            data-testid="webhook-delete"
          >
            Delete endpoint
          </button>
        </section>
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete this endpoint?"
          confirmLabel="Delete endpoint"
          busy={busy === "delete"}
          onCancel={() => setDeleting(false)}
          onConfirm={() => void remove()}
        >
          <p>
            <span class="wrap">{current.url}</span> receives nothing more, and its deliveries log goes with
            it.
          </p>
          <ErrorBanner error={actionError} />
        </ConfirmDialog>
      ) : null}
      {rotating ? (
        <ConfirmDialog
          title="Rotate the signing secret?"
          confirmLabel="Rotate the secret"
          busy={busy === "rotate"}
          onCancel={() => setRotating(false)}
          onConfirm={() => void rotate()}
        >
          <p>
            Deliveries to <span class="wrap">{current.url}</span> are signed with a new secret from now on,
            shown to you once. The old secret keeps verifying until about{" "}
            {formatTime(new Date(Date.now() + ROTATION_GRACE_MS).toISOString())} (24 hours from now): until
            then every delivery carries both signatures, so the receiver can switch at its pace.
          </p>
          <p>Rotating again within those 24 hours drops the oldest secret at once.</p>
          <ErrorBanner error={actionError} />
        </ConfirmDialog>
      ) : null}
      {secret ? (
        <SecretDialog
          title="The endpoint's new signing secret"
          noun="signing secret"
          kept="keyhive stores it sealed and never shows it again."
          secret={secret.value}
          note={`Until ${formatTime(secret.until)} deliveries carry two signatures, the new secret's and the old one's, so the old secret still verifies until then.`}
          onClose={() => setSecret(null)}
        />
      ) : null}
    </>
  );
}

function EditWebhook({ hook, onSaved }: { hook: Webhook; onSaved: (hook: Webhook) => void }) {
  const { client } = useSession();
  const [url, setUrl] = useState(hook.url);
  const [description, setDescription] = useState(hook.description ?? "");
  const [events, setEvents] = useState<EventSelection>(hook.events);
  const [problem, setProblem] = useState<string | null>(null);
  const { busy, error, setError, run } = useAction();
  const [saved, setSaved] = useState("");

  const submit = async (event: Event) => {
    event.preventDefault();
    setSaved("");
    if (events.length === 0) {
      setProblem("Choose at least one event type, or every type.");
      return;
    }
    const patch = webhookPatch(hook, { url, events, description });
    if (Object.keys(patch).length === 0) {
      setProblem("Nothing changed.");
      return;
    }
    setProblem(null);
    await run(async () => {
      const { data } = await unwrap(
        client.PATCH("/v1/webhooks/{id}", { params: { path: { id: hook.id } }, body: patch }),
      );
      setSaved("Saved.");
      onSaved(data);
    });
  };

  return (
    <form class="stack" onSubmit={submit} noValidate data-testid="webhook-edit-form">
      <div class="field">
        <label for="webhook-edit-url">URL</label>
        <input
          id="webhook-edit-url"
          type="url"
          value={url}
          onInput={(e) => setUrl(e.currentTarget.value)}
          data-testid="webhook-edit-url"
        />
      </div>
      <div class="field">
        <label for="webhook-edit-description">Description</label>
        <input
          id="webhook-edit-description"
          maxLength={200}
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
          data-testid="webhook-edit-description"
        />
      </div>
      <EventPicker idPrefix="webhook-edit" value={events} onChange={setEvents} />
      {problem ? (
        <p class="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      <ErrorBanner error={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy} data-testid="webhook-save">
          {busy ? "Saving…" : "Save changes"}
        </button>
        <span role="status">{saved}</span>
      </div>
    </form>
  );
}
