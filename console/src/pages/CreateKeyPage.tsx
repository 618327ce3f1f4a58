/**
 * Creating a key: every choice is bounded by the signed-in key (permissions, environment, rate
 * limit, expiry), as the server's no-escalation rule will be; the secret is shown once.
 */
import { useState } from "preact/hooks";
import { isMissingRoute, listAll, unwrap, useSession, type Member, type NewKey } from "../api/client";
import { useAction } from "../api/useAction";
import { useLoad } from "../api/useLoad";
import { ErrorBanner } from "../components/ErrorBanner";
import { PermissionGrid } from "../components/PermissionGrid";
import { SecretDialog } from "../components/SecretDialog";
import { isoToLocalInput, localInputToIso } from "../format";
import { holds, type Permissions } from "../permissions";
import { href, navigate } from "../routing";

type Tier = "standard" | "professional" | "enterprise";
const TIER_LIMITS: Record<Exclude<Tier, "enterprise">, number> = { standard: 100, professional: 500 };

interface MetaRow {
  name: string;
  value: string;
}

interface Form {
  name: string;
  type: "bot" | "user";
  userId: string;
  environment: "live" | "test";
  permissions: Permissions;
  expiresAt: string;
  tier: Tier;
  rateLimit: string;
  externalId: string;
  meta: MetaRow[];
}

export function CreateKeyPage() {
  const { client, self, permissions } = useSession();
  const canUserKeys = self.environment === "live";
  const [form, setForm] = useState<Form>(() => ({
    name: "",
    type: "bot",
    userId: "",
    environment: self.environment,
    permissions: {},
    // A key that expires may only create keys that expire no later.
    expiresAt: isoToLocalInput(self.expires_at),
    tier: "standard",
    rateLimit: "",
    externalId: "",
    meta: [],
  }));
  const { busy, error, run } = useAction();
  const [created, setCreated] = useState<{ id: string; secret: string } | null>(null);

  const members = useLoad(
    async () =>
      canUserKeys && holds(permissions, "members", "read")
        ? listAll<Member>((cursor) =>
            unwrap(client.GET("/v1/members", { params: { query: { limit: 100, cursor } } })),
          )
        : null,
    [],
  );

  const set = <K extends keyof Form>(field: K, value: Form[K]) => setForm((f) => ({ ...f, [field]: value }));
  const tiers = (["standard", "professional", "enterprise"] as const).filter(
    (t) => t === "enterprise" || TIER_LIMITS[t] <= self.rate_limit_per_minute,
  );

  const submit = async (event: Event) => {
    event.preventDefault();
    const meta: Record<string, string> = {};
    for (const row of form.meta) if (row.name.trim()) meta[row.name.trim()] = row.value;
    const body: NewKey = {
      name: form.name,
      type: form.type,
      user_id: form.type === "user" ? form.userId : null,
      permissions: form.permissions,
      environment: form.environment,
      expires_at: localInputToIso(form.expiresAt),
      tier: form.tier,
      rate_limit_per_minute: form.tier === "enterprise" ? Number(form.rateLimit) : null,
      meta: Object.keys(meta).length > 0 ? meta : null,
      external_id: form.externalId || null,
    };
    // The form keeps everything typed, so the operator can fix one field and send again.
    await run(async () => {
      const { data } = await unwrap(client.POST("/v1/keys", { body }));
      setCreated({ id: data.id, secret: data.key });
    });
  };

  return (
    <>
      <h1 tabIndex={-1}>Create an API key</h1>
      <p>
        <a href={href("/keys")}>Back to keys</a>
      </p>
      <form class="stack" onSubmit={submit} data-testid="create-form">
        <div class="field">
          <label for="key-name">Name</label>
          <input
            id="key-name"
            required
            maxLength={100}
            value={form.name}
            onInput={(e) => set("name", e.currentTarget.value)}
            data-testid="create-name"
          />
        </div>
        <fieldset class="inline">
          <legend>Type</legend>
          <div class="check">
            <input
              type="radio"
              id="key-type-bot"
              name="key-type"
              checked={form.type === "bot"}
              onChange={() => set("type", "bot")}
              data-testid="create-type-bot"
            />
            <label for="key-type-bot">Bot (a service)</label>
          </div>
          {canUserKeys ? (
            <div class="check">
              <input
                type="radio"
                id="key-type-user"
                name="key-type"
                checked={form.type === "user"}
                onChange={() => set("type", "user")}
                data-testid="create-type-user"
              />
              <label for="key-type-user">User (acts as a member)</label>
            </div>
          ) : null}
        </fieldset>
        {form.type === "user" ? (
          <div class="field">
            <label for="key-member">Member</label>
            {members.value ? (
              <select
                id="key-member"
                required
                value={form.userId}
                onChange={(e) => set("userId", e.currentTarget.value)}
                data-testid="create-member"
              >
                <option value="">Choose a member</option>
                {members.value.map((m) => (
                  <option key={m.user_id} value={m.user_id}>
                    {m.name} ({m.email})
                  </option>
                ))}
              </select>
            ) : (
              <input
                id="key-member"
                required
                placeholder="usr_…"
                value={form.userId}
                onInput={(e) => set("userId", e.currentTarget.value)}
                data-testid="create-member"
              />
            )}
            {members.error && !isMissingRoute(members.error) ? <ErrorBanner error={members.error} /> : null}
          </div>
        ) : null}
        {self.environment === "live" ? (
          <div class="field">
            <label for="key-environment">Environment</label>
            <select
              id="key-environment"
              value={form.environment}
              onChange={(e) => set("environment", e.currentTarget.value === "test" ? "test" : "live")}
              data-testid="create-environment"
            >
              <option value="live">Live</option>
              <option value="test">Test</option>
            </select>
          </div>
        ) : (
          <p class="muted">Your key is a test key: it creates test keys only.</p>
        )}
        <PermissionGrid
          legend="Permissions"
          offered={permissions}
          value={form.permissions}
          onChange={(p) => set("permissions", p)}
          idPrefix="create-perm"
        />
        <div class="field">
          <label for="key-expires">
            Expires (local time{self.expires_at ? ", no later than your own key" : ", optional"})
          </label>
          <input
            id="key-expires"
            type="datetime-local"
            required={self.expires_at !== null}
            max={isoToLocalInput(self.expires_at) || undefined}
            value={form.expiresAt}
            onInput={(e) => set("expiresAt", e.currentTarget.value)}
            data-testid="create-expires"
          />
        </div>
        <div class="field">
          <label for="key-tier">Tier</label>
          <select
            id="key-tier"
            value={form.tier}
            onChange={(e) => set("tier", e.currentTarget.value as Tier)}
            data-testid="create-tier"
          >
            {tiers.map((t) => (
              <option key={t} value={t}>
                {t === "enterprise"
                  ? "Enterprise (own limit)"
                  : `${t[0]?.toUpperCase()}${t.slice(1)} (${TIER_LIMITS[t]}/min)`}
              </option>
            ))}
          </select>
        </div>
        {form.tier === "enterprise" ? (
          <div class="field">
            <label for="key-rate">Rate limit per minute (at most {self.rate_limit_per_minute})</label>
            <input
              id="key-rate"
              type="number"
              required
              min={1}
              max={self.rate_limit_per_minute}
              value={form.rateLimit}
              onInput={(e) => set("rateLimit", e.currentTarget.value)}
              data-testid="create-rate-limit"
            />
          </div>
        ) : null}
        <div class="field">
          <label for="key-external-id">External id (optional: your id for the key's owner)</label>
          <input
            id="key-external-id"
            maxLength={255}
            value={form.externalId}
            onInput={(e) => set("externalId", e.currentTarget.value)}
            data-testid="create-external-id"
          />
        </div>
        <fieldset>
          <legend>Metadata (optional)</legend>
          {form.meta.map((row, i) => (
            <div class="meta-row" key={i}>
              <div class="field">
                <label for={`meta-name-${i}`}>Name</label>
                <input
                  id={`meta-name-${i}`}
                  value={row.name}
                  onInput={(e) => {
                    const name = e.currentTarget.value;
                    set(
                      "meta",
                      form.meta.map((r, j) => (j === i ? { ...r, name } : r)),
                    );
                  }}
                />
              </div>
              <div class="field">
                <label for={`meta-value-${i}`}>Value</label>
                <input
                  id={`meta-value-${i}`}
                  value={row.value}
                  onInput={(e) => {
                    const value = e.currentTarget.value;
                    set(
                      "meta",
                      form.meta.map((r, j) => (j === i ? { ...r, value } : r)),
                    );
                  }}
                />
              </div>
              <button
                type="button"
                onClick={() =>
                  set(
                    "meta",
                    form.meta.filter((_, j) => j !== i),
                  )
                }
                aria-label={`Remove metadata ${row.name || i + 1}`}
              >
                Remove
              </button>
            </div>
          ))}
          {form.meta.length < 20 ? (
            <button type="button" onClick={() => set("meta", [...form.meta, { name: "", value: "" }])}>
              Add metadata
            </button>
          ) : null}
        </fieldset>
        <ErrorBanner error={error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy} data-testid="create-submit">
            {busy ? "Creating…" : "Create key"}
          </button>
        </div>
      </form>
      {created ? (
        <SecretDialog
          title="Your new key"
          secret={created.secret}
          onClose={() => {
            const id = created.id;
            setCreated(null);
            navigate(href(`/keys/${id}`));
          }}
        />
      ) : null}
    </>
  );
}
