import { describe, expect, it } from "vitest";
import { createConsoleClient } from "./api/client";
import { ADMIN_KEY, apiError, ok, routedFetch } from "./test/session";
import { checkFile, uploadFile, type UploadState, type XhrLike } from "./upload";

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
  constructor(private readonly outcome: number | "network") {
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
    this.onabort?.();
  }
  send(body: Blob) {
    this.body = body;
    queueMicrotask(() => {
      const progress = (loaded: number) =>
        this.upload.onprogress?.({ lengthComputable: true, loaded, total: body.size } as ProgressEvent);
      progress(body.size / 4);
      progress(body.size / 2);
      if (this.outcome === "network") return this.onerror?.();
      this.status = this.outcome;
      this.onload?.();
    });
  }
}

function setup(routes: Parameters<typeof routedFetch>[0], outcome: number | "network" = 200) {
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

const created = () =>
  ok(
    {
      ...record(),
      upload: {
        method: "PUT",
        url: UPLOAD_URL,
        headers: { "Content-Type": "image/png", "Content-Length": "1000" },
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
