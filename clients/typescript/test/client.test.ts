import { describe, expect, it } from "vitest";
import {
  createKeyhiveClient,
  KeyhiveError,
  listAll,
  paginate,
  retryDelayMs,
  unwrap,
  unwrapBlob,
} from "../src/index";

const KEY = "kh_live_AbCdEf123456.R58ibdQkwbMpEzlVQNKrB04srHT_Vu-hiM0wwk9v-Fg";

function envelope(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

const ok = (data: unknown, meta: Record<string, unknown> = {}) =>
  envelope(200, {
    success: true,
    data,
    meta: { request_id: "req-ok", ...meta },
  });
const refused = (
  status: number,
  code: string,
  headers: Record<string, string> = {},
) =>
  envelope(
    status,
    {
      success: false,
      error: { code, message: code },
      meta: { request_id: `req-${status}` },
    },
    headers,
  );

/** A fetch answering from a script, recording each request it saw (and its body). */
function scriptedFetch(...answers: Response[]) {
  const seen: { request: Request; body: string }[] = [];
  const fetch = async (request: Request) => {
    seen.push({ request, body: await request.text() });
    const answer = answers.shift();
    if (!answer) throw new Error("no answer scripted");
    return answer;
  };
  return { fetch, seen };
}

const waits: number[] = [];
const instantSleep = async (ms: number) => {
  waits.push(ms);
};

describe("createKeyhiveClient", () => {
  it("sends the key in X-API-Key, read on every request", async () => {
    const { fetch, seen } = scriptedFetch(ok({ id: "a" }), ok({ id: "a" }));
    let key: string | null = KEY;
    const client = createKeyhiveClient({
      baseUrl: "https://api.test/prod/",
      apiKey: () => key,
      fetch,
    });
    await client.GET("/v1/keys/self");
    key = null;
    await client.GET("/v1/keys/self");
    expect(seen[0]?.request.url).toBe("https://api.test/prod/v1/keys/self");
    expect(seen[0]?.request.headers.get("x-api-key")).toBe(KEY);
    expect(seen[1]?.request.headers.has("x-api-key")).toBe(false);
  });

  it("retries a 429 after Retry-After and reuses the Idempotency-Key and body", async () => {
    waits.length = 0;
    const { fetch, seen } = scriptedFetch(
      refused(429, "RATE_LIMITED", { "retry-after": "2" }),
      envelope(201, {
        success: true,
        data: { user_id: "usr_a" },
        meta: { request_id: "r" },
      }),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
      sleep: instantSleep,
    });
    const result = await client.POST("/v1/members", {
      body: { name: "Alice", email: "alice@example.com" },
    });
    expect(result.response.status).toBe(201);
    expect(seen).toHaveLength(2);
    const first = seen[0]?.request.headers.get("idempotency-key");
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]?.request.headers.get("idempotency-key")).toBe(first);
    expect(seen[1]?.body).toBe(seen[0]?.body);
    expect(JSON.parse(seen[1]?.body ?? "")).toEqual({
      name: "Alice",
      email: "alice@example.com",
    });
    expect(waits).toEqual([2000]);
  });

  it("sends a fresh Idempotency-Key per call, and none on routes that create nothing", async () => {
    const { fetch, seen } = scriptedFetch(
      envelope(201, { success: true, data: {}, meta: { request_id: "1" } }),
      envelope(201, { success: true, data: {}, meta: { request_id: "2" } }),
      ok({}),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    const body = {
      name: "bot",
      type: "bot" as const,
      permissions: { sandboxes: ["read" as const] },
    };
    await client.POST("/v1/keys", { body });
    await client.POST("/v1/keys", { body });
    await client.POST("/v1/keys/{id}/roll", {
      params: { path: { id: "AbCdEf123456" } },
      body: {},
    });
    const keys = seen.map((s) => s.request.headers.get("idempotency-key"));
    expect(keys[0]).toBeTruthy();
    expect(keys[1]).toBeTruthy();
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBeNull();
  });

  it("keeps an Idempotency-Key the caller chose", async () => {
    const { fetch, seen } = scriptedFetch(
      envelope(201, { success: true, data: {}, meta: { request_id: "1" } }),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    await client.POST("/short-link", {
      body: { destination: { type: "link", value: "https://example.com" } },
      headers: { "Idempotency-Key": "order-42" },
    });
    expect(seen[0]?.request.headers.get("idempotency-key")).toBe("order-42");
  });

  it("gives up after maxRetries and returns the last answer", async () => {
    const { fetch, seen } = scriptedFetch(
      refused(503, "SERVICE_UNAVAILABLE"),
      refused(503, "SERVICE_UNAVAILABLE"),
      refused(503, "SERVICE_UNAVAILABLE"),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
      maxRetries: 2,
      sleep: instantSleep,
    });
    const result = await client.GET("/v1/keys");
    expect(result.response.status).toBe(503);
    expect(seen).toHaveLength(3);
  });

  it("does not retry a 503 of a POST that is not idempotent (a roll would show a second secret)", async () => {
    const { fetch, seen } = scriptedFetch(
      refused(503, "SERVICE_UNAVAILABLE"),
      ok({}),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
      sleep: instantSleep,
    });
    const result = await client.POST("/v1/keys/{id}/roll", {
      params: { path: { id: "AbCdEf123456" } },
    });
    expect(result.response.status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it("refuses redirects on every call and every retry, whatever the call asks", async () => {
    const { fetch, seen } = scriptedFetch(
      refused(503, "SERVICE_UNAVAILABLE"),
      ok({}),
      envelope(201, { success: true, data: {}, meta: { request_id: "1" } }),
      ok({}),
      new Response(new Blob(["png"]), { status: 200 }),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
      sleep: instantSleep,
    });
    await client.GET("/v1/keys/self");
    await client.POST("/v1/members", {
      body: { name: "Alice", email: "alice@example.com" },
    });
    // A caller's own `redirect` cannot turn following back on.
    await client.GET("/v1/keys/self", { redirect: "follow" });
    await client.GET("/short-link/{id}/qr", {
      params: { path: { id: "lnk_Abc123Def456Ghi789Jk" } },
      parseAs: "blob",
    });
    expect(seen).toHaveLength(5);
    for (const { request } of seen) expect(request.redirect).toBe("error");
  });

  it.each([".", "..", ""])(
    "sends nothing for the path parameter %j, which the URL would resolve away",
    async (id) => {
      const { fetch, seen } = scriptedFetch(ok({}));
      const client = createKeyhiveClient({
        baseUrl: "https://api.test",
        apiKey: KEY,
        fetch,
      });
      await expect(
        client.GET("/short-link/{id}", { params: { path: { id } } }),
      ).rejects.toThrow(/invalid path parameter id/);
      expect(seen).toHaveLength(0);
    },
  );

  it("does not retry other errors", async () => {
    const { fetch, seen } = scriptedFetch(refused(500, "INTERNAL_ERROR"));
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
      sleep: instantSleep,
    });
    await client.GET("/v1/keys");
    expect(seen).toHaveLength(1);
  });
});

describe("retryDelayMs", () => {
  const withHeader = (value?: string) =>
    new Response(null, {
      status: 429,
      headers: value === undefined ? {} : { "retry-after": value },
    });

  it("reads seconds, caps the wait, and backs off without a header", () => {
    expect(retryDelayMs(withHeader("3"), 0, 10_000)).toBe(3000);
    expect(retryDelayMs(withHeader("3600"), 0, 10_000)).toBe(10_000);
    expect(retryDelayMs(withHeader(), 0, 10_000)).toBe(500);
    expect(retryDelayMs(withHeader(), 2, 10_000)).toBe(2000);
  });

  it("reads an HTTP date", () => {
    const now = Date.parse("2026-11-23T10:30:00Z");
    expect(
      retryDelayMs(withHeader("Mon, 23 Nov 2026 10:30:04 GMT"), 0, 10_000, now),
    ).toBe(4000);
  });
});

describe("unwrap", () => {
  it("returns data and meta of a success envelope", async () => {
    const { fetch } = scriptedFetch(ok({ id: "AbCdEf123456" }));
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    const { data, meta } = await unwrap(client.GET("/v1/keys/self"));
    expect(data.id).toBe("AbCdEf123456");
    expect(meta.request_id).toBe("req-ok");
  });

  it("throws a KeyhiveError with status, code, message, details and request id", async () => {
    const { fetch } = scriptedFetch(
      envelope(403, {
        success: false,
        error: {
          code: "FORBIDDEN",
          message: "missing apiKeys:read",
          details: { required: "apiKeys:read" },
        },
        meta: { request_id: "c0ffee00" },
      }),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    const error = await unwrap(client.GET("/v1/keys")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyhiveError);
    const e = error as KeyhiveError;
    expect([e.status, e.code, e.message, e.requestId]).toEqual([
      403,
      "FORBIDDEN",
      "missing apiKeys:read",
      "c0ffee00",
    ]);
    expect(e.details).toEqual({ required: "apiKeys:read" });
  });

  it("falls back to the X-Request-Id header when the body is not an envelope", async () => {
    const { fetch } = scriptedFetch(
      new Response("<html>bad gateway</html>", {
        status: 502,
        headers: { "x-request-id": "gw-1" },
      }),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    const error = (await unwrap(client.GET("/v1/keys")).catch(
      (e: unknown) => e,
    )) as KeyhiveError;
    expect([error.status, error.code, error.requestId]).toEqual([
      502,
      "UNKNOWN",
      "gw-1",
    ]);
  });
});

describe("paging", () => {
  it("follows next_cursor until has_more is false, through empty pages", async () => {
    const { fetch, seen } = scriptedFetch(
      ok([{ user_id: "a" }], { limit: 1, has_more: true, next_cursor: "c1" }),
      ok([], { limit: 1, has_more: true, next_cursor: "c2" }),
      ok([{ user_id: "b" }], { limit: 1, has_more: false, next_cursor: null }),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    const members = await listAll((cursor) =>
      unwrap(
        client.GET("/v1/members", { params: { query: { limit: 1, cursor } } }),
      ),
    );
    expect(members.map((m) => m.user_id)).toEqual(["a", "b"]);
    const urls = seen.map((s) => new URL(s.request.url));
    expect(urls.map((u) => u.searchParams.get("cursor"))).toEqual([
      null,
      "c1",
      "c2",
    ]);
  });

  it("stops early when the consumer stops iterating", async () => {
    const { fetch, seen } = scriptedFetch(
      ok([{ user_id: "a" }, { user_id: "b" }], {
        limit: 2,
        has_more: true,
        next_cursor: "c1",
      }),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    for await (const member of paginate((cursor) =>
      unwrap(client.GET("/v1/members", { params: { query: { cursor } } })),
    )) {
      expect(member.user_id).toBe("a");
      break;
    }
    expect(seen).toHaveLength(1);
  });
});

describe("unwrapBlob", () => {
  it("returns an image route's body as a Blob, the key sent", async () => {
    const { fetch, seen } = scriptedFetch(
      new Response(new Uint8Array([137, 80, 78, 71]), {
        status: 200,
        headers: { "content-type": "image/png" },
      }),
    );
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    const { blob } = await unwrapBlob(
      client.GET("/short-link/{id}/qr", {
        params: {
          path: { id: "lnk_7Hq2Vb9KxR4mN1pT6wZs" },
          query: { format: "png", size: 256 },
        },
        parseAs: "blob",
      }),
    );
    expect(blob.size).toBe(4);
    expect(seen[0]?.request.url).toBe(
      "https://api.test/short-link/lnk_7Hq2Vb9KxR4mN1pT6wZs/qr?format=png&size=256",
    );
    expect(seen[0]?.request.headers.get("x-api-key")).toBe(KEY);
  });

  it("throws the error envelope as a KeyhiveError", async () => {
    const { fetch } = scriptedFetch(refused(404, "NOT_FOUND"));
    const client = createKeyhiveClient({
      baseUrl: "https://api.test",
      apiKey: KEY,
      fetch,
    });
    const failure = await unwrapBlob(
      client.GET("/short-link/{id}/qr", {
        params: { path: { id: "lnk_x" } },
        parseAs: "blob",
      }),
    ).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(KeyhiveError);
    expect((failure as KeyhiveError).status).toBe(404);
    expect((failure as KeyhiveError).requestId).toBe("req-404");
  });
});
