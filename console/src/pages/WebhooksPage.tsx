/** Webhook endpoints: the list, and a new endpoint (its signing secret shown once). */
import { useState } from "preact/hooks";
import { unwrap, useSession, type Webhook } from "../api/client";
import { useAction } from "../api/useAction";
import { useCursorList } from "../api/useCursorList";
import { ErrorBanner } from "../components/ErrorBanner";
import { EventPicker, isAll, type EventSelection } from "../components/EventPicker";
import { LoadMore } from "../components/LoadMore";
import { SecretDialog } from "../components/SecretDialog";
import { takeFlash } from "../flash";
import { formatTime } from "../format";
import { holds } from "../permissions";
import { href, navigate } from "../routing";

export function eventsSummary(events: readonly string[]): string {
  return isAll(events) ? "every event" : events.join(", ");
}

export function WebhooksPage() {
  const { client, permissions } = useSession();
  const [flash] = useState(() => takeFlash());
  const list = useCursorList(
    (cursor) => unwrap(client.GET("/v1/webhooks", { params: { query: { limit: 50, cursor } } })),
    [],
  );
  return (
    <>
      <h1 tabIndex={-1}>Webhooks</h1>
      {flash ? (
        <p class="notice" role="status" data-testid="flash">
          {flash}
        </p>
      ) : null}
      {holds(permissions, "webhooks", "create") ? (
        <CreateWebhook onCreated={(hook) => list.setItems((items) => [hook, ...items])} />
      ) : null}
      <h2>All endpoints</h2>
      <ErrorBanner error={list.error} />
      <div class="table-scroll">
        <table class="cards" data-testid="webhooks-table">
          <caption class="visually-hidden">Webhook endpoints, newest first</caption>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">State</th>
              <th scope="col">Last success</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((hook) => (
              <tr key={hook.id} data-testid={`webhook-row-${hook.id}`}>
                <th scope="row" data-label="URL">
                  <a href={href(`/webhooks/${hook.id}`)} class="wrap" data-testid="webhook-open">
                    {hook.url}
                  </a>
                  {hook.description ? <span class="muted"> {hook.description}</span> : null}
                </th>
                <td data-label="Events" class="perm-summary">
                  {eventsSummary(hook.events)}
                </td>
                <td data-label="State">
                  <span class={`badge ${hook.enabled ? "ok" : "off"}`}>
                    {hook.enabled ? "enabled" : "disabled"}
                  </span>
                  {hook.disabled_reason ? <span class="muted"> {hook.disabled_reason}</span> : null}
                </td>
                <td data-label="Last success">{formatTime(hook.last_success_at)}</td>
                <td data-label="Created">{formatTime(hook.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!list.loading && list.items.length === 0 && !list.error ? <p>No endpoints yet.</p> : null}
      <LoadMore list={list} shown={list.items.length} noun={["endpoint", "endpoints"]} />
    </>
  );
}

function CreateWebhook({ onCreated }: { onCreated: (hook: Webhook) => void }) {
  const { client } = useSession();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<EventSelection>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const { busy, error, setError, run } = useAction();
  const [secret, setSecret] = useState<{ id: string; value: string } | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const why = !/^https?:\/\/\S+$/.test(url.trim())
      ? "The URL is an absolute https URL."
      : events.length === 0
        ? "Choose at least one event type, or every type."
        : null;
    setProblem(why);
    if (why) return;
    await run(async () => {
      const { data } = await unwrap(
        client.POST("/v1/webhooks", {
          body: { url: url.trim(), events, description: description.trim() || null },
        }),
      );
      const { secret: value, ...hook } = data;
      onCreated(hook);
      setSecret({ id: hook.id, value });
      setUrl("");
      setDescription("");
      setEvents([]);
    });
  };

  return (
    <section aria-labelledby="create-webhook-title">
      <h2 id="create-webhook-title">Add an endpoint</h2>
      <form class="stack" onSubmit={submit} noValidate data-testid="webhook-form">
        <div class="field">
          <label for="webhook-url">URL</label>
          <input
            id="webhook-url"
            type="url"
            required
            maxLength={2048}
            placeholder="https://hooks.example.com/keyhive"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
            aria-describedby="webhook-url-hint"
            data-testid="webhook-url"
          />
          <p id="webhook-url-hint" class="muted">
            A public https URL; each delivery is a signed POST (Standard Webhooks).
          </p>
        </div>
        <div class="field">
          <label for="webhook-description">Description (optional)</label>
          <input
            id="webhook-description"
            maxLength={200}
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
            data-testid="webhook-description"
          />
        </div>
        <EventPicker idPrefix="webhook" value={events} onChange={setEvents} />
        {problem ? (
          <p class="field-error" role="alert" data-testid="webhook-problem">
            {problem}
          </p>
        ) : null}
        <ErrorBanner error={error} />
        <div>
          <button type="submit" class="primary" disabled={busy} data-testid="webhook-submit">
            {busy ? "Adding…" : "Add endpoint"}
          </button>
        </div>
      </form>
      {secret ? (
        <SecretDialog
          title="The endpoint's signing secret"
          noun="signing secret"
          kept="keyhive stores it sealed and never shows it again (rotate it to get a new one)."
          secret={secret.value}
          onClose={() => {
            const id = secret.id;
            setSecret(null);
            navigate(href(`/webhooks/${id}`));
          }}
        />
      ) : null}
    </section>
  );
}
