/** Custom link domains: add one, publish its TXT record, verify it, delete it (with its links, if forced). */
import { useState } from "preact/hooks";
import { unwrap, useSession, type Domain, type VerifiedDomain } from "../api/client";
import { useAction } from "../api/useAction";
import { useCursorList } from "../api/useCursorList";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { CopyButton } from "../components/CopyButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { LoadMore } from "../components/LoadMore";
import { formatTime } from "../format";
import { holds } from "../permissions";
import { serverTrim, visibleValue } from "../visible";

export function DomainsPage() {
  const { client, permissions } = useSession();
  const canCreate = holds(permissions, "domains", "create");
  const canVerify = holds(permissions, "domains", "update");
  const canDelete = holds(permissions, "domains", "delete");
  const canForce = holds(permissions, "shortLinks", "delete");
  const list = useCursorList(
    (cursor) => unwrap(client.GET("/domains", { params: { query: { limit: 50, cursor } } })),
    [],
  );
  const [notice, setNotice] = useState("");
  const [seen, setSeen] = useState<Record<string, string[]>>({});
  const [rowError, setRowError] = useState<{ id: string; error: unknown } | null>(null);
  const [verifying, setVerifying] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Domain | null>(null);
  const [force, setForce] = useState(false);
  const { busy, error: deleteError, setError: setDeleteError, run } = useAction();

  const verify = async (domain: Domain) => {
    setVerifying(domain.id);
    setRowError(null);
    try {
      const { data } = await unwrap(
        client.POST("/domains/{id}/verify", { params: { path: { id: domain.id } } }),
      );
      const verified = data as VerifiedDomain;
      const { seen: values, ...record } = verified;
      list.setItems((items) => items.map((d) => (d.id === domain.id ? record : d)));
      setSeen((current) => ({ ...current, [domain.id]: values ?? [] }));
      setNotice(
        record.verified
          ? `${record.hostname} is verified.`
          : `${record.hostname} is not verified yet: the expected TXT value was not among the ${values?.length ?? 0} seen.`,
      );
    } catch (failure) {
      setRowError({ id: domain.id, error: failure });
    } finally {
      setVerifying(null);
    }
  };

  const remove = async (domain: Domain) => {
    await run(async () => {
      const { data } = await unwrap(
        client.DELETE("/domains/{id}", {
          params: { path: { id: domain.id }, query: force ? { force: true } : {} },
        }),
      );
      list.setItems((items) => items.filter((d) => d.id !== domain.id));
      // The answer is the domain as it was when deleted: its count, not the list's older one.
      setNotice(
        `Deleted ${data.hostname}${force && data.links > 0 ? ` and its ${linksText(data.links)}` : ""}.`,
      );
      setDeleting(null);
    });
  };

  return (
    <>
      <h1 tabIndex={-1}>Custom domains</h1>
      <p role="status" class="status" data-testid="domains-status">
        {notice}
      </p>
      {canCreate ? (
        <AddDomain
          onAdded={(domain) => {
            list.setItems((items) => [domain, ...items.filter((d) => d.id !== domain.id)]);
            setNotice(`Added ${domain.hostname}: publish its TXT record, then verify it.`);
          }}
        />
      ) : null}
      <h2>All domains</h2>
      <ErrorBanner error={list.error} />
      <div class="table-scroll">
        <table class="cards" data-testid="domains-table">
          <caption class="visually-hidden">Custom domains</caption>
          <thead>
            <tr>
              <th scope="col">Hostname</th>
              <th scope="col">State</th>
              <th scope="col">TXT record to publish</th>
              <th scope="col">Links</th>
              <th scope="col">Added</th>
              {canVerify || canDelete ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {list.items.map((domain) => (
              <tr
                key={domain.id}
                data-testid={`domain-row-${domain.id}`}
                data-verified={String(domain.verified)}
              >
                <th scope="row" data-label="Hostname">
                  {domain.hostname}
                </th>
                <td data-label="State">
                  <span class={`badge ${domain.verified ? "ok" : "off"}`} data-testid="domain-state">
                    {domain.verified ? "verified" : "not verified"}
                  </span>
                  {domain.verified_at ? (
                    <span class="muted"> since {formatTime(domain.verified_at)}</span>
                  ) : null}
                </td>
                <td data-label="TXT record">
                  <dl class="record">
                    <dt>Name</dt>
                    <dd>
                      <code data-testid="domain-txt-name">{domain.verification.name}</code>{" "}
                      <CopyButton
                        value={domain.verification.name}
                        label={`TXT record name for ${domain.hostname}`}
                        testId="copy-txt-name"
                      />
                    </dd>
                    <dt>Value</dt>
                    <dd>
                      <code data-testid="domain-txt-value">{domain.verification.value}</code>{" "}
                      <CopyButton
                        value={domain.verification.value}
                        label={`TXT record value for ${domain.hostname}`}
                        testId="copy-txt-value"
                      />
                    </dd>
                  </dl>
                  {seen[domain.id] ? (
                    <div data-testid="domain-seen">
                      <p class="muted">
                        {seen[domain.id]?.length
                          ? "TXT values seen at the last check:"
                          : "No TXT value was seen at the last check."}
                      </p>
                      {seen[domain.id]?.length ? (
                        <ul class="seen">
                          {seen[domain.id]?.map((value, index) => (
                            // Values may repeat: each answer is its own item.
                            <SeenValue key={index} value={value} expected={domain.verification.value} />
                          ))}
                        </ul>
                      ) : null}
                    </div>
                  ) : null}
                </td>
                <td data-label="Links" class="num">
                  {domain.links}
                </td>
                <td data-label="Added">{formatTime(domain.created_at)}</td>
                {canVerify || canDelete ? (
                  <td data-label="Actions">
                    <div class="actions">
                      {canVerify && !domain.verified ? (
                        <button
                          type="button"
                          class="primary"
                          disabled={verifying === domain.id}
                          onClick={() => void verify(domain)}
                          data-testid={`domain-verify-${domain.id}`}
                        >
                          {verifying === domain.id ? "Checking…" : "Verify"}
                          <span class="visually-hidden"> {domain.hostname}</span>
                        </button>
                      ) : null}
                      {canDelete ? (
                        <button
                          type="button"
                          class="danger"
                          onClick={() => {
                            setDeleteError(undefined);
                            setForce(false);
                            setDeleting(domain);
                          }}
                          data-testid={`domain-delete-${domain.id}`}
                        >
                          Delete<span class="visually-hidden"> {domain.hostname}</span>
                        </button>
                      ) : null}
                    </div>
                    {rowError?.id === domain.id ? <ErrorBanner error={rowError.error} /> : null}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!list.loading && list.items.length === 0 && !list.error ? <p>No custom domains yet.</p> : null}
      <LoadMore list={list} shown={list.items.length} noun={["domain", "domains"]} />
      {deleting ? (
        <ConfirmDialog
          title={`Delete ${deleting.hostname}?`}
          confirmLabel={force ? "Delete domain and its links" : "Delete domain"}
          busy={busy}
          onCancel={() => setDeleting(null)}
          onConfirm={() => void remove(deleting)}
        >
          <p>
            The domain is removed from your organization
            {deleting.verified ? ", and its claim on the name ends: anyone may verify it afterwards" : ""}.
          </p>
          <p>
            {deleting.links > 0
              ? `${deleting.links} link${deleting.links === 1 ? " uses" : "s use"} it: without force the deletion is refused.`
              : "No link uses it."}
          </p>
          <div class="check">
            <input
              type="checkbox"
              id="domain-force"
              checked={force}
              disabled={!canForce}
              onChange={(e) => setForce(e.currentTarget.checked)}
              aria-describedby="domain-force-hint"
              data-testid="domain-force"
            />
            <label for="domain-force">Force: also delete every link on this domain</label>
          </div>
          <p id="domain-force-hint" class="muted">
            Force deletes the short links on {deleting.hostname} first (at most 100 per request): their
            redirects stop working, and their slugs stay reserved for you for 90 days.
            {canForce ? "" : " Your key lacks shortLinks:delete, which force needs."}
          </p>
          <ErrorBanner error={deleteError} />
        </ConfirmDialog>
      ) : null}
    </>
  );
}

const linksText = (n: number) => `${n} link${n === 1 ? "" : "s"}`;

/** One TXT value seen in DNS: anyone's text, shown escaped and cut, and whether it matches. */
function SeenValue({ value, expected }: { value: string; expected: string }) {
  const { text, cut } = visibleValue(value);
  return (
    <li data-testid="domain-seen-value">
      <code class="wrap">{text}</code>
      {cut !== null ? <span class="muted"> (cut: {cut} characters in all)</span> : null}
      {serverTrim(value) === expected ? " (matches)" : ""}
    </li>
  );
}

function AddDomain({ onAdded }: { onAdded: (domain: Domain) => void }) {
  const { client } = useSession();
  const [hostname, setHostname] = useState("");
  const { busy, error, setError, run } = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const { data } = await unwrap(client.POST("/domains", { body: { hostname: hostname.trim() } }));
      onAdded(data);
      setHostname("");
    });
  };

  return (
    <section aria-labelledby="add-domain-title">
      <h2 id="add-domain-title">Add a domain</h2>
      <form class="filters" onSubmit={submit} data-testid="domain-form">
        <div class="field">
          <label for="domain-hostname">Hostname</label>
          <input
            id="domain-hostname"
            required
            maxLength={254}
            placeholder="go.example.com"
            autoComplete="off"
            spellcheck={false}
            value={hostname}
            onInput={(e) => setHostname(e.currentTarget.value)}
            data-testid="domain-hostname"
          />
        </div>
        <div class="field actions">
          <button type="submit" class="primary" disabled={busy} data-testid="domain-submit">
            {busy ? "Adding…" : "Add domain"}
          </button>
        </div>
      </form>
      <ErrorBanner error={error} />
    </section>
  );
}
