/** An API error as an operator needs it: what went wrong, and the request id to look it up. */
import { KeyhiveError } from "../api/client";

function detailText(error: KeyhiveError): string | null {
  const d = error.details;
  if (!d) return null;
  const parts: string[] = [];
  if (typeof d["field"] === "string") parts.push(`field: ${d["field"]}`);
  if (typeof d["reason"] === "string") parts.push(`reason: ${d["reason"]}`);
  if (typeof d["required"] === "string") parts.push(`requires ${d["required"]}`);
  if (typeof d["missing"] === "string") parts.push(`missing: ${d["missing"]}`);
  if (Array.isArray(d["permissions"])) parts.push(`lacking: ${d["permissions"].join(", ")}`);
  return parts.length > 0 ? parts.join("; ") : null;
}

export function ErrorBanner({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const api = error instanceof KeyhiveError ? error : null;
  const message = error instanceof Error ? error.message : String(error);
  const details = api ? detailText(api) : null;
  return (
    <div class="alert" role="alert" data-testid="error-alert">
      <p>
        <strong>{api ? `${api.status} ${api.code}` : "Error"}</strong>: {message}
        {details ? ` (${details})` : ""}
      </p>
      {api?.requestId ? (
        <p class="muted">
          Request id: <code data-testid="error-request-id">{api.requestId}</code>
        </p>
      ) : null}
    </div>
  );
}
