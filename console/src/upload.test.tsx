import { fireEvent, screen } from "@testing-library/preact";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createConsoleClient } from "./api/client";
import { FileUpload } from "./components/FileUpload";
import { ADMIN_KEY, apiError, ok, renderWithSession, routedFetch } from "./test/session";
import {
  checkFile,
  UPLOAD_TIMEOUT_MS,
  uploadFile,
  uploadHeaders,
  uploadUrlProblem,
  type UploadState,
  type XhrLike,
} from "./upload";

const FILE_ID = "fil_Abc123Def456Ghi789Jkl012";
const UPLOAD_URL = "http://127.0.0.1:50071/keyhive-files-local/uploads/" + FILE_ID + "?X-Amz-Signature=abc";

function record(overrides: Record<string, unknown> = {}) {
  return {
    id: FILE_ID,
    purpose: "social_image",
    content_type: "image/png",
    size_bytes: 1000,
    status: "pending",
    width: null,
    height: null,
    url: null,
    rejected_reason: null,
    environment: "live",
    created_at: "2026-12-06T10:00:00Z",
    completed_at: null,
    ...overrides,
  };
}

/** An XMLHttpRequest stand-in: records what was sent, reports progress, answers `status`. */
class FakeXhr implements XhrLike {
  static last: FakeXhr | null = null;
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: Blob | null = null;
  status = 0;
  upload: XhrLike["upload"] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  timeout = 0;
  ontimeout: (() => void) | null = null;
  aborted = false;
  constructor(private readonly outcome: number | "network" | "hang") {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  send(body: Blob) {
    this.body = body;
    queueMicrotask(() => {
      const progress = (loaded: number) =>
        this.upload.onprogress?.({ lengthComputable: true, loaded, total: body.size } as ProgressEvent);
      progress(body.size / 4);
      progress(body.size / 2);
      if (this.outcome === "hang") return;
      if (this.outcome === "network") return this.onerror?.();
      this.status = this.outcome;
      this.onload?.();
    });
  }
}

function setup(routes: Parameters<typeof routedFetch>[0], outcome: number | "network" | "hang" = 200) {
  const { fetch, seen } = routedFetch(routes);
  const client = createConsoleClient(
    () => ADMIN_KEY,
    () => undefined,
    fetch,
  );
  const states: UploadState[] = [];
  const run = (file: Blob) =>
    uploadFile({ client, makeXhr: () => new FakeXhr(outcome) }, "social_image", file, (s) => states.push(s));
  return { run, states, seen };
}

const png = (size = 1000) => new File([new Uint8Array(size)], "card.png", { type: "image/png" });

const created = (url = UPLOAD_URL, headers: Record<string, string> = {}) =>
  ok(
    {
      ...record(),
      upload: {
        method: "PUT",
        url,
        headers: { "Content-Type": "image/png", "Content-Length": "1000", ...headers },
        expires_at: "2026-12-06T10:10:00Z",
      },
    },
    201,
  );

describe("the upload flow", () => {
  it("declares the file, PUTs the bytes with progress, completes it, and ends ready", async () => {
    let declared: unknown;
    const { run, states, seen } = setup({
      "POST /Prod/v1/files": async (request) => {
        declared = await request.json();
        return created();
      },
      [`POST /Prod/v1/files/${FILE_ID}/complete`]: () =>
        ok(record({ status: "ready", width: 1200, height: 630, url: "https://go.example.com/files/x" })),
    });
    const last = await run(png());
    expect(declared).toEqual({ purpose: "social_image", content_type: "image/png", size_bytes: 1000 });
    expect(FakeXhr.last?.method).toBe("PUT");
    expect(FakeXhr.last?.url).toBe(UPLOAD_URL);
    // Content-Length is the browser's to set from the body; the signed type is sent as given.
    expect(FakeXhr.last?.headers).toEqual({ "Content-Type": "image/png" });
    expect(FakeXhr.last?.body?.size).toBe(1000);
    expect(states.map((s) => `${s.phase}:${s.percent}`)).toEqual([
      "creating:0",
      "uploading:0",
      "uploading:25",
      "uploading:50",
      "uploading:100",
      "completing:100",
      "ready:100",
    ]);
    expect(last.file?.status).toBe("ready");
    expect(seen.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      "POST /Prod/v1/files",
      `POST /Prod/v1/files/${FILE_ID}/complete`,
    ]);
  });

  it("ends rejected with the reason when the completion's checks refuse the bytes", async () => {
    const reason = "the image is 150x150, smaller than 200x200 for a social_image";
    const { run } = setup({
      "POST /Prod/v1/files": () => created(),
      [`POST /Prod/v1/files/${FILE_ID}/complete`]: () =>
        new Response(
          JSON.stringify({
            success: false,
            error: {
              code: "VALIDATION_FAILED",
              message: `file: ${reason}`,
              details: { field: "file", reason },
            },
            meta: { request_id: "req-400" },
          }),
          { status: 400, headers: { "content-type": "application/json" } },
        ),
      [`GET /Prod/v1/files/${FILE_ID}`]: () =>
        ok(record({ status: "rejected", rejected_reason: reason, completed_at: "2026-12-06T10:01:00Z" })),
    });
    const last = await run(png());
    expect(last.phase).toBe("rejected");
    expect(last.reason).toBe(reason);
    expect(last.file?.status).toBe("rejected");
  });

  it("ends failed, naming storage, when the PUT is refused or cannot be sent", async () => {
    const refused = await setup({ "POST /Prod/v1/files": () => created() }, 403).run(png());
    expect(refused.phase).toBe("failed");
    expect(String(refused.error)).toContain("answered 403");
    const network = await setup({ "POST /Prod/v1/files": () => created() }, "network").run(png());
    expect(network.phase).toBe("failed");
    expect(String(network.error)).toMatch(/CORS/);
  });

  it("keeps the API's error (and request id) when the declaration is refused", async () => {
    const { run } = setup({
      "POST /Prod/v1/files": () => apiError(403, "FORBIDDEN", "the key lacks files:create", "req-403"),
    });
    const last = await run(png());
    expect(last.phase).toBe("failed");
    expect((last.error as { requestId?: string }).requestId).toBe("req-403");
  });

  it("refuses before any request what the API would refuse", async () => {
    expect(checkFile("logo", { type: "image/gif", size: 10 })).toMatch(/PNG, JPEG and WebP/);
    expect(checkFile("logo", { type: "image/png", size: 2_097_153 })).toMatch(/over the 2.0 MiB/);
    expect(checkFile("social_image", { type: "image/png", size: 2_097_153 })).toBeNull();
    expect(checkFile("social_image", { type: "image/webp", size: 0 })).toMatch(/empty/);
    const { run, seen } = setup({});
    const last = await run(new File([new Uint8Array(4)], "x.gif", { type: "image/gif" }));
    expect(last.phase).toBe("failed");
    expect(seen).toHaveLength(0);
  });
});

describe("what the upload trusts of the API's answer", () => {
  beforeEach(() => {
    FakeXhr.last = null;
  });

  it("PUTs only to https, or http on a loopback host, and never to the page's own origin", () => {
    const page = "https://console.example.com";
    expect(
      uploadUrlProblem("https://bucket.s3.eu-west-1.amazonaws.com/u/1?X-Amz-Signature=a", page),
    ).toBeNull();
    for (const loopback of ["http://127.0.0.1:50071/u", "http://localhost:4566/u", "http://[::1]:9000/u"])
      expect(uploadUrlProblem(loopback, page)).toBeNull();
    expect(uploadUrlProblem("http://bucket.example.com/u", page)).toMatch(/over http/);
    expect(uploadUrlProblem("javascript:alert(1)", page)).toMatch(/over javascript/);
    expect(uploadUrlProblem("ftp://bucket.example.com/u", page)).toMatch(/over ftp/);
    expect(uploadUrlProblem("/v1/keys", page)).toMatch(/not a URL/);
    expect(uploadUrlProblem("https://console.example.com/v1/keys", page)).toMatch(/own origin/);
    expect(uploadUrlProblem("https://user:pw@bucket.example.com/u", page)).toMatch(/credentials/);
  });

  it("refuses an upload address off those rules without sending the bytes or completing", async () => {
    for (const bad of ["http://bucket.example.com/u", `${location.origin}/Prod/v1/keys`]) {
      FakeXhr.last = null;
      const { run, seen } = setup({ "POST /Prod/v1/files": () => created(bad) });
      const last = await run(png());
      expect(last.phase).toBe("failed");
      expect(FakeXhr.last).toBeNull();
      expect(seen.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(["POST /Prod/v1/files"]);
    }
  });

  it("forwards only content-type, x-amz-*, content-md5 and cache-control", async () => {
    expect(
      uploadHeaders({
        "Content-Type": "image/png",
        "Content-Length": "1000",
        "x-amz-meta-owner": "org",
        "X-Amz-Server-Side-Encryption": "AES256",
        "Content-MD5": "abc==",
        "Cache-Control": "no-cache",
        Authorization: "Bearer x",
        Cookie: "a=b",
        "X-Api-Key": "kh_live_x",
        Origin: "https://evil.example",
        "x-amz-bad": "a\r\nX-Evil: 1",
        "x-amz-number": 5,
      }),
    ).toEqual({
      "Content-Type": "image/png",
      "x-amz-meta-owner": "org",
      "X-Amz-Server-Side-Encryption": "AES256",
      "Content-MD5": "abc==",
      "Cache-Control": "no-cache",
    });
    const { run } = setup({
      "POST /Prod/v1/files": () => created(UPLOAD_URL, { Authorization: "Bearer x", "x-amz-acl": "private" }),
      [`POST /Prod/v1/files/${FILE_ID}/complete`]: () => ok(record({ status: "ready" })),
    });
    await run(png());
    expect(FakeXhr.last?.headers).toEqual({ "Content-Type": "image/png", "x-amz-acl": "private" });
  });

  it("gives up on a PUT that outlasts its timeout, saying so", async () => {
    const { run } = setup({ "POST /Prod/v1/files": () => created() }, "hang");
    const pending = run(png());
    await vi.waitFor(() => expect(FakeXhr.last?.body).toBeTruthy());
    expect(FakeXhr.last?.timeout).toBe(UPLOAD_TIMEOUT_MS);
    FakeXhr.last?.ontimeout?.();
    const last = await pending;
    expect(last.phase).toBe("failed");
    expect(String(last.error)).toMatch(/timed out.*120 s/);
  });

  it("aborts the PUT in flight when its signal is aborted, and never completes", async () => {
    const { fetch, seen } = routedFetch({ "POST /Prod/v1/files": () => created() });
    const client = createConsoleClient(
      () => ADMIN_KEY,
      () => undefined,
      fetch,
    );
    const controller = new AbortController();
    const pending = uploadFile(
      { client, makeXhr: () => new FakeXhr("hang"), signal: controller.signal },
      "social_image",
      png(),
      () => undefined,
    );
    await vi.waitFor(() => expect(FakeXhr.last?.body).toBeTruthy());
    controller.abort();
    const last = await pending;
    expect(FakeXhr.last?.aborted).toBe(true);
    expect(last.phase).toBe("failed");
    expect(String(last.error)).toMatch(/cancelled/);
    expect(seen.some((r) => r.url.endsWith("/complete"))).toBe(false);
  });

  it("aborts the upload when the form leaves the page", async () => {
    const { fetch } = routedFetch({ "POST /Prod/v1/files": () => created() });
    const { unmount } = renderWithSession(
      <FileUpload id="upload" label="Upload" purpose="social_image" makeXhr={() => new FakeXhr("hang")} />,
      fetch,
    );
    fireEvent.change(screen.getByTestId("upload-input"), { target: { files: [png()] } });
    fireEvent.click(screen.getByTestId("upload-submit"));
    await vi.waitFor(() => expect(FakeXhr.last?.body).toBeTruthy());
    expect(FakeXhr.last?.aborted).toBe(false);
    unmount();
    await vi.waitFor(() => expect(FakeXhr.last?.aborted).toBe(true));
  });
});
