/** One key: its record, edits (PATCH), roll, enable/disable, revoke, usage and least privilege. */
import { useEffect, useState } from "preact/hooks";
import { isMissingRoute, unwrap, useSession, type Key, type KeyPatch } from "../api/client";
import { useAction } from "../api/useAction";
import { useLoad } from "../api/useLoad";
import { ErrorBanner } from "../components/ErrorBanner";
import { PermissionGrid } from "../components/PermissionGrid";
import { SecretDialog } from "../components/SecretDialog";
import { UsageChart } from "../components/UsageChart";
import { setFlash } from "../flash";
import { formatTime } from "../format";
import {
  asPermissions,
  holds,
  names,
  samePermissions,
  summary,
  within,
  type Permissions,
} from "../permissions";
import { href, navigate } from "../routing";
import { maskedKey } from "./KeysPage";

/** The roll's grace choices, in the seconds `POST /v1/keys/{id}/roll` takes. */
export const GRACE_CHOICES = [
  { seconds: 0, label: "None: the old secret stops now" },
  { seconds: 900, label: "15 minutes" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 86400, label: "24 hours" },
  { seconds: 604800, label: "7 days" },
] as const;

export function KeyPage({ id }: { id: string }) {
  const { client } = useSession();
  const key = useLoad(
    async () => (await unwrap(client.GET("/v1/keys/{id}", { params: { path: { id } } }))).data,
    [id],
  );

  if (key.error) {
    return (
      <>
        <h1 tabIndex={-1}>Key {id}</h1>
        <p>
          <a href={href("/keys")}>Back to keys</a>
        </p>
        <ErrorBanner error={key.error} />
      </>
    );
  }
  if (!key.value) {
    return (
      <>
        <h1 tabIndex={-1}>Key {id}</h1>
        <p role="status">Loading…</p>
      </>
    );
  }
  return <KeyDetail record={key.value} onChange={key.setValue} />;
}

function KeyDetail({ record, onChange }: { record: Key; onChange: (key: Key) => void }) {
  const { client, permissions, prefix, self, refreshSelf } = useSession();
  const canUpdate = holds(permissions, "apiKeys", "update");
  const canDelete = holds(permissions, "apiKeys", "delete");
  const { busy, error, setError, run } = useAction();
  const [status, setStatus] = useState("");

  /** Runs one change, keeping the page's forms as typed if it fails. */
  const act = async (what: string, change: () => Promise<void>) => {
    setStatus("");
    await run(async () => {
      await change();
      setStatus(what);
      if (record.id === self.id) await refreshSelf();
    });
  };

  const patch = (what: string, body: KeyPatch) =>
    act(what, async () => {
      const { data } = await unwrap(
        client.PATCH("/v1/keys/{id}", { params: { path: { id: record.id } }, body }),
      );
      onChange(data);
    });

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>{record.name}</h1>
        <span class={`badge ${record.enabled ? "ok" : "off"}`} data-testid="key-status">
          {record.enabled ? "enabled" : "disabled"}
        </span>
      </div>
      <p>
        <a href={href("/keys")}>Back to keys</a>
      </p>
      <ErrorBanner error={error} />
      <p role="status" class="status" data-testid="key-action-status">
        {status}
      </p>
      <section aria-labelledby="facts-title">
        <h2 id="facts-title">Details</h2>
        <dl class="facts">
          <dt>Id</dt>
          <dd>
            <code data-testid="key-id">{record.id}</code>
          </dd>
          <dt>Key</dt>
          <dd>
            <code>{maskedKey(prefix, record)}</code>
          </dd>
          <dt>Type</dt>
          <dd>{record.type === "bot" ? "Bot" : `User: ${record.owner} (${record.user_id ?? ""})`}</dd>
          <dt>Environment</dt>
          <dd>
            <span class={`badge env-${record.environment}`}>{record.environment}</span>
          </dd>
          <dt>Permissions</dt>
          <dd>{summary(asPermissions(record.permissions))}</dd>
          <dt>Tier</dt>
          <dd>
            {record.tier}, {record.rate_limit_per_minute} requests per minute
          </dd>
          <dt>Created</dt>
          <dd>
            {formatTime(record.created_at)} by <code>{record.created_by.key_id}</code>
            {record.created_by.user_id ? ` (${record.created_by.user_id})` : ""}
          </dd>
          <dt>Expires</dt>
          <dd>{formatTime(record.expires_at)}</dd>
          <dt>Last used</dt>
          <dd>{formatTime(record.last_used_at)}</dd>
          <dt>External id</dt>
          <dd>{record.external_id ?? "none"}</dd>
          <dt>Metadata</dt>
          <dd>{Object.keys(record.meta).length > 0 ? <code>{JSON.stringify(record.meta)}</code> : "none"}</dd>
        </dl>
      </section>
      {canUpdate ? (
        <EditForm
          record={record}
          busy={busy}
          onSave={(body) => {
            if (Object.keys(body).length > 0) return patch("Saved.", body);
            setError(undefined);
            setStatus("Nothing changed: nothing was sent.");
            return Promise.resolve();
          }}
        />
      ) : null}
      {canUpdate ? (
        <section aria-labelledby="enable-title">
          <h2 id="enable-title">{record.enabled ? "Disable" : "Enable"}</h2>
          <p>
            {record.enabled
              ? "A disabled key is refused (401) from its very next request until you enable it again."
              : "This key is disabled: every request with it is refused (401)."}
          </p>
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void patch(record.enabled ? "Disabled." : "Enabled.", { enabled: !record.enabled })
            }
            data-testid="toggle-enabled"
          >
            {record.enabled ? "Disable key" : "Enable key"}
          </button>
        </section>
      ) : null}
      {canUpdate ? <RollSection record={record} onRolled={onChange} /> : null}
      <UsageSection keyId={record.id} />
      <AccessSection
        record={record}
        canUpdate={canUpdate}
        busy={busy}
        onApply={(p) => patch("Suggestion applied.", { permissions: p })}
      />
      {canDelete ? <RevokeSection record={record} /> : null}
    </>
  );
}

function EditForm({
  record,
  busy,
  onSave,
}: {
  record: Key;
  busy: boolean;
  /** Only what the operator changed: a stale page must not send back what it did not touch. */
  onSave: (body: { name?: string; permissions?: Permissions }) => Promise<void>;
}) {
  const { permissions: offered } = useSession();
  const stored = asPermissions(record.permissions);
  const [name, setName] = useState(record.name);
  const [grants, setGrants] = useState<Permissions>(stored);
  // A saved change (or an applied suggestion) becomes the new starting point.
  useEffect(() => {
    setName(record.name);
    setGrants(asPermissions(record.permissions));
  }, [record]);
  const nameChanged = name !== record.name;
  const grantsChanged = !samePermissions(grants, stored);
  return (
    <section aria-labelledby="edit-title">
      <h2 id="edit-title">Edit</h2>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void onSave({
            ...(nameChanged ? { name } : {}),
            ...(grantsChanged ? { permissions: grants } : {}),
          });
        }}
        data-testid="edit-form"
      >
        <div class="field">
          <label for="edit-name">Name</label>
          <input
            id="edit-name"
            required
            maxLength={100}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            data-testid="edit-name"
          />
        </div>
        <PermissionGrid
          legend="Permissions"
          offered={offered}
          value={grants}
          onChange={setGrants}
          idPrefix="edit-perm"
        />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy} data-testid="save-key">
            Save changes
          </button>
        </div>
      </form>
    </section>
  );
}

function RollSection({ record, onRolled }: { record: Key; onRolled: (key: Key) => void }) {
  const { client, self, adoptKey } = useSession();
  const [grace, setGrace] = useState(0);
  const { busy, error, run } = useAction();
  const [rolled, setRolled] = useState<{
    secret: string;
    oldValidUntil: string | null;
    own: boolean;
  } | null>(null);

  const roll = () =>
    run(async () => {
      const { data } = await unwrap(
        client.POST("/v1/keys/{id}/roll", {
          params: { path: { id: record.id } },
          body: { grace_seconds: grace },
        }),
      );
      const { key: secret, old_secret_valid_until, ...rest } = data;
      // The signed-in key: the session moves to the new secret before anything is read again,
      // since the old one may already be refused (no grace) and a 401 would end the session.
      if (record.id === self.id) adoptKey(secret);
      onRolled(rest);
      setRolled({ secret, oldValidUntil: old_secret_valid_until ?? null, own: record.id === self.id });
    });

  return (
    <section aria-labelledby="roll-title">
      <h2 id="roll-title">Roll</h2>
      <p>A new secret for the same key id. The old one keeps working only for the grace period you choose.</p>
      <div class="field">
        <label for="roll-grace">Grace period for the old secret</label>
        <select
          id="roll-grace"
          value={String(grace)}
          onChange={(e) => setGrace(Number(e.currentTarget.value))}
          data-testid="roll-grace"
        >
          {GRACE_CHOICES.map((c) => (
            <option key={c.seconds} value={String(c.seconds)}>
              {c.label}
            </option>
          ))}
        </select>
      </div>
      <ErrorBanner error={error} />
      <button type="button" disabled={busy} onClick={() => void roll()} data-testid="roll-key">
        Roll key
      </button>
      {rolled ? (
        <SecretDialog
          title="The rolled key"
          secret={rolled.secret}
          note={
            (rolled.oldValidUntil
              ? `The old secret works until ${formatTime(rolled.oldValidUntil)}.`
              : "The old secret no longer works.") +
            (rolled.own ? " This console signs in with the new secret from now on." : "")
          }
          onClose={() => setRolled(null)}
        />
      ) : null}
    </section>
  );
}

function RevokeSection({ record }: { record: Key }) {
  const { client } = useSession();
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const confirmed = typed.trim() !== "" && (typed.trim() === record.name || typed.trim() === record.id);

  const revoke = async (event: Event) => {
    event.preventDefault();
    if (!confirmed) return;
    setBusy(true);
    setError(undefined);
    try {
      await unwrap(client.DELETE("/v1/keys/{id}", { params: { path: { id: record.id } } }));
      setFlash(`Key “${record.name}” (${record.id}) was revoked.`);
      navigate(href("/keys"));
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="revoke-title" class="danger-zone">
      <h2 id="revoke-title">Revoke</h2>
      <p>Revoking is immediate and cannot be undone: the very next request with this key is refused.</p>
      <form class="stack" onSubmit={revoke}>
        <div class="field">
          <label for="revoke-confirm">
            Type the key's name (<strong>{record.name}</strong>) or id (<code>{record.id}</code>) to confirm
          </label>
          <input
            id="revoke-confirm"
            autoComplete="off"
            value={typed}
            onInput={(e) => setTyped(e.currentTarget.value)}
            data-testid="revoke-confirm"
          />
        </div>
        <ErrorBanner error={error} />
        <div>
          <button type="submit" class="danger" disabled={!confirmed || busy} data-testid="revoke-key">
            Revoke key
          </button>
        </div>
      </form>
    </section>
  );
}

function UsageSection({ keyId }: { keyId: string }) {
  const { client } = useSession();
  const [granularity, setGranularity] = useState<"hour" | "day">("hour");
  const usage = useLoad(async () => {
    const to = new Date();
    // Hours: the default last 24 hours. Days: the last 30.
    const from = granularity === "day" ? new Date(to.getTime() - 30 * 86_400_000) : undefined;
    const query = { granularity, ...(from ? { from: from.toISOString(), to: to.toISOString() } : {}) };
    return (await unwrap(client.GET("/v1/keys/{id}/usage", { params: { path: { id: keyId }, query } }))).data;
  }, [keyId, granularity]);

  if (isMissingRoute(usage.error)) return null;
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Usage</h2>
      <div class="field">
        <label for="usage-granularity">Show</label>
        <select
          id="usage-granularity"
          value={granularity}
          onChange={(e) => setGranularity(e.currentTarget.value === "day" ? "day" : "hour")}
          data-testid="usage-granularity"
        >
          <option value="hour">Last 24 hours, by hour</option>
          <option value="day">Last 30 days, by day</option>
        </select>
      </div>
      <ErrorBanner error={usage.error} />
      {usage.value ? (
        <>
          <UsageChart
            id="usage-chart"
            title={
              granularity === "day" ? "Requests per day, last 30 days" : "Requests per hour, last 24 hours"
            }
            series={usage.value.series}
            granularity={usage.value.granularity}
          />
          <h3>By permission</h3>
          {usage.value.by_permission.length === 0 ? (
            <p class="muted">No request needed a permission in this span.</p>
          ) : (
            <div class="table-scroll">
              <table data-testid="usage-by-permission">
                <caption class="visually-hidden">Requests by permission</caption>
                <thead>
                  <tr>
                    <th scope="col">Permission</th>
                    <th scope="col">Success</th>
                    <th scope="col">Forbidden</th>
                  </tr>
                </thead>
                <tbody>
                  {usage.value.by_permission.map((p) => (
                    <tr key={p.permission}>
                      <th scope="row">
                        <code>{p.permission}</code>
                      </th>
                      <td class="num">{p.success}</td>
                      <td class="num">{p.forbidden}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      ) : null}
    </section>
  );
}

function AccessSection({
  record,
  canUpdate,
  busy,
  onApply,
}: {
  record: Key;
  canUpdate: boolean;
  busy: boolean;
  onApply: (permissions: Permissions) => Promise<void>;
}) {
  const { client, permissions: offered } = useSession();
  const access = useLoad(
    async () =>
      (await unwrap(client.GET("/v1/keys/{id}/access", { params: { path: { id: record.id } } }))).data,
    [record],
  );
  if (isMissingRoute(access.error)) return null;
  const suggested = access.value ? asPermissions(access.value.suggested_permissions) : null;
  const current = asPermissions(record.permissions);
  // The suggestion only ever removes; offering it needs every current grant in the caller's hands.
  const applicable =
    canUpdate &&
    suggested !== null &&
    !samePermissions(suggested, current) &&
    samePermissions(within(current, offered), current);
  return (
    <section aria-labelledby="access-title">
      <h2 id="access-title">Least privilege</h2>
      <ErrorBanner error={access.error} />
      {access.value && suggested ? (
        <>
          <p>
            Since {formatTime(access.value.since)}: {access.value.unused.length} of {names(current).length}{" "}
            granted permissions unused.
          </p>
          <div class="table-scroll">
            <table data-testid="access-table">
              <caption class="visually-hidden">Permissions and their use</caption>
              <thead>
                <tr>
                  <th scope="col">Permission</th>
                  <th scope="col">Granted</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Refused</th>
                </tr>
              </thead>
              <tbody>
                {access.value.permissions.map((p) => (
                  <tr key={p.permission}>
                    <th scope="row">
                      <code>{p.permission}</code>
                    </th>
                    <td>{p.granted ? "yes" : "no"}</td>
                    <td>{formatTime(p.last_used_at)}</td>
                    <td class="num">{p.denied_count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p>
            Suggested permissions: <strong data-testid="access-suggestion">{summary(suggested)}</strong>
          </p>
          {applicable ? (
            <button
              type="button"
              disabled={busy}
              onClick={() => void onApply(suggested)}
              data-testid="apply-suggestion"
            >
              Apply suggestion
            </button>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
