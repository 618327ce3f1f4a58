/**
 * The typed keyhive client: openapi-fetch over the types generated from openapi.yaml
 * (`schema.d.ts`), plus what every caller needs and should not rewrite: the `X-API-Key`
 * header, bounded retries of 429/503 honouring `Retry-After`, a fresh `Idempotency-Key` on the
 * creation routes (kept across its own retries), the envelope unwrapped into data or a
 * `KeyhiveError`, and cursor paging.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type { components, paths };
export type Schemas = components["schemas"];
export type Key = Schemas["Key"];
export type CreatedKey = Schemas["CreatedKey"];
export type NewKey = Schemas["NewKey"];
export type Member = Schemas["Member"];
export type NewMember = Schemas["NewMember"];
export type AuditEntry = Schemas["AuditEntry"];
export type AuditAction = Schemas["AuditAction"];
export type KeyUsage = Schemas["KeyUsage"];
export type KeyAccess = Schemas["KeyAccess"];
export type KeyUsageSummary = Schemas["KeyUsageSummary"];
export type UsageCounts = Schemas["UsageCounts"];
export type UsageBucket = Schemas["UsageBucket"];
export type ListMeta = Schemas["ListMeta"];
export type Meta = Schemas["Meta"];
export type ErrorCode = Schemas["ErrorEnvelope"]["error"]["code"];
export type Template = Schemas["Template"];
export type Sandbox = Schemas["Sandbox"];
export type SandboxStatus = Schemas["SandboxStatus"];
export type Link = Schemas["Link"];
export type NewLink = Schemas["NewLink"];
export type LinkPatch = Schemas["LinkPatch"];
export type LinkPreview = Schemas["LinkPreview"];
export type NewLinkPreview = Schemas["NewLinkPreview"];
export type LinkStats = Schemas["LinkStats"];
export type LinkListMeta = Schemas["LinkListMeta"];
export type Domain = Schemas["Domain"];
/** A domain as `POST /domains/{id}/verify` answers it, with the TXT values it saw. */
export type VerifiedDomain = Domain & { seen: string[] };
export type EventType = Schemas["EventType"];
export type Webhook = Schemas["Webhook"];
export type CreatedWebhook = Schemas["CreatedWebhook"];
export type RotatedWebhook = Schemas["RotatedWebhook"];
export type WebhookEvents = Schemas["WebhookEvents"];
/**
 * The body of `PATCH /v1/webhooks/{id}`, written out: the spec's `anyOf` of `required`-only
 * alternatives makes the generated `WebhookPatch` `unknown`.
 */
export interface WebhookPatch {
  url?: Schemas["WebhookUrl"] | null;
  events?: Schemas["WebhookEvents"] | null;
  description?: Schemas["WebhookDescription"] | null;
}
export type DeliveryAttempt = Schemas["DeliveryAttempt"];
export type KeyhiveFile = Schemas["File"];
export type CreatedFile = Schemas["CreatedFile"];
export type FilePurpose = Schemas["FilePurpose"];
export type FileContentType = Schemas["FileContentType"];
/** The query of `GET /short-link/{id}/qr`. */
export type QrOptions = NonNullable<
  paths["/short-link/{id}/qr"]["get"]["parameters"]["query"]
>;

/** The permission resources and actions, in the order the API lists them. */
export const RESOURCES = [
  "sandboxes",
  "shortLinks",
  "domains",
  "stats",
  "files",
  "apiKeys",
  "webhooks",
  "members",
  "audit",
] as const;
export const ACTIONS = ["create", "read", "update", "delete"] as const;
export type Resource = (typeof RESOURCES)[number];
export type Action = (typeof ACTIONS)[number];
/** resource -> actions, as `Key.permissions` and `NewKey.permissions` carry it. */
export type Permissions = Partial<Record<Resource, Action[]>>;

/** The body of `PATCH /v1/keys/{id}`. */
export type KeyPatch = components["schemas"]["KeyPatch"];

/** The POST routes that take an `Idempotency-Key`, read from the generated types. */
type PostHeaders<P extends keyof paths> = paths[P] extends {
  post: { parameters: { header?: infer H } };
}
  ? NonNullable<H>
  : never;
type IdempotentPostPath = {
  [P in keyof paths]: [PostHeaders<P>] extends [never]
    ? never
    : "Idempotency-Key" extends keyof PostHeaders<P>
      ? P
      : never;
}[keyof paths];

export const IDEMPOTENT_POST_PATHS = [
  "/v1/keys",
  "/v1/members",
  "/v1/sandboxes",
  "/short-link",
  "/domains",
  "/v1/webhooks",
  "/v1/files",
] as const satisfies readonly IdempotentPostPath[];

// Fails to compile when openapi.yaml gains a creation route this list does not name.
type UnlistedIdempotentPath = Exclude<
  IdempotentPostPath,
  (typeof IDEMPOTENT_POST_PATHS)[number]
>;
const everyIdempotentPathListed: [UnlistedIdempotentPath] extends [never]
  ? true
  : UnlistedIdempotentPath = true;
void everyIdempotentPathListed;

const idempotentPaths: ReadonlySet<string> = new Set(IDEMPOTENT_POST_PATHS);

/** An error answer of the API (or something in front of it), from its envelope. */
export class KeyhiveError extends Error {
  override readonly name = "KeyhiveError";
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "UNKNOWN",
    message: string,
    readonly details: Record<string, unknown> | undefined,
    readonly requestId: string | undefined,
  ) {
    super(message);
  }

  /** Builds the error from a response and its parsed body, whatever shape the body has. */
  static from(response: Response, body: unknown): KeyhiveError {
    const envelope = isRecord(body) ? body : {};
    const error = isRecord(envelope["error"]) ? envelope["error"] : {};
    const meta = isRecord(envelope["meta"]) ? envelope["meta"] : {};
    const code =
      typeof error["code"] === "string"
        ? (error["code"] as ErrorCode)
        : "UNKNOWN";
    const message =
      typeof error["message"] === "string"
        ? error["message"]
        : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    const details = isRecord(error["details"]) ? error["details"] : undefined;
    const requestId =
      typeof meta["request_id"] === "string"
        ? meta["request_id"]
        : (response.headers.get("x-request-id") ?? undefined);
    return new KeyhiveError(response.status, code, message, details, requestId);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface KeyhiveClientOptions {
  /** The API's base URL, e.g. `https://abc.execute-api.us-east-1.amazonaws.com/prod`. */
  baseUrl: string;
  /** The key, or a function read on every request (so a caller can swap or drop it). */
  apiKey: string | (() => string | null | undefined);
  /** A fetch to use instead of `globalThis.fetch` (tests, instrumentation). */
  fetch?: (request: Request) => Promise<Response>;
  /** Retries after the first attempt for 429 and 503 (default 2). */
  maxRetries?: number;
  /** The longest wait before one retry, in milliseconds (default 10 000). */
  maxRetryWaitMs?: number;
  /** How to wait (tests pass an instant one). */
  sleep?: (ms: number) => Promise<void>;
}

export type KeyhiveClient = Client<paths>;

/** Methods whose repeat changes nothing more than the first did. */
const REPEATABLE_METHODS = new Set([
  "GET",
  "HEAD",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
]);

/**
 * How long to wait before the next attempt: `Retry-After` (seconds or an HTTP date) when the
 * answer has one, else an exponential backoff from 500 ms; never more than `capMs`.
 */
export function retryDelayMs(
  response: Response,
  attempt: number,
  capMs: number,
  now = Date.now(),
): number {
  const header = response.headers.get("retry-after");
  let ms = 500 * 2 ** attempt;
  if (header !== null) {
    const seconds = Number(header);
    if (header.trim() !== "" && Number.isFinite(seconds)) {
      ms = Math.max(0, seconds) * 1000;
    } else {
      const date = Date.parse(header);
      if (!Number.isNaN(date)) ms = Math.max(0, date - now);
    }
  }
  return Math.min(ms, capMs);
}

/**
 * A 429 was refused before anything ran, so it is always safe to repeat; a 503 only when the
 * request is repeatable (its method, or an `Idempotency-Key` that makes the server replay).
 */
function shouldRetry(request: Request, status: number): boolean {
  if (status === 429) return true;
  if (status !== 503) return false;
  return (
    REPEATABLE_METHODS.has(request.method) ||
    request.headers.has("idempotency-key")
  );
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createKeyhiveClient(
  options: KeyhiveClientOptions,
): KeyhiveClient {
  const maxRetries = Math.max(0, options.maxRetries ?? 2);
  const capMs = options.maxRetryWaitMs ?? 10_000;
  const sleep = options.sleep ?? defaultSleep;
  // Looked up per call so a page's fetch (or a test's stub) installed later is used.
  const send =
    options.fetch ?? ((request: Request) => globalThis.fetch(request));

  const retryingFetch = async (request: Request): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      // A clone per attempt: a body can be read only once. No API route redirects, so a redirect
      // is refused rather than followed: following one would carry `X-API-Key` wherever it points.
      const copy = request.clone();
      const response = await send(
        copy.redirect === "error"
          ? copy
          : new Request(copy, { redirect: "error" }),
      );
      if (attempt >= maxRetries || !shouldRetry(request, response.status))
        return response;
      await response.body?.cancel();
      await sleep(retryDelayMs(response, attempt, capMs));
    }
  };

  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: retryingFetch,
    redirect: "error",
  });

  const credentials: Middleware = {
    onRequest({ request, schemaPath, params }) {
      // openapi-fetch leaves `.` and `..` as they are in a path, where the URL would resolve them
      // away (`/short-link/../stats` is `/stats`): such an id names no resource, so no request.
      const path: Record<string, unknown> = params.path ?? {};
      for (const [name, value] of Object.entries(path)) {
        const text = String(value);
        if (text === "" || text === "." || text === "..")
          throw new TypeError(
            `invalid path parameter ${name}: ${JSON.stringify(text)}`,
          );
      }
      const key =
        typeof options.apiKey === "function"
          ? options.apiKey()
          : options.apiKey;
      if (key) request.headers.set("X-API-Key", key);
      // Set once, before the retry loop, so every retry of this call carries the same key.
      if (
        request.method === "POST" &&
        idempotentPaths.has(schemaPath) &&
        !request.headers.has("idempotency-key")
      ) {
        request.headers.set("Idempotency-Key", crypto.randomUUID());
      }
      return request;
    },
  };
  client.use(credentials);
  return client;
}

/** The success envelope's `data`, never `undefined` (the spec's `allOf` makes it optional). */
type EnvelopeData<E> = E extends { data?: infer D }
  ? Exclude<D, undefined>
  : never;
type EnvelopeMeta<E> = E extends { meta: infer M } ? M : never;

export interface Unwrapped<E> {
  data: EnvelopeData<E>;
  meta: EnvelopeMeta<E>;
  response: Response;
}

/**
 * Awaits an openapi-fetch call and returns its envelope's `data` and `meta`, or throws a
 * `KeyhiveError` carrying the status, `error.code`, `error.message`, `error.details` and
 * `meta.request_id`.
 */
export async function unwrap<E>(
  call: Promise<{ data?: E; error?: unknown; response: Response }>,
): Promise<Unwrapped<E>> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined || !isRecord(data))
    throw KeyhiveError.from(response, error ?? data);
  return {
    data: data["data"] as EnvelopeData<E>,
    meta: data["meta"] as EnvelopeMeta<E>,
    response,
  };
}

/**
 * Awaits an openapi-fetch call made with `parseAs: "blob"` (an image route such as
 * `GET /short-link/{id}/qr`) and returns the body as a `Blob` with its response, or throws the
 * error envelope as a `KeyhiveError`, as `unwrap` does.
 */
export async function unwrapBlob(
  call: Promise<{ data?: unknown; error?: unknown; response: Response }>,
): Promise<{ blob: Blob; response: Response }> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined || !isBlob(data))
    throw KeyhiveError.from(response, error ?? data);
  return { blob: data, response };
}

/** A Blob, also one from another realm's constructor (a test DOM beside Node's fetch). */
function isBlob(value: unknown): value is Blob {
  return (
    value instanceof Blob ||
    (typeof value === "object" &&
      value !== null &&
      typeof (value as Blob).arrayBuffer === "function" &&
      typeof (value as Blob).size === "number")
  );
}

/** One page of a list route, as `unwrap` returns it. */
export interface Page<T> {
  data: T[];
  meta: ListMeta;
}

/**
 * Follows `meta.next_cursor` from the first page to the last, yielding each item. `fetchPage`
 * gets `undefined` for the first page and the previous page's cursor after that; pages may be
 * empty while `has_more` is true (filtered lists), so it stops on `has_more`, not on emptiness.
 */
export async function* paginate<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.data;
    if (!page.meta.has_more || !page.meta.next_cursor) return;
    cursor = page.meta.next_cursor;
  }
}

/** Every item of a list, at most `max` (default 10 000) so a runaway list cannot exhaust memory. */
export async function listAll<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  max = 10_000,
): Promise<T[]> {
  const items: T[] = [];
  for await (const item of paginate(fetchPage)) {
    items.push(item);
    if (items.length >= max) break;
  }
  return items;
}
