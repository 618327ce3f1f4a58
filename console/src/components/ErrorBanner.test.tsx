import { render, screen } from "@testing-library/preact";
import { describe, expect, it } from "vitest";
import { KeyhiveError } from "../api/client";
import { ErrorBanner } from "./ErrorBanner";

describe("ErrorBanner", () => {
  it("shows the API's message, code, details and request id in an alert", () => {
    const error = new KeyhiveError(
      403,
      "FORBIDDEN",
      "the key lacks a permission",
      { required: "apiKeys:update" },
      "c0ffee00-1234",
    );
    render(<ErrorBanner error={error} />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("403 FORBIDDEN");
    expect(alert.textContent).toContain("the key lacks a permission");
    expect(alert.textContent).toContain("requires apiKeys:update");
    expect(screen.getByTestId("error-request-id").textContent).toBe("c0ffee00-1234");
  });

  it("shows nothing without an error", () => {
    const { container } = render(<ErrorBanner error={undefined} />);
    expect(container.innerHTML).toBe("");
  });
});
