/**
 * A link's QR code: `GET /short-link/{id}/qr` needs the key header, so the image is fetched as a
 * Blob through the client and shown from an object URL (revoked when replaced or unmounted).
 * The whole part hides itself when the deployment has no such route (404/405).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  isMissingRoute,
  listAll,
  unwrap,
  unwrapBlob,
  useSession,
  type KeyhiveFile,
  type Link,
} from "../api/client";
import { useLoad } from "../api/useLoad";
import { ErrorBanner } from "../components/ErrorBanner";
import { holds } from "../permissions";
import { QR_DEFAULTS, qrFileName, qrImage, qrQuery, type QrForm } from "../qr";
import { saveBlob } from "../stats";

export function LinkQr({ link, headingLevel = 2 }: { link: Link; headingLevel?: 1 | 2 }) {
  const { client, permissions } = useSession();
  const [form, setForm] = useState<QrForm>(QR_DEFAULTS);
  const [applied, setApplied] = useState<QrForm>(QR_DEFAULTS);
  const [src, setSrc] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [missing, setMissing] = useState(false);
  const [loading, setLoading] = useState(true);
  const [downloadError, setDownloadError] = useState<unknown>(undefined);
  const current = useRef<string | null>(null);
  const { errors } = qrQuery(form);
  const appliedKey = JSON.stringify(qrQuery(applied).query);

  const logos = useLoad<KeyhiveFile[]>(
    async () =>
      holds(permissions, "files", "read")
        ? (
            await listAll(
              (cursor) => unwrap(client.GET("/v1/files", { params: { query: { limit: 100, cursor } } })),
              500,
            )
          ).filter((f) => f.purpose === "logo" && f.status === "ready")
        : [],
    [],
  );

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(undefined);
    unwrapBlob(
      client.GET("/short-link/{id}/qr", {
        params: { path: { id: link.id }, query: qrQuery(applied).query },
        parseAs: "blob",
      }),
    ).then(
      ({ blob, response }) => {
        if (!live) return;
        let image: Blob;
        try {
          image = qrImage(blob, response);
        } catch (failure) {
          setError(failure);
          setLoading(false);
          return;
        }
        const url = URL.createObjectURL(image);
        if (current.current) URL.revokeObjectURL(current.current);
        current.current = url;
        setSrc(url);
        setLoading(false);
      },
      (failure: unknown) => {
        if (!live) return;
        // The link itself was just read, so a 404 here is the route, not the link.
        if (isMissingRoute(failure)) setMissing(true);
        setError(failure);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [link.id, link.short_url, appliedKey]);

  useEffect(
    () => () => {
      if (current.current) URL.revokeObjectURL(current.current);
    },
    [],
  );

  if (missing) return null;

  const download = async (format: "png" | "svg") => {
    setDownloadError(undefined);
    try {
      const { blob, response } = await unwrapBlob(
        client.GET("/short-link/{id}/qr", {
          params: { path: { id: link.id }, query: qrQuery(applied, format).query },
          parseAs: "blob",
        }),
      );
      saveBlob(qrImage(blob, response, format), qrFileName(link.slug, format));
    } catch (failure) {
      setDownloadError(failure);
    }
  };

  const Heading = headingLevel === 1 ? "h1" : "h2";
  const set = (patch: Partial<QrForm>) => setForm((f) => ({ ...f, ...patch }));
  const invalid = Object.keys(errors).length > 0;
  return (
    <section aria-labelledby="qr-title" class="qr" data-testid="qr-section">
      <Heading id="qr-title" tabIndex={-1}>
        QR code{headingLevel === 1 ? ` of ${link.slug}` : ""}
      </Heading>
      <div class="qr-layout">
        <div class="qr-preview">
          {src ? (
            <img
              src={src}
              alt={`QR code for ${link.short_url}`}
              class="qr-image"
              width={240}
              height={240}
              data-testid="qr-image"
            />
          ) : null}
          <p role="status" class="muted">
            {loading ? "Drawing the code…" : ""}
          </p>
          <ErrorBanner error={error} />
          <div class="actions">
            <button type="button" onClick={() => void download("png")} data-testid="qr-download-png">
              Download PNG
            </button>
            <button type="button" onClick={() => void download("svg")} data-testid="qr-download-svg">
              Download SVG
            </button>
          </div>
          <ErrorBanner error={downloadError} />
        </div>
        <form
          class="stack qr-form"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            if (!invalid) setApplied(form);
          }}
          data-testid="qr-form"
        >
          <div class="field">
            <label for="qr-format">Preview format</label>
            <select
              id="qr-format"
              value={form.format}
              onChange={(e) => set({ format: e.currentTarget.value as "png" | "svg" })}
              data-testid="qr-format"
            >
              <option value="png">PNG</option>
              <option value="svg">SVG</option>
            </select>
          </div>
          <QrNumber
            id="qr-size"
            label="Size in pixels (64 to 2048)"
            value={form.size}
            error={errors.size}
            onInput={(size) => set({ size })}
            min={64}
            max={2048}
          />
          <QrNumber
            id="qr-margin"
            label="Margin in modules (0 to 20)"
            value={form.margin}
            error={errors.margin}
            onInput={(margin) => set({ margin })}
            min={0}
            max={20}
          />
          <div class="field">
            <label for="qr-level">Error correction</label>
            <select
              id="qr-level"
              value={form.level}
              aria-describedby="qr-level-hint"
              onChange={(e) => set({ level: e.currentTarget.value as QrForm["level"] })}
              data-testid="qr-level"
            >
              <option value="">Default (M; H with a logo)</option>
              <option value="L">L (7%)</option>
              <option value="M">M (15%)</option>
              <option value="Q">Q (25%)</option>
              <option value="H">H (30%)</option>
            </select>
            <p id="qr-level-hint" class={errors.level ? "field-error" : "muted"}>
              {errors.level ?? "A logo always uses H."}
            </p>
          </div>
          <div class="colour-row">
            <div class="field">
              <label for="qr-fg">Foreground</label>
              <input
                id="qr-fg"
                type="color"
                value={form.fg}
                onInput={(e) => set({ fg: e.currentTarget.value })}
                data-testid="qr-fg"
              />
            </div>
            <div class="field">
              <label for="qr-bg">Background</label>
              <input
                id="qr-bg"
                type="color"
                value={form.bg}
                onInput={(e) => set({ bg: e.currentTarget.value })}
                data-testid="qr-bg"
              />
            </div>
          </div>
          <div class="field">
            <label for="qr-logo">Logo (a ready logo file)</label>
            {logos.value && logos.value.length > 0 ? (
              <select
                id="qr-logo"
                value={form.logo}
                onChange={(e) => set({ logo: e.currentTarget.value })}
                data-testid="qr-logo"
              >
                <option value="">None</option>
                {logos.value.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.id} ({f.width}×{f.height})
                  </option>
                ))}
              </select>
            ) : (
              <input
                id="qr-logo"
                placeholder="fil_… (none)"
                value={form.logo}
                autoComplete="off"
                spellcheck={false}
                aria-describedby="qr-logo-hint"
                onInput={(e) => set({ logo: e.currentTarget.value })}
                data-testid="qr-logo"
              />
            )}
            <p id="qr-logo-hint" class={errors.logo ? "field-error" : "muted"}>
              {errors.logo ?? "Upload logos on the Files page."}
            </p>
          </div>
          <div>
            <button type="submit" class="primary" disabled={invalid} data-testid="qr-apply">
              Update preview
            </button>
          </div>
        </form>
      </div>
    </section>
  );
}

function QrNumber(props: {
  id: string;
  label: string;
  value: string;
  error: string | undefined;
  min: number;
  max: number;
  onInput: (value: string) => void;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="number"
        inputMode="numeric"
        min={props.min}
        max={props.max}
        value={props.value}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${props.id}-error` : undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
        data-testid={props.id}
      />
      {props.error ? (
        <p id={`${props.id}-error`} class="field-error">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}
