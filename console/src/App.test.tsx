import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { SESSION_KEY_NAME } from "./session";
import { ADMIN_KEY, apiError, keyRecord, ok, routedFetch } from "./test/session";

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
    expect((screen.getByLabelText("API key") as HTMLInputElement).type).toBe("password");
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
