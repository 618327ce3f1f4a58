/** The console's one API client, and the signed-in session every page reads. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import {
  createKeyhiveClient,
  KeyhiveError,
  type Key,
  type KeyhiveClient,
} from "../../../clients/typescript/src/index";
import type { Permissions } from "../permissions";
import { apiBaseUrl } from "./base";

export { KeyhiveError, unwrap, unwrapBlob, listAll } from "../../../clients/typescript/src/index";
export type * from "../../../clients/typescript/src/index";

/**
 * A client for the page's own origin. `onUnauthorized` runs on any 401, with the key the refused
 * request carried: the key was revoked, disabled, expired or rolled away, and the console must
 * stop using it (unless it has moved on to another key since).
 */
export function createConsoleClient(
  apiKey: () => string | null,
  onUnauthorized: (usedKey: string | null) => void,
  fetch?: (request: Request) => Promise<Response>,
): KeyhiveClient {
  const client = createKeyhiveClient({
    baseUrl: apiBaseUrl(location),
    apiKey,
    maxRetries: 2,
    maxRetryWaitMs: 5_000,
    ...(fetch ? { fetch } : {}),
  });
  client.use({
    onResponse({ request, response }) {
      if (response.status === 401) onUnauthorized(request.headers.get("X-API-Key"));
    },
  });
  return client;
}

export interface Session {
  client: KeyhiveClient;
  /** The signed-in key's own record (`GET /v1/keys/self`). */
  self: Key;
  permissions: Permissions;
  /** The deployment's key prefix, `kh` in `kh_live_…`. */
  prefix: string;
  refreshSelf: () => Promise<void>;
  signOut: () => void;
  /**
   * Makes `key` the session's key at once (sessionStorage and every later request): after
   * rolling the signed-in key, before anything is read again with the old secret.
   */
  adoptKey: (key: string) => void;
  /**
   * Keeps the session up while a secret is on screen: a 401 meanwhile signs out only once every
   * hold is released. Returns the release.
   */
  holdSession: () => () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in console");
  return session;
}

/** A route this deployment does not have (yet): the console hides what needs it. */
export function isMissingRoute(error: unknown): boolean {
  return error instanceof KeyhiveError && (error.status === 404 || error.status === 405);
}
