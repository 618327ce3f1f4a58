/** Test helpers: a signed-in session over a scripted fetch. */
import { render } from "@testing-library/preact";
import type { ComponentChildren } from "preact";
import { createConsoleClient, SessionContext, type Key, type Session, type Webhook } from "../api/client";
import { asPermissions } from "../permissions";

export const ADMIN_KEY = "kh_live_Zx9Yw8Vu7Ts6.R58ibdQkwbMpEzlVQNKrB04srHT_Vu-hiM0wwk9v-Fg";

export function keyRecord(overrides: Partial<Key> = {}): Key {
  return {
    id: "Zx9Yw8Vu7Ts6",
    org_id: "org_R8yYJIWmsYkkgIW6fQ4E",
    name: "admin (bootstrap)",
    type: "bot",
    owner: "Bot",
    user_id: null,
    permissions: {
      sandboxes: ["create", "read", "update", "delete"],
      apiKeys: ["create", "read", "update", "delete"],
    },
    environment: "live",
    tier: "enterprise",
    rate_limit_per_minute: 10000,
    created_at: "2026-11-20T09:00:00Z",
    last_used_at: null,
    expires_at: null,
    enabled: true,
    last4: "v-Fg",
    created_by: { key_id: "bootstrap", user_id: null },
    meta: {},
    external_id: null,
    ...overrides,
  };
}

/** A webhook endpoint as the API returns it: enabled, for every event type. */
export function webhookRecord(overrides: Partial<Webhook> = {}): Webhook {
  return {
    id: "whk_AAAAAAAAAAAAAAAAAAAA",
    url: "https://hooks.example.com/in",
    events: ["*"],
    description: null,
    enabled: true,
    disabled_reason: null,
    failing_since: null,
    last_success_at: null,
    created_at: "2026-11-23T10:30:00Z",
    updated_at: "2026-11-23T10:30:00Z",
    ...overrides,
  };
}

export function envelope(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export const ok = (data: unknown, status = 200, meta: Record<string, unknown> = {}) =>
  envelope(status, { success: true, data, meta: { request_id: "req-ok", ...meta } });

export const apiError = (status: number, code: string, message: string, requestId: string) =>
  envelope(status, { success: false, error: { code, message }, meta: { request_id: requestId } });

type Route = (request: Request) => Response | Promise<Response>;

/** A fetch answering `METHOD /path` from a table; anything else is a 404 envelope. */
export function routedFetch(routes: Record<string, Route>) {
  const seen: Request[] = [];
  const fetch = async (request: Request) => {
    seen.push(request);
    const url = new URL(request.url);
    const route = routes[`${request.method} ${url.pathname}`];
    return route ? route(request) : apiError(404, "NOT_FOUND", "no such route", "req-404");
  };
  return { fetch, seen };
}

export function renderWithSession(
  ui: ComponentChildren,
  fetch: (r: Request) => Promise<Response>,
  self = keyRecord(),
) {
  let current = ADMIN_KEY;
  const session: Session = {
    client: createConsoleClient(
      () => current,
      () => undefined,
      fetch,
    ),
    self,
    permissions: asPermissions(self.permissions),
    prefix: "kh",
    refreshSelf: async () => undefined,
    signOut: () => undefined,
    adoptKey: (key) => {
      current = key;
    },
    holdSession: () => () => undefined,
  };
  return render(<SessionContext.Provider value={session}>{ui}</SessionContext.Provider>);
}
