/** The audit trail: who changed what, when, by which request, with the filters in the address. */
import { useState } from "preact/hooks";
import { unwrap, useSession, type AuditAction, type AuditEntry } from "../api/client";
import { useCursorList } from "../api/useCursorList";
import { ErrorBanner } from "../components/ErrorBanner";
import { LoadMore } from "../components/LoadMore";
import { formatTime, isoToLocalInput, localInputToIso } from "../format";
import { href, navigate, readQuery } from "../routing";

export const AUDIT_ACTIONS = [
  "org.bootstrapped",
  "key.created",
  "key.updated",
  "key.revoked",
  "key.rolled",
  "key.expiring",
  "key.expired",
  "key.leaked",
  "member.created",
  "member.removed",
  "sandbox.created",
  "sandbox.timeout_changed",
  "sandbox.killed",
  "sandbox.expired",
  "link.created",
  "link.updated",
  "link.deleted",
  "domain.created",
  "domain.verified",
  "domain.deleted",
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  "webhook.enabled",
  "webhook.disabled",
  "file.created",
  "file.completed",
  "file.deleted",
] as const satisfies readonly AuditAction[];

// Fails to compile when openapi.yaml gains an audit action this list does not offer.
type UnlistedAction = Exclude<AuditAction, (typeof AUDIT_ACTIONS)[number]>;
const everyActionListed: [UnlistedAction] extends [never] ? true : UnlistedAction = true;
void everyActionListed;

const KEY_ID = /^[A-Za-z0-9]{12}$/;

/** The filters in the address (`since` as RFC 3339). */
const FILTERS = ["actor", "action", "resource", "since"] as const;

function isAction(value: string): value is AuditAction {
  return (AUDIT_ACTIONS as readonly string[]).includes(value);
}

export function AuditPage({ query }: { query: URLSearchParams }) {
  const { client } = useSession();
  const applied = readQuery(query, FILTERS);
  const [draft, setDraft] = useState({ ...applied, since: isoToLocalInput(applied.since) });

  const list = useCursorList(
    (cursor) =>
      unwrap(
        client.GET("/v1/audit-log", {
          params: {
            query: {
              limit: 50,
              cursor,
              actor: applied.actor || undefined,
              action: isAction(applied.action) ? applied.action : undefined,
              resource: applied.resource || undefined,
              since: applied.since || undefined,
            },
          },
        }),
      ),
    [applied.actor, applied.action, applied.resource, applied.since],
  );

  const apply = (event: Event) => {
    event.preventDefault();
    navigate(
      href("/audit", {
        actor: draft.actor.trim(),
        action: draft.action,
        resource: draft.resource.trim(),
        since: localInputToIso(draft.since) ?? "",
      }),
    );
  };

  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <form class="filters" onSubmit={apply} aria-label="Filter the audit log">
        <div class="field">
          <label for="audit-actor">Actor (key id or system job)</label>
          <input
            id="audit-actor"
            value={draft.actor}
            onInput={(e) => setDraft({ ...draft, actor: e.currentTarget.value })}
            data-testid="audit-actor"
          />
        </div>
        <div class="field">
          <label for="audit-action">Action</label>
          <select
            id="audit-action"
            value={draft.action}
            onChange={(e) => setDraft({ ...draft, action: e.currentTarget.value })}
            data-testid="audit-action"
          >
            <option value="">Any</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="audit-resource">Resource id</label>
          <input
            id="audit-resource"
            value={draft.resource}
            onInput={(e) => setDraft({ ...draft, resource: e.currentTarget.value })}
            data-testid="audit-resource"
          />
        </div>
        <div class="field">
          <label for="audit-since">Since (local time)</label>
          <input
            id="audit-since"
            type="datetime-local"
            value={draft.since}
            onInput={(e) => setDraft({ ...draft, since: e.currentTarget.value })}
            data-testid="audit-since"
          />
        </div>
        <div class="field actions">
          <button type="submit" data-testid="audit-apply">
            Apply filters
          </button>
          <a
            href={href("/audit")}
            class="button"
            onClick={() => setDraft(readQuery(new URLSearchParams(), FILTERS))}
          >
            Clear
          </a>
        </div>
      </form>
      <ErrorBanner error={list.error} />
      <div class="table-scroll">
        <table class="cards" data-testid="audit-table">
          <caption class="visually-hidden">Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Resource</th>
              <th scope="col">Actor</th>
              <th scope="col">Environment</th>
              <th scope="col">Request id</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((entry) => (
              <AuditRow key={entry.id} entry={entry} />
            ))}
          </tbody>
        </table>
      </div>
      {!list.loading && list.items.length === 0 && !list.error ? <p>No entries match.</p> : null}
      <LoadMore list={list} shown={list.items.length} noun={["entry", "entries"]} />
    </>
  );
}

function AuditRow({ entry }: { entry: AuditEntry }) {
  const { actor } = entry;
  return (
    <tr data-testid="audit-row" data-action={entry.action} data-target={entry.target_id}>
      <th scope="row" data-label="When">
        <time dateTime={entry.at}>{formatTime(entry.at)}</time>
      </th>
      <td data-label="Action">
        <code>{entry.action}</code>
      </td>
      <td data-label="Resource">
        {entry.action.startsWith("key.") && KEY_ID.test(entry.target_id) ? (
          <a href={href(`/keys/${entry.target_id}`)}>
            <code>{entry.target_id}</code>
          </a>
        ) : (
          <code>{entry.target_id}</code>
        )}
      </td>
      <td data-label="Actor">
        {actor.system ? (
          `system: ${actor.system}`
        ) : actor.key_id ? (
          <a href={href("/audit", { actor: actor.key_id })}>
            <code>{actor.key_id}</code>
            {actor.user_id ? ` (${actor.user_id})` : ""}
          </a>
        ) : (
          "operator"
        )}
      </td>
      <td data-label="Environment">{entry.environment}</td>
      <td data-label="Request id">
        <code class="wrap">{entry.request_id}</code>
      </td>
    </tr>
  );
}
