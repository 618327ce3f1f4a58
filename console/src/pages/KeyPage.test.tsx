import { fireEvent, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it } from "vitest";
import { apiError, keyRecord, ok, renderWithSession, routedFetch } from "../test/session";
import { KeyPage } from "./KeyPage";

const TARGET = keyRecord({ id: "AbCdEf123456", name: "ci bot", permissions: { sandboxes: ["read"] } });
const ROLLED = "kh_live_AbCdEf123456.1qveTxb7pHdEcauVumlFkpuIa1CXyDTZEOTcWPnuSyU";

describe("KeyPage", () => {
  it("hides usage and least privilege where this deployment lacks their routes", async () => {
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/AbCdEf123456": () => ok(TARGET),
      "GET /Prod/v1/keys/AbCdEf123456/usage": () => apiError(404, "NOT_FOUND", "no such route", "r1"),
      "GET /Prod/v1/keys/AbCdEf123456/access": () => apiError(405, "METHOD_NOT_ALLOWED", "no", "r2"),
    });
    renderWithSession(<KeyPage id="AbCdEf123456" />, fetch);
    await screen.findByTestId("edit-form");
    await waitFor(() => expect(screen.queryByText("Usage")).toBeNull());
    expect(screen.queryByText("Least privilege")).toBeNull();
    expect(screen.queryByTestId("error-alert")).toBeNull();
  });

  it("revokes only after the key's name or id is typed", async () => {
    let revoked = false;
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/AbCdEf123456": () => ok(TARGET),
      "DELETE /Prod/v1/keys/AbCdEf123456": () => {
        revoked = true;
        return ok({ id: "AbCdEf123456", revoked_at: "2026-11-23T11:05:00Z" });
      },
    });
    renderWithSession(<KeyPage id="AbCdEf123456" />, fetch);
    const button = (await screen.findByTestId("revoke-key")) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    fireEvent.input(screen.getByTestId("revoke-confirm"), { target: { value: "ci bo" } });
    expect(button.disabled).toBe(true);
    fireEvent.input(screen.getByTestId("revoke-confirm"), { target: { value: "AbCdEf123456" } });
    expect(button.disabled).toBe(false);
    fireEvent.click(button);
    await waitFor(() => expect(revoked).toBe(true));
    await waitFor(() => expect(location.hash).toBe("#/keys"));
  });

  it("rolls with the chosen grace and shows the new secret once", async () => {
    let grace: unknown;
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/AbCdEf123456": () => ok(TARGET),
      "POST /Prod/v1/keys/AbCdEf123456/roll": async (request) => {
        grace = ((await request.json()) as { grace_seconds: number }).grace_seconds;
        return ok({ ...TARGET, last4: "uSyU", key: ROLLED, old_secret_valid_until: "2026-11-23T11:50:00Z" });
      },
    });
    renderWithSession(<KeyPage id="AbCdEf123456" />, fetch);
    fireEvent.change(await screen.findByTestId("roll-grace"), { target: { value: "3600" } });
    fireEvent.click(screen.getByTestId("roll-key"));
    expect(((await screen.findByTestId("secret-value")) as HTMLInputElement).value).toBe(ROLLED);
    expect(grace).toBe(3600);
    fireEvent.click(screen.getByTestId("secret-close"));
    await waitFor(() => expect(screen.queryByTestId("secret-dialog")).toBeNull());
    expect(document.body.innerHTML).not.toContain(ROLLED);
  });

  it("offers the least-privilege suggestion and PATCHes exactly it", async () => {
    let patched: unknown;
    const wide = { ...TARGET, permissions: { sandboxes: ["read" as const], shortLinks: ["read" as const] } };
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/AbCdEf123456": () => ok(wide),
      "GET /Prod/v1/keys/AbCdEf123456/access": () =>
        ok({
          key_id: "AbCdEf123456",
          since: "2026-11-23T10:30:00Z",
          permissions: [],
          unused: ["shortLinks:read"],
          suggested_permissions: { sandboxes: ["read"] },
        }),
      "PATCH /Prod/v1/keys/AbCdEf123456": async (request) => {
        patched = await request.json();
        return ok(TARGET);
      },
    });
    renderWithSession(
      <KeyPage id="AbCdEf123456" />,
      fetch,
      keyRecord({ permissions: { sandboxes: ["read"], shortLinks: ["read"], apiKeys: ["read", "update"] } }),
    );
    fireEvent.click(await screen.findByTestId("apply-suggestion"));
    await waitFor(() => expect(patched).toEqual({ permissions: { sandboxes: ["read"] } }));
  });

  it("PATCHes only what the operator changed, and nothing when nothing changed", async () => {
    const patched: unknown[] = [];
    const { fetch, seen } = routedFetch({
      "GET /Prod/v1/keys/AbCdEf123456": () => ok(TARGET),
      "PATCH /Prod/v1/keys/AbCdEf123456": async (request) => {
        const body = (await request.json()) as { name?: string };
        patched.push(body);
        return ok({ ...TARGET, ...body });
      },
    });
    renderWithSession(<KeyPage id="AbCdEf123456" />, fetch);
    const form = await screen.findByTestId("edit-form");
    // Nothing changed: said so, nothing sent.
    fireEvent.submit(form);
    expect(screen.getByTestId("key-action-status").textContent).toBe("Nothing changed: nothing was sent.");
    expect(seen.some((r) => r.method === "PATCH")).toBe(false);
    // Only the name: the permissions as loaded are not sent back.
    fireEvent.input(screen.getByTestId("edit-name"), { target: { value: "ci bot 2" } });
    fireEvent.click(screen.getByTestId("save-key"));
    await waitFor(() => expect(patched).toEqual([{ name: "ci bot 2" }]));
    await waitFor(() => expect(screen.getByTestId("key-action-status").textContent).toBe("Saved."));
    // Only the permissions.
    fireEvent.click(screen.getByTestId("perm-sandboxes-create"));
    fireEvent.click(screen.getByTestId("save-key"));
    await waitFor(() => expect(patched[1]).toEqual({ permissions: { sandboxes: ["create", "read"] } }));
  });

  it("switches the session to the new secret before anything is read again, when rolling its own key", async () => {
    const own = keyRecord({ id: "AbCdEf123456" });
    let rolled = false;
    const keys: (string | null)[] = [];
    const { fetch } = routedFetch({
      "GET /Prod/v1/keys/AbCdEf123456": () => ok(own),
      "GET /Prod/v1/keys/AbCdEf123456/access": (request) => {
        keys.push(request.headers.get("x-api-key"));
        return ok({
          key_id: own.id,
          since: "2026-11-23T10:30:00Z",
          permissions: [],
          unused: [],
          suggested_permissions: own.permissions,
        });
      },
      "POST /Prod/v1/keys/AbCdEf123456/roll": () => {
        rolled = true;
        return ok({ ...own, key: ROLLED, old_secret_valid_until: null });
      },
    });
    renderWithSession(<KeyPage id="AbCdEf123456" />, fetch, own);
    fireEvent.click(await screen.findByTestId("roll-key"));
    await screen.findByTestId("secret-value");
    expect(rolled).toBe(true);
    await waitFor(() => expect(keys).toHaveLength(2));
    expect(keys[1]).toBe(ROLLED);
    expect(screen.getByTestId("secret-note").textContent).toContain("new secret from now on");
  });
});
