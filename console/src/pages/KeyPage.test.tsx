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
});
