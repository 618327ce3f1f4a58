/** The short link form, for a new link and for an existing one (whose slug and domain never change). */
import { useState } from "preact/hooks";
import {
  isMissingRoute,
  listAll,
  unwrap,
  useSession,
  type Domain,
  type Link,
  type LinkPatch,
  type NewLink,
  type NewLinkPreview,
} from "../api/client";
import { useLoad } from "../api/useLoad";
import { ErrorBanner } from "../components/ErrorBanner";
import { FileUpload } from "../components/FileUpload";
import { isoToLocalInput, localInputToIso } from "../format";
import { holds } from "../permissions";

export interface LinkDraft {
  destination: string;
  slug: string;
  domain: string;
  title: string;
  /** `datetime-local`, local time. */
  expires: string;
  previewTitle: string;
  previewDescription: string;
  previewImage: string;
}

export const EMPTY_DRAFT: LinkDraft = {
  destination: "",
  slug: "",
  domain: "",
  title: "",
  expires: "",
  previewTitle: "",
  previewDescription: "",
  previewImage: "",
};

export function draftOf(link: Link): LinkDraft {
  return {
    destination: link.destination.value,
    slug: link.slug,
    domain: link.domain ?? "",
    title: link.title ?? "",
    expires: isoToLocalInput(link.expires_at),
    previewTitle: link.preview?.title ?? "",
    previewDescription: link.preview?.description ?? "",
    previewImage: link.preview?.image ?? "",
  };
}

function previewOf(draft: LinkDraft): NewLinkPreview | null {
  const title = draft.previewTitle.trim();
  const description = draft.previewDescription.trim();
  const image = draft.previewImage.trim();
  if (!title && !description && !image) return null;
  return { title, description: description || null, image: image || null };
}

/**
 * Why the API would refuse the draft, or null (the checks a form can make). Editing (with the
 * link's `initial` draft), an unchanged expiry is not checked, as it is not sent: an expired
 * link's title or destination can still be edited.
 */
export function draftProblem(draft: LinkDraft, initial?: LinkDraft): string | null {
  if (!/^https?:\/\/[^/\s]+/.test(draft.destination.trim()))
    return "The destination is an absolute http or https URL.";
  if (draft.slug.trim() && !/^[A-Za-z0-9_-]{3,64}$/.test(draft.slug.trim()))
    return "A slug is 3 to 64 letters, digits, _ and -.";
  const preview = previewOf(draft);
  if (preview && !preview.title) return "A preview card needs a title.";
  if (preview?.image && !/^fil_[A-Za-z0-9]{24}$/.test(preview.image))
    return "The preview image is a file id: fil_ and 24 letters and digits.";
  if (draft.expires && localInputToIso(draft.expires) === null) return "The expiry is not a date and time.";
  const expiryChanged = !initial || draft.expires !== initial.expires;
  if (expiryChanged && draft.expires && Date.parse(draft.expires) <= Date.now())
    return "The expiry must be in the future.";
  return null;
}

export function newLinkBody(draft: LinkDraft): NewLink {
  return {
    destination: { type: "link", value: draft.destination.trim() },
    slug: draft.slug.trim() || null,
    domain: draft.domain || null,
    title: draft.title.trim() || null,
    preview: previewOf(draft),
    expires_at: localInputToIso(draft.expires),
  };
}

/** Only what changed, as `PATCH /short-link/{id}` takes it (an unchanged past expiry is not re-sent). */
export function linkPatch(initial: LinkDraft, draft: LinkDraft): LinkPatch {
  const patch: LinkPatch = {};
  if (draft.destination.trim() !== initial.destination)
    patch.destination = { type: "link", value: draft.destination.trim() };
  if (draft.title.trim() !== initial.title) patch.title = draft.title.trim() || null;
  if (JSON.stringify(previewOf(draft)) !== JSON.stringify(previewOf(initial)))
    patch.preview = previewOf(draft);
  if (draft.expires !== initial.expires) patch.expires_at = localInputToIso(draft.expires);
  return patch;
}

interface Props {
  /** The link being edited; absent for a new one. */
  link?: Link;
  onSaved: (link: Link) => void;
}

export function LinkForm({ link, onSaved }: Props) {
  const { client, permissions } = useSession();
  const initial = link ? draftOf(link) : EMPTY_DRAFT;
  const [draft, setDraft] = useState<LinkDraft>(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState("");
  const prefix = link ? "edit-link" : "link";
  const set = (patch: Partial<LinkDraft>) => {
    setDraft((current) => ({ ...current, ...patch }));
    setSaved("");
  };

  const canReadDomains = holds(permissions, "domains", "read");
  const domains = useLoad<Domain[]>(
    async () =>
      !link && canReadDomains
        ? (
            await listAll(
              (cursor) => unwrap(client.GET("/domains", { params: { query: { limit: 100, cursor } } })),
              500,
            )
          ).filter((d) => d.verified)
        : [],
    [link?.id, canReadDomains],
  );
  const showDomains =
    !link && canReadDomains && !isMissingRoute(domains.error) && (domains.value?.length ?? 0) > 0;

  const submit = async (event: Event) => {
    event.preventDefault();
    const why = draftProblem(draft, link ? initial : undefined);
    setProblem(why);
    if (why) return;
    setBusy(true);
    setError(undefined);
    try {
      if (link) {
        const patch = linkPatch(initial, draft);
        if (Object.keys(patch).length === 0) {
          setProblem("Nothing changed.");
          return;
        }
        const { data } = await unwrap(
          client.PATCH("/short-link/{id}", { params: { path: { id: link.id } }, body: patch }),
        );
        setSaved("Saved.");
        onSaved(data);
      } else {
        const { data } = await unwrap(client.POST("/short-link", { body: newLinkBody(draft) }));
        setDraft(EMPTY_DRAFT);
        onSaved(data);
      }
    } catch (failure) {
      // What was typed stays, to fix and send again.
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const field = (key: keyof LinkDraft, label: string, extra: Record<string, unknown> = {}, hint?: string) => (
    <div class="field">
      <label for={`${prefix}-${key}`}>{label}</label>
      <input
        id={`${prefix}-${key}`}
        value={draft[key]}
        onInput={(e) => set({ [key]: e.currentTarget.value })}
        data-testid={`${prefix}-${key}`}
        {...(hint ? { "aria-describedby": `${prefix}-${key}-hint` } : {})}
        {...extra}
      />
      {hint ? (
        <p id={`${prefix}-${key}-hint`} class="muted">
          {hint}
        </p>
      ) : null}
    </div>
  );

  return (
    <form class="stack" onSubmit={submit} noValidate data-testid={`${prefix}-form`}>
      {field("destination", "Destination URL", {
        type: "url",
        required: true,
        placeholder: "https://example.com/page",
      })}
      {link ? (
        <p class="muted">
          Slug <code>{link.slug}</code> on {link.domain ?? "the deployment's link domain"}: a slug and its
          domain never change.
        </p>
      ) : (
        <>
          {field(
            "slug",
            "Slug (optional)",
            { autoComplete: "off", spellcheck: false, maxLength: 64 },
            "3 to 64 letters, digits, _ and -; generated when empty.",
          )}
          {showDomains ? (
            <div class="field">
              <label for={`${prefix}-domain`}>Domain</label>
              <select
                id={`${prefix}-domain`}
                value={draft.domain}
                onChange={(e) => set({ domain: e.currentTarget.value })}
                data-testid={`${prefix}-domain`}
              >
                <option value="">The deployment's link domain</option>
                {domains.value?.map((d) => (
                  <option key={d.id} value={d.hostname}>
                    {d.hostname}
                  </option>
                ))}
              </select>
            </div>
          ) : null}
        </>
      )}
      {field("title", "Title (optional, for you)", { maxLength: 200 })}
      {field(
        "expires",
        "Expires (optional, local time)",
        { type: "datetime-local" },
        "From then on the link answers 410 Gone.",
      )}
      <fieldset>
        <legend>Preview card (optional)</legend>
        <p class="muted">
          What link-preview fetchers (Slack, social networks) show instead of following the redirect.
        </p>
        {field("previewTitle", "Card title", { maxLength: 120 })}
        <div class="field">
          <label for={`${prefix}-previewDescription`}>Card description</label>
          <textarea
            id={`${prefix}-previewDescription`}
            maxLength={300}
            rows={2}
            value={draft.previewDescription}
            onInput={(e) => set({ previewDescription: e.currentTarget.value })}
            data-testid={`${prefix}-previewDescription`}
          />
        </div>
        {field(
          "previewImage",
          "Card image (a ready social image's file id)",
          { autoComplete: "off", spellcheck: false, placeholder: "fil_…" },
          "Upload one below, or paste the id of a ready social image from Files.",
        )}
        {holds(permissions, "files", "create") ? (
          <FileUpload
            id={`${prefix}-image`}
            label="Upload a card image"
            purpose="social_image"
            onDone={(file) => set({ previewImage: file.id })}
          />
        ) : null}
      </fieldset>
      {problem ? (
        <p class="field-error" role="alert" data-testid={`${prefix}-problem`}>
          {problem}
        </p>
      ) : null}
      <ErrorBanner error={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy} data-testid={`${prefix}-submit`}>
          {busy ? "Saving…" : link ? "Save changes" : "Create link"}
        </button>
        <span role="status" data-testid={`${prefix}-saved`}>
          {saved}
        </span>
      </div>
    </form>
  );
}
