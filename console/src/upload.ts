/**
 * The upload flow of `POST /v1/files`: declare the file, PUT its bytes straight to the presigned
 * URL (XMLHttpRequest, for progress: fetch cannot report an upload's progress), then complete
 * it, which checks the bytes and makes the file `ready` or `rejected`. Each step reports a state.
 */
import {
  KeyhiveError,
  unwrap,
  type FileContentType,
  type FilePurpose,
  type KeyhiveClient,
  type KeyhiveFile,
} from "./api/client";
import { formatBytes } from "./format";
import { isLoopbackHost } from "./urls";

export const CONTENT_TYPES = [
  "image/png",
  "image/jpeg",
  "image/webp",
] as const satisfies readonly FileContentType[];

/** The largest upload per purpose, in bytes (openapi: `NewFile.size_bytes`). */
export const PURPOSE_MAX_BYTES: Record<FilePurpose, number> = {
  logo: 2_097_152,
  social_image: 5_242_880,
};

export const PURPOSE_LABELS: Record<FilePurpose, string> = {
  logo: "QR code logo (at most 2 MiB and 4096×4096)",
  social_image: "Link preview image (at most 5 MiB, 200×200 to 4096×4096)",
};

export type UploadPhase = "idle" | "creating" | "uploading" | "completing" | "ready" | "rejected" | "failed";

export interface UploadState {
  phase: UploadPhase;
  /** 0..100, the bytes sent to storage. */
  percent: number;
  file?: KeyhiveFile;
  /** Why a rejected file was rejected (the API's `rejected_reason`). */
  reason?: string;
  error?: unknown;
}

export const IDLE: UploadState = { phase: "idle", percent: 0 };

/** What an upload needs of XMLHttpRequest (tests pass a fake one). */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
  readonly status: number;
  upload: { onprogress: ((event: ProgressEvent) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  /** Milliseconds before the browser gives up (0: never). */
  timeout: number;
  ontimeout: (() => void) | null;
}

/** How long one PUT of the bytes may take before it is given up. */
export const UPLOAD_TIMEOUT_MS = 120_000;

/**
 * The only headers of the API's `upload.headers` sent to storage: what a presigned PUT signs.
 * Anything else is dropped (`Content-Length` is the browser's to set from the body).
 */
export function uploadHeaders(headers: Record<string, unknown>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    const allowed =
      lower === "content-type" ||
      lower === "content-md5" ||
      lower === "cache-control" ||
      /^x-amz-[a-z0-9-]+$/.test(lower);
    // A value with a line break could smuggle another header.
    if (allowed && typeof value === "string" && !/[\r\n]/.test(value)) kept[name] = value;
  }
  return kept;
}

/**
 * Why the API's presigned `url` is not one to send the bytes to, or null. It must be https (plain
 * http only to a loopback host, a local stack), and never the page's own origin: there the PUT
 * would carry the console's own cookies and reach the console's own routes.
 */
export function uploadUrlProblem(url: string, pageOrigin: string = location.origin): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "The API gave an upload address that is not a URL.";
  }
  const loopback = isLoopbackHost(parsed.hostname);
  if (!(parsed.protocol === "https:" || (parsed.protocol === "http:" && loopback)))
    return `The API gave an upload address over ${parsed.protocol.replace(":", "")}: only https (or http to this machine) is used.`;
  if (parsed.username || parsed.password) return "The API gave an upload address with credentials in it.";
  if (parsed.origin === pageOrigin)
    return "The API gave an upload address on the console's own origin, not the file storage.";
  return null;
}

/** Why the API would refuse to take this file for `purpose`, or null. */
export function checkFile(purpose: FilePurpose, file: { type: string; size: number }): string | null {
  if (!(CONTENT_TYPES as readonly string[]).includes(file.type))
    return `The file is ${file.type || "of no known type"}: only PNG, JPEG and WebP images are taken.`;
  if (file.size < 1) return "The file is empty.";
  const max = PURPOSE_MAX_BYTES[purpose];
  if (file.size > max)
    return `The file is ${formatBytes(file.size)}, over the ${formatBytes(max)} a ${purpose} may be.`;
  return null;
}

const cancelled = () => new Error("The upload was cancelled.");

/** One PUT of `body` to `url` with `headers`, reporting progress in percent. */
export function putBytes(
  xhr: XhrLike,
  url: string,
  headers: Record<string, string>,
  body: Blob,
  onProgress: (percent: number) => void,
): Promise<void> {
  const problem = uploadUrlProblem(url);
  if (problem) return Promise.reject(new Error(problem));
  return new Promise((resolve, reject) => {
    xhr.open("PUT", url);
    xhr.timeout = UPLOAD_TIMEOUT_MS;
    for (const [name, value] of Object.entries(uploadHeaders(headers))) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0)
        onProgress(Math.min(100, Math.round((event.loaded / event.total) * 100)));
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(100);
        resolve();
      } else reject(new Error(`Storage refused the upload: it answered ${xhr.status}.`));
    };
    xhr.onerror = () =>
      reject(
        new Error("The upload could not reach storage (a network error, or its CORS refused this page)."),
      );
    xhr.onabort = () => reject(new Error("The upload was cancelled."));
    xhr.ontimeout = () =>
      reject(
        new Error(
          `The upload timed out: storage took over ${UPLOAD_TIMEOUT_MS / 1000} s. Try again, or a smaller file.`,
        ),
      );
    xhr.send(body);
  });
}

export interface UploadDeps {
  client: KeyhiveClient;
  makeXhr?: () => XhrLike;
  /** Aborting it cancels the upload (the PUT in flight, and any step not yet started). */
  signal?: AbortSignal;
}

/**
 * Runs the whole flow, reporting each state to `onState`; resolves with the last one. A file the
 * checks refuse ends `rejected` with its reason; anything else that goes wrong ends `failed`.
 */
export async function uploadFile(
  deps: UploadDeps,
  purpose: FilePurpose,
  file: Blob & { type: string; size: number },
  onState: (state: UploadState) => void,
): Promise<UploadState> {
  let state: UploadState = { phase: "creating", percent: 0 };
  const report = (next: UploadState) => {
    state = next;
    onState(next);
    return next;
  };
  report(state);
  const problem = checkFile(purpose, file);
  if (problem) return report({ phase: "failed", percent: 0, error: new Error(problem) });

  let created: KeyhiveFile;
  try {
    const { data } = await unwrap(
      deps.client.POST("/v1/files", {
        body: { purpose, content_type: file.type as FileContentType, size_bytes: file.size },
      }),
    );
    const { upload, ...record } = data;
    created = record;
    report({ phase: "uploading", percent: 0, file: created });
    if (deps.signal?.aborted) throw cancelled();
    // Checked before any request is made of storage (and again by `putBytes`).
    const problem = uploadUrlProblem(upload.url);
    if (problem) throw new Error(problem);
    const xhr = deps.makeXhr ? deps.makeXhr() : (new XMLHttpRequest() as unknown as XhrLike);
    const abort = () => xhr.abort();
    deps.signal?.addEventListener("abort", abort);
    try {
      await putBytes(xhr, upload.url, upload.headers, file, (percent) =>
        report({ phase: "uploading", percent, file: created }),
      );
    } finally {
      deps.signal?.removeEventListener("abort", abort);
    }
  } catch (error) {
    return report({ ...state, phase: "failed", error });
  }
  if (deps.signal?.aborted) return report({ ...state, phase: "failed", error: cancelled() });

  report({ phase: "completing", percent: 100, file: created });
  try {
    const { data } = await unwrap(
      deps.client.POST("/v1/files/{id}/complete", { params: { path: { id: created.id } } }),
    );
    return report({ phase: "ready", percent: 100, file: data });
  } catch (error) {
    // A failed check rejects the file for good; its reason is in the error's details.
    const reason =
      error instanceof KeyhiveError && error.status === 400 && typeof error.details?.["reason"] === "string"
        ? error.details["reason"]
        : undefined;
    if (reason) {
      const current = await unwrap(
        deps.client.GET("/v1/files/{id}", { params: { path: { id: created.id } } }),
      ).then(
        ({ data }) => data,
        () => undefined,
      );
      if (!current || current.status === "rejected")
        return report({
          phase: "rejected",
          percent: 100,
          file: current ?? { ...created, status: "rejected", rejected_reason: reason },
          reason: current?.rejected_reason ?? reason,
          error,
        });
    }
    return report({ phase: "failed", percent: 100, file: created, error });
  }
}
