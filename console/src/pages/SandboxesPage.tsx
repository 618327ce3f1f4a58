/** Sandboxes: the list with a status filter and a live countdown, creation from a template, extend, kill. */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  isMissingRoute,
  unwrap,
  useSession,
  type Sandbox,
  type SandboxStatus,
  type Template,
} from "../api/client";
import { useAction } from "../api/useAction";
import { useCursorList } from "../api/useCursorList";
import { useLoad } from "../api/useLoad";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Countdown } from "../components/Countdown";
import { ErrorBanner } from "../components/ErrorBanner";
import { LoadMore } from "../components/LoadMore";
import { formatDuration, formatTime } from "../format";
import { holds } from "../permissions";
import { href, navigate } from "../routing";

export const SANDBOX_STATUSES = ["running", "killed", "expired"] as const satisfies readonly SandboxStatus[];

function readStatus(query: URLSearchParams): SandboxStatus | "" {
  const value = query.get("status") ?? "";
  return (SANDBOX_STATUSES as readonly string[]).includes(value) ? (value as SandboxStatus) : "";
}

/** Why `seconds` is not a timeout the template takes, or null. */
export function timeoutProblem(seconds: string, template: Template | undefined): string | null {
  if (!template) return "Choose a template.";
  if (seconds.trim() === "") return null;
  if (!/^\d+$/.test(seconds.trim())) return "The timeout is a whole number of seconds.";
  const n = Number(seconds);
  if (n < 1) return "The timeout is at least 1 second.";
  if (n > template.max_timeout_seconds)
    return `${template.name} allows at most ${template.max_timeout_seconds} seconds (${formatDuration(template.max_timeout_seconds)}).`;
  return null;
}

export function SandboxesPage({ query }: { query: URLSearchParams }) {
  const { client, permissions } = useSession();
  const status = readStatus(query);
  const [draftStatus, setDraftStatus] = useState<string>(status);
  // The address can change under the page (a link, back and forward): the form follows it.
  useEffect(() => setDraftStatus(status), [status]);
  const [notice, setNotice] = useState("");
  const [killing, setKilling] = useState<Sandbox | null>(null);
  const [extending, setExtending] = useState<Sandbox | null>(null);
  const { busy, error: actionError, setError: setActionError, run } = useAction();

  const list = useCursorList(
    (cursor) =>
      unwrap(
        client.GET("/v1/sandboxes", {
          params: { query: { limit: 50, cursor, status: status || undefined } },
        }),
      ),
    [status],
  );
  const templates = useLoad(async () => (await unwrap(client.GET("/v1/templates"))).data, []);
  const catalog = new Map((templates.value ?? []).map((t) => [t.id, t]));
  const canCreate = holds(permissions, "sandboxes", "create") && !isMissingRoute(templates.error);
  const canUpdate = holds(permissions, "sandboxes", "update");
  const canDelete = holds(permissions, "sandboxes", "delete");

  const replace = (sandbox: Sandbox) =>
    list.setItems((items) =>
      status && sandbox.status !== status
        ? items.filter((s) => s.id !== sandbox.id)
        : items.map((s) => (s.id === sandbox.id ? sandbox : s)),
    );

  const kill = async (sandbox: Sandbox) => {
    await run(async () => {
      const { data } = await unwrap(
        client.DELETE("/v1/sandboxes/{id}", { params: { path: { id: sandbox.id } } }),
      );
      replace(data);
      setNotice(`Sandbox ${sandbox.id} is ${data.status}.`);
      setKilling(null);
    });
  };

  return (
    <>
      <h1 tabIndex={-1}>Sandboxes</h1>
      <p role="status" class="status" data-testid="sandboxes-status">
        {notice}
      </p>
      {canCreate ? (
        <CreateSandbox
          templates={templates.value ?? []}
          templatesError={templates.error}
          onCreated={(sandbox) => {
            if (!status || status === sandbox.status) list.setItems((items) => [sandbox, ...items]);
            // What the answer says: a sandbox may be answered already ended.
            setNotice(`Sandbox ${sandbox.id} is ${sandbox.status}.`);
          }}
        />
      ) : null}
      <h2>All sandboxes</h2>
      <form
        class="filters"
        aria-label="Filter sandboxes"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href("/sandboxes", { status: draftStatus }));
        }}
      >
        <div class="field">
          <label for="sandbox-filter-status">Status</label>
          <select
            id="sandbox-filter-status"
            value={draftStatus}
            onChange={(e) => setDraftStatus(e.currentTarget.value)}
            data-testid="sandbox-filter-status"
          >
            <option value="">Any</option>
            {SANDBOX_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field actions">
          <button type="submit" data-testid="sandbox-filter-apply">
            Apply filter
          </button>
        </div>
      </form>
      <ErrorBanner error={list.error} />
      {actionError && !killing && !extending ? <ErrorBanner error={actionError} /> : null}
      <div class="table-scroll">
        <table class="cards" data-testid="sandboxes-table">
          <caption class="visually-hidden">Sandboxes, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Sandbox</th>
              <th scope="col">Template</th>
              <th scope="col">Status</th>
              <th scope="col">Time left</th>
              <th scope="col">Created</th>
              {canUpdate || canDelete ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {list.items.map((sandbox) => {
              const template = catalog.get(sandbox.template_id);
              const live = sandbox.status === "running" && Date.parse(sandbox.expires_at) > Date.now();
              return (
                <tr key={sandbox.id} data-testid={`sandbox-row-${sandbox.id}`} data-status={sandbox.status}>
                  <th scope="row" data-label="Sandbox">
                    <code>{sandbox.id}</code>
                  </th>
                  <td data-label="Template">
                    {template ? template.name : <code>{sandbox.template_id}</code>}
                  </td>
                  <td data-label="Status">
                    <span
                      class={`badge ${sandbox.status === "running" ? "ok" : "off"}`}
                      data-testid="sandbox-status"
                    >
                      {sandbox.status}
                    </span>
                  </td>
                  <td data-label="Time left">
                    {sandbox.status === "running" ? (
                      <Countdown until={sandbox.expires_at} testId="sandbox-countdown" />
                    ) : (
                      <span class="muted">
                        ended (deadline{" "}
                        <time dateTime={sandbox.expires_at}>{formatTime(sandbox.expires_at)}</time>)
                      </span>
                    )}
                  </td>
                  <td data-label="Created">{formatTime(sandbox.created_at)}</td>
                  {canUpdate || canDelete ? (
                    <td data-label="Actions">
                      {live ? (
                        <div class="actions">
                          {canUpdate ? (
                            <button
                              type="button"
                              onClick={() => {
                                setActionError(undefined);
                                setExtending(sandbox);
                              }}
                              data-testid={`sandbox-extend-${sandbox.id}`}
                            >
                              Extend<span class="visually-hidden"> {sandbox.id}</span>
                            </button>
                          ) : null}
                          {canDelete ? (
                            <button
                              type="button"
                              class="danger"
                              onClick={() => {
                                setActionError(undefined);
                                setKilling(sandbox);
                              }}
                              data-testid={`sandbox-kill-${sandbox.id}`}
                            >
                              Kill<span class="visually-hidden"> {sandbox.id}</span>
                            </button>
                          ) : null}
                        </div>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {!list.loading && list.items.length === 0 && !list.error ? <p>No sandboxes match.</p> : null}
      <LoadMore list={list} shown={list.items.length} noun={["sandbox", "sandboxes"]} />
      {killing ? (
        <ConfirmDialog
          title={`Kill sandbox ${killing.id}?`}
          confirmLabel="Kill sandbox"
          busy={busy}
          onCancel={() => setKilling(null)}
          onConfirm={() => void kill(killing)}
        >
          <p>
            The sandbox stops now and frees its slot of the quota. A killed sandbox cannot be started again.
          </p>
          <ErrorBanner error={actionError} />
        </ConfirmDialog>
      ) : null}
      {extending ? (
        <ExtendDialog
          sandbox={extending}
          template={catalog.get(extending.template_id)}
          onCancel={() => setExtending(null)}
          onExtended={(sandbox) => {
            replace(sandbox);
            setExtending(null);
            setNotice(`Sandbox ${sandbox.id} now runs until ${formatTime(sandbox.expires_at)}.`);
          }}
        />
      ) : null}
    </>
  );
}

function TemplateLimits({ template }: { template: Template }) {
  return (
    <dl class="facts" data-testid="sandbox-template-limits">
      <dt>Language</dt>
      <dd>{template.language}</dd>
      <dt>Default timeout</dt>
      <dd>
        {template.default_timeout_seconds} s ({formatDuration(template.default_timeout_seconds)})
      </dd>
      <dt>Longest timeout</dt>
      <dd data-testid="sandbox-template-max">
        {template.max_timeout_seconds} s ({formatDuration(template.max_timeout_seconds)})
      </dd>
      <dt>vCPU</dt>
      <dd>{template.vcpu}</dd>
      <dt>Memory</dt>
      <dd>{template.memory_mb} MB</dd>
    </dl>
  );
}

function CreateSandbox({
  templates,
  templatesError,
  onCreated,
}: {
  templates: Template[];
  templatesError: unknown;
  onCreated: (sandbox: Sandbox) => void;
}) {
  const { client } = useSession();
  const [templateId, setTemplateId] = useState("");
  const [timeout, setTimeoutValue] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const { busy, error, setError, run } = useAction();
  const template = templates.find((t) => t.id === templateId);

  const submit = async (event: Event) => {
    event.preventDefault();
    const why = timeoutProblem(timeout, template);
    setProblem(why);
    if (why || !template) return;
    await run(async () => {
      const { data } = await unwrap(
        client.POST("/v1/sandboxes", {
          body: {
            template_id: template.id,
            ...(timeout.trim() ? { timeout_seconds: Number(timeout) } : {}),
          },
        }),
      );
      onCreated(data);
      setTimeoutValue("");
    });
  };

  return (
    <section aria-labelledby="create-sandbox-title">
      <h2 id="create-sandbox-title">Start a sandbox</h2>
      <ErrorBanner error={templatesError} />
      <form class="stack" onSubmit={submit} noValidate data-testid="sandbox-form">
        <div class="field">
          <label for="sandbox-template">Template</label>
          <select
            id="sandbox-template"
            value={templateId}
            required
            onChange={(e) => {
              setTemplateId(e.currentTarget.value);
              setProblem(null);
            }}
            data-testid="sandbox-template"
          >
            <option value="">Choose a template…</option>
            {templates.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name} ({t.id})
              </option>
            ))}
          </select>
        </div>
        {template ? <TemplateLimits template={template} /> : null}
        <div class="field">
          <label for="sandbox-timeout">Timeout in seconds (optional)</label>
          <input
            id="sandbox-timeout"
            type="number"
            inputMode="numeric"
            min={1}
            max={template?.max_timeout_seconds}
            placeholder={template ? `${template.default_timeout_seconds} (the template's default)` : ""}
            value={timeout}
            aria-describedby="sandbox-timeout-hint"
            aria-invalid={problem ? true : undefined}
            onInput={(e) => {
              setTimeoutValue(e.currentTarget.value);
              setProblem(null);
            }}
            data-testid="sandbox-timeout"
          />
          <p id="sandbox-timeout-hint" class="muted">
            {template
              ? `1 to ${template.max_timeout_seconds} seconds for ${template.name}; empty for its default.`
              : "Choose a template to see its limits."}
          </p>
        </div>
        {problem ? (
          <p class="field-error" role="alert" data-testid="sandbox-form-problem">
            {problem}
          </p>
        ) : null}
        <div>
          <button type="submit" class="primary" disabled={busy} data-testid="sandbox-create">
            {busy ? "Starting…" : "Start sandbox"}
          </button>
        </div>
      </form>
      <ErrorBanner error={error} />
    </section>
  );
}

function ExtendDialog({
  sandbox,
  template,
  onCancel,
  onExtended,
}: {
  sandbox: Sandbox;
  template: Template | undefined;
  onCancel: () => void;
  onExtended: (sandbox: Sandbox) => void;
}) {
  const { client } = useSession();
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [seconds, setSeconds] = useState(
    String(template?.default_timeout_seconds ?? sandbox.timeout_seconds),
  );
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
    input.current?.focus();
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const why =
      seconds.trim() === ""
        ? "Give a timeout."
        : template
          ? timeoutProblem(seconds, template)
          : /^\d+$/.test(seconds.trim()) && Number(seconds) >= 1 && Number(seconds) <= 86_400
            ? null
            : "The timeout is 1 to 86400 seconds.";
    setProblem(why);
    if (why) return;
    setBusy(true);
    setError(undefined);
    try {
      const { data } = await unwrap(
        client.POST("/v1/sandboxes/{id}/timeout", {
          params: { path: { id: sandbox.id } },
          body: { timeout_seconds: Number(seconds) },
        }),
      );
      onExtended(data);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="extend-title"
      data-testid="extend-dialog"
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
    >
      <h2 id="extend-title">Set the deadline of {sandbox.id}</h2>
      <form onSubmit={submit} noValidate class="stack">
        <p>
          The sandbox will run until now plus this many seconds (a shorter value brings the deadline closer).
        </p>
        <div class="field">
          <label for="extend-seconds">Seconds from now</label>
          <input
            id="extend-seconds"
            ref={input}
            type="number"
            inputMode="numeric"
            min={1}
            max={template?.max_timeout_seconds ?? 86_400}
            value={seconds}
            aria-describedby="extend-hint"
            onInput={(e) => setSeconds(e.currentTarget.value)}
            data-testid="extend-seconds"
          />
          <p id="extend-hint" class="muted">
            At most {template?.max_timeout_seconds ?? 86_400} s (
            {formatDuration(template?.max_timeout_seconds ?? 86_400)}).
          </p>
        </div>
        {problem ? (
          <p class="field-error" role="alert">
            {problem}
          </p>
        ) : null}
        <ErrorBanner error={error} />
        <div class="actions">
          <button type="button" onClick={onCancel} data-testid="extend-cancel">
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy} data-testid="extend-submit">
            {busy ? "Saving…" : "Set deadline"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
