import { fireEvent, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it } from "vitest";
import { apiError, keyRecord, ok, renderWithSession, routedFetch } from "../test/session";
import { CreateKeyPage } from "./CreateKeyPage";

const SECRET = "kh_live_AbCdEf123456.1qveTxb7pHdEcauVumlFkpuIa1CXyDTZEOTcWPnuSyU";

describe("CreateKeyPage", () => {
  it("offers only the signed-in key's permissions", () => {
    const { fetch } = routedFetch({});
    renderWithSession(
      <CreateKeyPage />,
      fetch,
      keyRecord({ permissions: { shortLinks: ["read"], apiKeys: ["create"] } }),
    );
    const offered = screen.getAllByRole("checkbox").map((b) => b.getAttribute("data-testid"));
    expect(offered.sort()).toEqual(["perm-apiKeys-create", "perm-shortLinks-read"]);
  });

  it("shows the secret once, then drops it from state and the page when the dialog closes", async () => {
    let body: unknown;
    const { fetch } = routedFetch({
      "POST /Prod/v1/keys": async (request) => {
        body = await request.json();
        return ok({ ...keyRecord({ id: "AbCdEf123456", name: "ci bot" }), key: SECRET }, 201);
      },
    });
    renderWithSession(<CreateKeyPage />, fetch);
    fireEvent.input(screen.getByTestId("create-name"), { target: { value: "ci bot" } });
    fireEvent.click(screen.getByTestId("perm-sandboxes-read"));
    fireEvent.click(screen.getByTestId("create-submit"));

    const dialog = await screen.findByTestId("secret-dialog");
    await waitFor(() => expect((dialog as HTMLDialogElement).open).toBe(true));
    expect((screen.getByTestId("secret-value") as HTMLInputElement).value).toBe(SECRET);
    expect(body).toMatchObject({ name: "ci bot", type: "bot", permissions: { sandboxes: ["read"] } });

    fireEvent.click(screen.getByTestId("secret-close"));
    await waitFor(() => expect(screen.queryByTestId("secret-dialog")).toBeNull());
    expect(document.body.innerHTML).not.toContain(SECRET);
    expect(document.body.innerHTML).not.toContain("1qveTxb7pHdEcauVumlFkpuIa1CXyDTZEOTcWPnuSyU");
    expect(location.hash).toBe("#/keys/AbCdEf123456");
  });

  it("keeps what was typed when the API refuses, and shows the request id", async () => {
    const { fetch } = routedFetch({
      "POST /Prod/v1/keys": () => apiError(409, "QUOTA_EXCEEDED", "too many keys", "req-409"),
    });
    renderWithSession(<CreateKeyPage />, fetch);
    fireEvent.input(screen.getByTestId("create-name"), { target: { value: "keep me" } });
    fireEvent.click(screen.getByTestId("perm-apiKeys-read"));
    fireEvent.click(screen.getByTestId("create-submit"));
    expect((await screen.findByTestId("error-request-id")).textContent).toBe("req-409");
    expect((screen.getByTestId("create-name") as HTMLInputElement).value).toBe("keep me");
    expect((screen.getByTestId("perm-apiKeys-read") as HTMLInputElement).checked).toBe(true);
  });
});
