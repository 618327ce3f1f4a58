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
}

/** Headers a page may not set (the browser sets `Content-Length` from the body itself). */
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection"]);

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

/** One PUT of `body` to `url` with `headers`, reporting progress in percent. */
export function putBytes(
  xhr: XhrLike,
  url: string,
  headers: Record<string, string>,
  body: Blob,
  onProgress: (percent: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers))
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
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
    xhr.send(body);
  });
}

export interface UploadDeps {
  client: KeyhiveClient;
  makeXhr?: () => XhrLike;
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
    const xhr = deps.makeXhr ? deps.makeXhr() : (new XMLHttpRequest() as unknown as XhrLike);
    await putBytes(xhr, upload.url, upload.headers, file, (percent) =>
      report({ phase: "uploading", percent, file: created }),
    );
  } catch (error) {
    return report({ ...state, phase: "failed", error });
  }

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
