import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { SESSION_KEY_NAME } from "./session";
import { ADMIN_KEY, apiError, keyRecord, ok, routedFetch, webhookRecord } from "./test/session";

function signIn(key: string) {
  fireEvent.input(screen.getByLabelText("API key"), { target: { value: key } });
  fireEvent.click(screen.getByTestId("signin-submit"));
}

describe("sign-in", () => {
  it("keeps an accepted key in sessionStorage only, never localStorage or the address", async () => {
    const { fetch, seen } = routedFetch({ "GET /Prod/v1/keys/self": () => ok(keyRecord()) });
    vi.stubGlobal("fetch", fetch);
    const log = vi.spyOn(console, "log");
    render(<App />);
    const input = screen.getByLabelText("API key") as HTMLInputElement;
    expect(input.type).toBe("password");
    // Masked, but no password: password managers are asked to leave it alone.
    expect(input.getAttribute("autocomplete")).toBe("off");
    expect(input.hasAttribute("data-1p-ignore")).toBe(true);
    expect(input.getAttribute("data-lpignore")).toBe("true");
    expect(input.name).not.toMatch(/pass/i);
    expect(input.getAttribute("aria-describedby")).toContain("signin-key-kept");
    expect(screen.getByTestId("signin-key-kept").textContent).toContain("this tab only");
    signIn(ADMIN_KEY);
    await screen.findByTestId("identity");
    expect(sessionStorage.getItem(SESSION_KEY_NAME)).toBe(ADMIN_KEY);
    expect(localStorage.length).toBe(0);
    expect(location.href).not.toContain(ADMIN_KEY);
    expect(log).not.toHaveBeenCalled();
    // Checked against the API of the page's own origin and stage, in the X-API-Key header.
    expect(seen[0]?.url).toBe("http://127.0.0.1:9000/Prod/v1/keys/self");
    expect(seen[0]?.headers.get("x-api-key")).toBe(ADMIN_KEY);
    expect(screen.getByTestId("identity-org").textContent).toBe("org_R8yYJIWmsYkkgIW6fQ4E");
    expect(screen.getByTestId("identity-environment").textContent).toBe("Live");
    expect(screen.getByTestId("identity-key").textContent).toContain("Zx9Yw8Vu7Ts6");
  });

  it("stores nothing when the API refuses the key, and shows why with the request id", async () => {
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/self": () => apiError(401, "UNAUTHORIZED", "invalid API key", "req-401"),
    });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    signIn(ADMIN_KEY);
    expect((await screen.findByTestId("error-request-id")).textContent).toBe("req-401");
    expect(sessionStorage.length).toBe(0);
    expect(localStorage.length).toBe(0);
  });

  it("shows a test key's test mode in the header", async () => {
    const testKey = ADMIN_KEY.replace("_live_", "_test_");
    const { fetch } = routedFetch({ "GET /Prod/v1/keys/self": () => ok(keyRecord({ environment: "test" })) });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    signIn(testKey);
    expect((await screen.findByTestId("identity-environment")).textContent).toBe("Test mode");
    expect(screen.getByTestId("test-mode-banner").textContent).toBe("Test mode: you are seeing test data");
    expect(screen.getByTestId("test-mode-banner").getAttribute("role")).toBe("status");
  });

  it("shows no test-mode banner for a live key", async () => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    const { fetch } = routedFetch({ "GET /Prod/v1/keys/self": () => ok(keyRecord()) });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    await screen.findByTestId("identity");
    expect(screen.queryByTestId("test-mode-banner")).toBeNull();
  });

  it("offers a page for each resource the key may read, and loads it on first use", async () => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    const empty = () => ok([], 200, { limit: 50, has_more: false, next_cursor: null });
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/self": () =>
        ok(keyRecord({ permissions: { domains: ["read"], files: ["read"], stats: ["read"] } })),
      "GET /Prod/domains": empty,
      "GET /Prod/v1/files": empty,
    });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    await screen.findByTestId("nav-domains");
    expect(screen.getByTestId("nav-files")).toBeTruthy();
    for (const hidden of ["nav-sandboxes", "nav-links", "nav-webhooks", "nav-keys"])
      expect(screen.queryByTestId(hidden)).toBeNull();
    // The first readable page opens, from its lazily loaded chunk.
    expect(await screen.findByTestId("domains-table")).toBeTruthy();
    location.hash = "#/files";
    expect(await screen.findByTestId("files-table")).toBeTruthy();
    // A resource the key may not read is not found, even by its address.
    location.hash = "#/sandboxes";
    expect(await screen.findByText("Not found")).toBeTruthy();
  });

  it("drops the kept key and returns to the prompt on any 401", async () => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/self": () => ok(keyRecord()),
      // The key is revoked between the check and the first page's read.
      "GET /Prod/v1/keys": () => apiError(401, "UNAUTHORIZED", "invalid API key", "r2"),
    });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    await screen.findByTestId("identity");
    await waitFor(() => expect(screen.getByTestId("signin-notice").textContent).toContain("401"));
    expect(sessionStorage.getItem(SESSION_KEY_NAME)).toBeNull();
    expect(screen.getByTestId("signin-key")).toBeTruthy();
  });

  it("signs out on request and forgets the key", async () => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    const { fetch } = routedFetch({ "GET /Prod/v1/keys/self": () => ok(keyRecord()) });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    fireEvent.click(await screen.findByTestId("signout"));
    await screen.findByTestId("signin-key");
    expect(sessionStorage.getItem(SESSION_KEY_NAME)).toBeNull();
  });

  it("shows in the nav only the pages the key may read", async () => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/self": () =>
        ok(keyRecord({ permissions: { audit: ["read"], sandboxes: ["read"] } })),
      "GET /Prod/v1/audit-log": () => ok([], 200, { limit: 50, has_more: false, next_cursor: null }),
    });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    await screen.findByTestId("nav-audit");
    expect(screen.queryByTestId("nav-keys")).toBeNull();
    expect(screen.queryByTestId("nav-members")).toBeNull();
  });
});

const SELF_ID = "Zx9Yw8Vu7Ts6";
const ROLLED_SELF = `kh_live_${SELF_ID}.1qveTxb7pHdEcauVumlFkpuIa1CXyDTZEOTcWPnuSyU`;

/** The API around a roll of the signed-in key with no grace: the old secret is refused after it. */
function selfRollApi({ refuseNewToo = false } = {}) {
  let rolled = false;
  const accessKeys: (string | null)[] = [];
  const { fetch: routed } = routedFetch({
    "GET /Prod/v1/keys/self": () => ok(keyRecord()),
    [`GET /Prod/v1/keys/${SELF_ID}`]: () => ok(keyRecord()),
    [`GET /Prod/v1/keys/${SELF_ID}/access`]: (request) => {
      accessKeys.push(request.headers.get("x-api-key"));
      return ok({
        key_id: SELF_ID,
        since: "2026-11-23T10:30:00Z",
        permissions: [],
        unused: [],
        suggested_permissions: keyRecord().permissions,
      });
    },
    [`POST /Prod/v1/keys/${SELF_ID}/roll`]: () => {
      rolled = true;
      return ok({ ...keyRecord(), key: ROLLED_SELF, old_secret_valid_until: null });
    },
  });
  const fetch = async (request: Request) => {
    const key = request.headers.get("x-api-key");
    if (rolled && (key === ADMIN_KEY || refuseNewToo))
      return apiError(401, "UNAUTHORIZED", "invalid API key", "req-401");
    return routed(request);
  };
  return { fetch, accessKeys };
}

describe("rolling the signed-in key", () => {
  it("moves the session to the new secret, so the page's next reads keep the dialog up", async () => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    location.hash = `#/keys/${SELF_ID}`;
    const { fetch, accessKeys } = selfRollApi();
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    fireEvent.change(await screen.findByTestId("roll-grace"), { target: { value: "0" } });
    fireEvent.click(screen.getByTestId("roll-key"));
    expect(((await screen.findByTestId("secret-value")) as HTMLInputElement).value).toBe(ROLLED_SELF);
    expect(sessionStorage.getItem(SESSION_KEY_NAME)).toBe(ROLLED_SELF);
    // The rolled record makes the page read its access again: with the new secret.
    await waitFor(() => expect(accessKeys).toHaveLength(2));
    expect(accessKeys[1]).toBe(ROLLED_SELF);
    expect(screen.getByTestId("secret-dialog")).toBeTruthy();
    fireEvent.click(screen.getByTestId("secret-close"));
    await waitFor(() => expect(screen.queryByTestId("secret-dialog")).toBeNull());
    expect(screen.getByTestId("identity")).toBeTruthy();
    expect(screen.queryByTestId("signin-key")).toBeNull();
  });

  it("keeps a shown secret up through a 401, and signs out once it is closed", async () => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    location.hash = `#/keys/${SELF_ID}`;
    // The new secret is refused too (say, another operator revoked the key meanwhile).
    const { fetch } = selfRollApi({ refuseNewToo: true });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    fireEvent.click(await screen.findByTestId("roll-key"));
    await screen.findByTestId("secret-value");
    // The refetch was refused (401): the banner says so, the secret stays.
    await screen.findByTestId("error-request-id");
    expect((screen.getByTestId("secret-value") as HTMLInputElement).value).toBe(ROLLED_SELF);
    fireEvent.click(screen.getByTestId("secret-close"));
    await waitFor(() => expect(screen.queryByTestId("secret-dialog")).toBeNull());
    await waitFor(() => expect(screen.getByTestId("signin-notice").textContent).toContain("401"));
    expect(sessionStorage.getItem(SESSION_KEY_NAME)).toBeNull();
  });
});

describe("ids in the address", () => {
  it.each([
    "#/links/../stats",
    "#/links/%2E%2E/stats",
    "#/links/stats",
    "#/links/lnk_short/qr",
    "#/keys/%E0",
    "#/keys/..%2Fstats",
    "#/keys/AbCdEf12345",
    "#/webhooks/stats",
    "#/webhooks/whk_x",
  ])("%s is not found, without a request", async (hash) => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    location.hash = hash;
    const { fetch, seen } = routedFetch({
      "GET /Prod/v1/keys/self": () =>
        ok(
          keyRecord({
            permissions: { apiKeys: ["read"], shortLinks: ["read"], stats: ["read"], webhooks: ["read"] },
          }),
        ),
    });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    await screen.findByTestId("identity");
    expect(await screen.findByText("Not found")).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen.map((r) => new URL(r.url).pathname)).toEqual(["/Prod/v1/keys/self"]);
  });
});

describe("moving from one id to another", () => {
  const A = "whk_AAAAAAAAAAAAAAAAAAAA";
  const B = "whk_BBBBBBBBBBBBBBBBBBBB";
  const hook = (id: string, url: string) => webhookRecord({ id, url });

  it("never shows the first's data, or its open dialog, with the second's actions", async () => {
    sessionStorage.setItem(SESSION_KEY_NAME, ADMIN_KEY);
    location.hash = `#/webhooks/${A}`;
    let answerB: (() => void) | undefined;
    const deletes: string[] = [];
    const empty = () => ok([], 200, { limit: 50, has_more: false, next_cursor: null });
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/self": () =>
        ok(keyRecord({ permissions: { webhooks: ["read", "update", "delete"] } })),
      [`GET /Prod/v1/webhooks/${A}`]: () => ok(hook(A, "https://a.example.com/hooks")),
      [`GET /Prod/v1/webhooks/${A}/deliveries`]: empty,
      [`GET /Prod/v1/webhooks/${B}`]: () =>
        new Promise<Response>((resolve) => {
          answerB = () => resolve(ok(hook(B, "https://b.example.com/hooks")));
        }),
      [`GET /Prod/v1/webhooks/${B}/deliveries`]: empty,
      [`DELETE /Prod/v1/webhooks/${A}`]: () => {
        deletes.push(A);
        return ok(hook(A, "https://a.example.com/hooks"));
      },
      [`DELETE /Prod/v1/webhooks/${B}`]: () => {
        deletes.push(B);
        return ok(hook(B, "https://b.example.com/hooks"));
      },
    });
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    await screen.findByText("https://a.example.com/hooks");
    // A's delete dialog is open when the address moves to B.
    fireEvent.click(screen.getByTestId("webhook-delete"));
    expect(screen.getByTestId("confirm-dialog").textContent).toContain("a.example.com");
    location.hash = `#/webhooks/${B}`;
    await waitFor(() => expect(screen.queryByTestId("confirm-dialog")).toBeNull());
    // While B loads, nothing of A is left to see or to act on.
    expect(document.body.textContent).not.toContain("a.example.com");
    expect(screen.queryByTestId("webhook-delete")).toBeNull();
    await waitFor(() => expect(answerB).toBeDefined());
    answerB?.();
    await screen.findByText("https://b.example.com/hooks");
    // A's open dialog did not carry over to B.
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    fireEvent.click(screen.getByTestId("webhook-delete"));
    expect(screen.getByTestId("confirm-dialog").textContent).toContain("b.example.com");
    fireEvent.click(screen.getByTestId("confirm-ok"));
    await waitFor(() => expect(deletes).toEqual([B]));
  });
});
