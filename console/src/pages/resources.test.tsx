import { act, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Countdown } from "../components/Countdown";
import { TestModeBanner } from "../components/TestModeBanner";
import { apiError, keyRecord, ok, renderWithSession, routedFetch } from "../test/session";
import { LinkQr } from "./LinkQr";
import { SandboxesPage, timeoutProblem } from "./SandboxesPage";

const LINK = {
  id: "lnk_7Hq2Vb9KxR4mN1pT6wZs",
  slug: "launch-2026",
  domain: null,
  short_url: "https://go.example.com/launch-2026",
  destination: { type: "link" as const, value: "https://example.com/launch" },
  title: null,
  preview: null,
  clicks: 0,
  bot_clicks: 0,
  expires_at: null,
  created_at: "2026-11-23T10:30:00Z",
  updated_at: "2026-11-23T10:30:00Z",
};

const TEMPLATES = [
  {
    id: "12",
    name: "Ubuntu 24.04 shell",
    language: "bash",
    default_timeout_seconds: 600,
    max_timeout_seconds: 7200,
    vcpu: 1,
    memory_mb: 1024,
  },
];
const emptyList = () => ok([], 200, { limit: 50, has_more: false, next_cursor: null });

afterEach(() => {
  vi.useRealTimers();
});

describe("Countdown", () => {
  it("ticks each second as numbers in a timer that is not announced", () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse("2026-12-06T10:00:00Z"));
    render(<Countdown until="2026-12-06T10:01:05Z" />);
    const timer = screen.getByRole("timer");
    expect(timer.getAttribute("aria-live")).toBe("off");
    expect(timer.textContent).toBe("1 min 05 s");
    act(() => {
      vi.advanceTimersByTime(1000);
    });
    expect(timer.textContent).toBe("1 min 04 s");
    act(() => {
      vi.advanceTimersByTime(65_000);
    });
    expect(timer.textContent).toBe("expired");
  });
});

describe("TestModeBanner", () => {
  it("is a status strip for a test key and nothing for a live one", () => {
    const { container, rerender } = render(<TestModeBanner environment="live" />);
    expect(container.innerHTML).toBe("");
    rerender(<TestModeBanner environment="test" />);
    const banner = screen.getByRole("status");
    expect(banner.textContent).toBe("Test mode: you are seeing test data");
    expect(banner.getAttribute("data-testid")).toBe("test-mode-banner");
  });
});

describe("Sandboxes", () => {
  it("shows the chosen template's limits and refuses a timeout over them before sending", async () => {
    const { fetch, seen } = routedFetch({
      "GET /Prod/v1/sandboxes": emptyList,
      "GET /Prod/v1/templates": () => ok(TEMPLATES, 200, { limit: 1, has_more: false }),
    });
    renderWithSession(<SandboxesPage query={new URLSearchParams()} />, fetch);
    const select = (await screen.findByTestId("sandbox-template")) as HTMLSelectElement;
    await waitFor(() => expect(select.options).toHaveLength(2));
    fireEvent.change(select, { target: { value: "12" } });
    expect((await screen.findByTestId("sandbox-template-max")).textContent).toContain("7200 s (2 h)");
    fireEvent.input(screen.getByTestId("sandbox-timeout"), { target: { value: "7201" } });
    fireEvent.click(screen.getByTestId("sandbox-create"));
    expect((await screen.findByTestId("sandbox-form-problem")).textContent).toContain("at most 7200 seconds");
    expect(seen.some((r) => r.method === "POST")).toBe(false);
    // What was typed stays.
    expect((screen.getByTestId("sandbox-timeout") as HTMLInputElement).value).toBe("7201");
  });

  it("reads the status filter from the address", async () => {
    const { fetch, seen } = routedFetch({
      "GET /Prod/v1/sandboxes": emptyList,
      "GET /Prod/v1/templates": () => ok(TEMPLATES, 200, { limit: 1, has_more: false }),
    });
    renderWithSession(<SandboxesPage query={new URLSearchParams("status=killed")} />, fetch);
    await waitFor(() => expect(seen.some((r) => r.url.includes("/v1/sandboxes?"))).toBe(true));
    const list = seen.find((r) => new URL(r.url).pathname === "/Prod/v1/sandboxes");
    expect(new URL(list?.url ?? "").searchParams.get("status")).toBe("killed");
    expect((screen.getByTestId("sandbox-filter-status") as HTMLSelectElement).value).toBe("killed");
  });

  it("hides creation when the deployment has no template catalog (404/405)", async () => {
    const { fetch } = routedFetch({ "GET /Prod/v1/sandboxes": emptyList });
    renderWithSession(<SandboxesPage query={new URLSearchParams()} />, fetch);
    await screen.findByText("No sandboxes match.");
    await waitFor(() => expect(screen.queryByTestId("sandbox-form")).toBeNull());
  });

  it("checks timeouts as the API does", () => {
    expect(timeoutProblem("", TEMPLATES[0])).toBeNull();
    expect(timeoutProblem("7200", TEMPLATES[0])).toBeNull();
    expect(timeoutProblem("0", TEMPLATES[0])).toMatch(/at least 1/);
    expect(timeoutProblem("1.5", TEMPLATES[0])).toMatch(/whole number/);
    expect(timeoutProblem("60", undefined)).toMatch(/Choose a template/);
  });
});

describe("LinkQr", () => {
  it("shows the code from an object URL and revokes it when gone", async () => {
    const created: string[] = [];
    const revoked: string[] = [];
    vi.spyOn(URL, "createObjectURL").mockImplementation(() => {
      created.push(`blob:qr-${created.length}`);
      return created[created.length - 1] ?? "";
    });
    vi.spyOn(URL, "revokeObjectURL").mockImplementation((url) => void revoked.push(url));
    const { fetch, seen } = routedFetch({
      [`GET /Prod/short-link/${LINK.id}/qr`]: () =>
        new Response(new Uint8Array([137, 80, 78, 71]), {
          status: 200,
          headers: { "content-type": "image/png" },
        }),
      "GET /Prod/v1/files": emptyList,
    });
    const { unmount } = renderWithSession(<LinkQr link={LINK} />, fetch);
    const img = (await screen.findByTestId("qr-image")) as HTMLImageElement;
    expect(img.getAttribute("src")).toBe("blob:qr-0");
    const qr = seen.find((r) => r.url.includes("/qr"));
    expect(qr?.headers.get("x-api-key")).toBeTruthy();
    unmount();
    await waitFor(() => expect(revoked).toEqual(["blob:qr-0"]));
  });

  it("hides itself when the deployment has no QR route", async () => {
    const { fetch } = routedFetch({
      [`GET /Prod/short-link/${LINK.id}/qr`]: () => apiError(405, "METHOD_NOT_ALLOWED", "no", "req-405"),
      "GET /Prod/v1/files": emptyList,
    });
    renderWithSession(<LinkQr link={LINK} />, fetch);
    await waitFor(() => expect(screen.queryByTestId("qr-section")).toBeNull());
  });

  it("shows a refused option's error with its request id", async () => {
    const { fetch } = routedFetch({
      [`GET /Prod/short-link/${LINK.id}/qr`]: () =>
        apiError(400, "VALIDATION_FAILED", "logo: not a ready logo", "req-qr"),
      "GET /Prod/v1/files": emptyList,
    });
    renderWithSession(<LinkQr link={LINK} />, fetch, keyRecord({ permissions: { shortLinks: ["read"] } }));
    expect((await screen.findByTestId("error-request-id")).textContent).toBe("req-qr");
    expect(screen.getByTestId("qr-section")).toBeTruthy();
  });
});
