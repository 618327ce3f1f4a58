import { act, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Countdown } from "../components/Countdown";
import { TestModeBanner } from "../components/TestModeBanner";
import { apiError, keyRecord, ok, renderWithSession, routedFetch, webhookRecord } from "../test/session";
import { DomainsPage } from "./DomainsPage";
import { draftOf, draftProblem, LinkForm } from "./LinkForm";
import { LinkPage } from "./LinkPage";
import { LinkQr } from "./LinkQr";
import { SandboxesPage, timeoutProblem } from "./SandboxesPage";
import { WebhookPage } from "./WebhookPage";

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

describe("the QR answer's type", () => {
  const qrRoute = (body: BodyInit, type: string) => () =>
    new Response(body, { status: 200, headers: { "content-type": type, "x-request-id": "req-qr-type" } });

  it("shows only a PNG or SVG answer, re-wrapped with exactly that type", async () => {
    const blobs: Blob[] = [];
    vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => {
      blobs.push(blob as Blob);
      return "blob:qr";
    });
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => undefined);
    const { fetch } = routedFetch({
      [`GET /Prod/short-link/${LINK.id}/qr`]: qrRoute("<svg/>", "image/svg+xml; charset=utf-8"),
      "GET /Prod/v1/files": emptyList,
    });
    renderWithSession(<LinkQr link={LINK} />, fetch);
    await screen.findByTestId("qr-image");
    expect(blobs[0]?.type).toBe("image/svg+xml");
  });

  it.each(["text/html", "image/svg", "application/octet-stream", ""])(
    "refuses an answer of type %j, with the request id",
    async (type) => {
      const created = vi.spyOn(URL, "createObjectURL").mockImplementation(() => "blob:qr");
      const { fetch } = routedFetch({
        [`GET /Prod/short-link/${LINK.id}/qr`]: () =>
          new Response("<script>alert(1)</script>", {
            status: 200,
            headers: type
              ? { "content-type": type, "x-request-id": "req-qr-type" }
              : { "x-request-id": "req-qr-type" },
          }),
        "GET /Prod/v1/files": emptyList,
      });
      renderWithSession(<LinkQr link={LINK} />, fetch);
      expect((await screen.findByTestId("error-request-id")).textContent).toBe("req-qr-type");
      expect(screen.getByTestId("error-alert").textContent).toMatch(/not image\/png or image\/svg\+xml/);
      expect(screen.queryByTestId("qr-image")).toBeNull();
      expect(created).not.toHaveBeenCalled();
    },
  );

  it("refuses a download of another type than asked", async () => {
    vi.spyOn(URL, "createObjectURL").mockImplementation(() => "blob:qr");
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => undefined);
    const { fetch } = routedFetch({
      [`GET /Prod/short-link/${LINK.id}/qr`]: qrRoute(new Uint8Array([137, 80, 78, 71]), "image/png"),
      "GET /Prod/v1/files": emptyList,
    });
    renderWithSession(<LinkQr link={LINK} />, fetch);
    await screen.findByTestId("qr-image");
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => undefined);
    fireEvent.click(screen.getByTestId("qr-download-svg"));
    expect((await screen.findByTestId("error-alert")).textContent).toMatch(/not image\/svg\+xml/);
    expect(click).not.toHaveBeenCalled();
  });
});

describe("links from API data", () => {
  it("makes no link of a short URL or destination that is not http(s)", async () => {
    const hostile = {
      ...LINK,
      short_url: "javascript:alert(document.cookie)",
      destination: { type: "link" as const, value: "data:text/html,<script>alert(1)</script>" },
    };
    const { fetch } = routedFetch({
      [`GET /Prod/short-link/${LINK.id}`]: () => ok(hostile),
      "GET /Prod/v1/files": emptyList,
    });
    renderWithSession(<LinkPage id={LINK.id} />, fetch, keyRecord({ permissions: { shortLinks: ["read"] } }));
    const short = await screen.findByTestId("link-short-url");
    expect(short.tagName).toBe("SPAN");
    expect(short.textContent).toBe(hostile.short_url);
    expect(screen.getByTestId("link-destination").tagName).toBe("SPAN");
    expect(document.querySelector('a[href^="javascript"], a[href^="data"]')).toBeNull();
  });

  it("links an http(s) one, in a new tab without an opener", async () => {
    const { fetch } = routedFetch({
      [`GET /Prod/short-link/${LINK.id}`]: () => ok(LINK),
      "GET /Prod/v1/files": emptyList,
    });
    renderWithSession(<LinkPage id={LINK.id} />, fetch, keyRecord({ permissions: { shortLinks: ["read"] } }));
    const short = await screen.findByTestId("link-short-url");
    expect(short.getAttribute("href")).toBe(LINK.short_url);
    expect(short.getAttribute("rel")).toBe("noopener noreferrer");
    expect(screen.getByTestId("link-destination").getAttribute("href")).toBe(LINK.destination.value);
  });
});

const DOMAIN = {
  id: "dom_P4sL8vQ2nX6kR1tY9bWe",
  hostname: "go.example.com",
  verified: false,
  verification: {
    type: "TXT" as const,
    name: "_keyhive.go.example.com",
    value: "keyhive-verification=Xk29fLq7Rz0bNw3YtV8mC1pJd6sHe4Ga",
  },
  links: 0,
  created_at: "2026-11-23T10:30:00Z",
  verified_at: null,
};
const DOMAIN_KEY = keyRecord({
  permissions: { domains: ["read", "update", "delete"], shortLinks: ["delete"] },
});

describe("Domains", () => {
  it("shows seen TXT values escaped, cut, each its own item, and matching as the API trims", async () => {
    const expected = DOMAIN.verification.value;
    const seenValues = [
      `  ${expected}\t`,
      `${expected}\u200B`,
      `\u202E${expected}`,
      "spoof",
      "spoof",
      "y".repeat(1000),
    ];
    const { fetch } = routedFetch({
      "GET /Prod/domains": () => ok([DOMAIN], 200, { limit: 50, has_more: false, next_cursor: null }),
      [`POST /Prod/domains/${DOMAIN.id}/verify`]: () => ok({ ...DOMAIN, seen: seenValues }),
    });
    renderWithSession(<DomainsPage />, fetch, DOMAIN_KEY);
    fireEvent.click(await screen.findByTestId(`domain-verify-${DOMAIN.id}`));
    await screen.findByTestId("domain-seen");
    const items = screen.getAllByTestId("domain-seen-value").map((li) => li.textContent ?? "");
    expect(items).toHaveLength(6);
    expect(items[0]).toBe(`  ${expected}\\u{0009} (matches)`);
    expect(items[1]).toBe(`${expected}\\u{200B}`);
    expect(items[2]).toBe(`\\u{202E}${expected}`);
    expect(items[3]).toBe("spoof");
    expect(items[4]).toBe("spoof");
    expect(items[5]).toBe(`${"y".repeat(200)}… (cut: 1000 characters in all)`);
    expect(screen.getByTestId("domain-seen").textContent).not.toMatch(/[\u200B\u202E]/);
  });

  it("says how many links a forced deletion took from the answer, not the list's stale count", async () => {
    const { fetch, seen } = routedFetch({
      "GET /Prod/domains": () =>
        ok([{ ...DOMAIN, verified: true, links: 1 }], 200, { limit: 50, has_more: false, next_cursor: null }),
      [`DELETE /Prod/domains/${DOMAIN.id}`]: () => ok({ ...DOMAIN, verified: true, links: 3 }),
    });
    renderWithSession(<DomainsPage />, fetch, DOMAIN_KEY);
    fireEvent.click(await screen.findByTestId(`domain-delete-${DOMAIN.id}`));
    fireEvent.click(screen.getByTestId("domain-force"));
    fireEvent.click(screen.getByTestId("confirm-ok"));
    await waitFor(() =>
      expect(screen.getByTestId("domains-status").textContent).toBe(
        "Deleted go.example.com and its 3 links.",
      ),
    );
    const del = seen.find((r) => r.method === "DELETE");
    expect(new URL(del?.url ?? "").searchParams.get("force")).toBe("true");
  });
});

describe("Sandbox creation's notice", () => {
  it("says the status the answer gives", async () => {
    const { fetch } = routedFetch({
      "GET /Prod/v1/sandboxes": emptyList,
      "GET /Prod/v1/templates": () => ok(TEMPLATES, 200, { limit: 1, has_more: false }),
      "POST /Prod/v1/sandboxes": () =>
        ok(
          {
            id: "sbx_Q1w2E3r4",
            template_id: "12",
            status: "expired",
            created_at: "2026-12-06T10:00:00Z",
            expires_at: "2026-12-06T10:00:01Z",
            timeout_seconds: 1,
          },
          201,
        ),
    });
    renderWithSession(<SandboxesPage query={new URLSearchParams()} />, fetch);
    const select = (await screen.findByTestId("sandbox-template")) as HTMLSelectElement;
    await waitFor(() => expect(select.options).toHaveLength(2));
    fireEvent.change(select, { target: { value: "12" } });
    fireEvent.click(screen.getByTestId("sandbox-create"));
    await waitFor(() =>
      expect(screen.getByTestId("sandboxes-status").textContent).toBe("Sandbox sbx_Q1w2E3r4 is expired."),
    );
  });
});

describe("editing an expired link", () => {
  const expired = { ...LINK, title: "Old", expires_at: "2020-01-01T00:00:00Z" };

  it("sends only the changed title, leaving the past expiry alone", async () => {
    let body: unknown;
    const { fetch } = routedFetch({
      [`PATCH /Prod/short-link/${LINK.id}`]: async (request) => {
        body = await request.json();
        return ok({ ...expired, title: "New" });
      },
    });
    const saved = vi.fn();
    renderWithSession(<LinkForm link={expired} onSaved={saved} />, fetch);
    fireEvent.input(screen.getByTestId("edit-link-title"), { target: { value: "New" } });
    fireEvent.click(screen.getByTestId("edit-link-submit"));
    await waitFor(() => expect(saved).toHaveBeenCalled());
    expect(body).toEqual({ title: "New" });
    expect(screen.queryByTestId("edit-link-problem")).toBeNull();
  });

  it("still refuses a changed expiry in the past", () => {
    const initial = draftOf(expired);
    expect(draftProblem({ ...initial, title: "New" }, initial)).toBeNull();
    expect(draftProblem({ ...initial, expires: "2021-01-01T00:00" }, initial)).toMatch(/in the future/);
    // A new link's past expiry is refused as before.
    expect(draftProblem({ ...initial, slug: "" })).toMatch(/in the future/);
  });
});

const HOOK = webhookRecord();

describe("webhook secret rotation", () => {
  it("rotates only once confirmed, saying how long the old secret keeps verifying", async () => {
    const { fetch, seen } = routedFetch({
      [`GET /Prod/v1/webhooks/${HOOK.id}`]: () => ok(HOOK),
      [`GET /Prod/v1/webhooks/${HOOK.id}/deliveries`]: emptyList,
      [`POST /Prod/v1/webhooks/${HOOK.id}/rotate-secret`]: () =>
        ok({
          ...HOOK,
          secret: "whsec_bmV3c2VjcmV0bmV3c2VjcmV0bmV3c2VjcmV0bmV3c2U=",
          previous_secret_valid_until: "2026-11-24T10:30:00Z",
        }),
    });
    const rotations = () => seen.filter((r) => r.url.endsWith("/rotate-secret")).length;
    renderWithSession(
      <WebhookPage id={HOOK.id} />,
      fetch,
      keyRecord({ permissions: { webhooks: ["read", "update"] } }),
    );
    fireEvent.click(await screen.findByTestId("webhook-rotate"));
    expect(screen.getByTestId("confirm-dialog").textContent).toMatch(
      /old secret keeps verifying until .*24 hours from now/,
    );
    fireEvent.click(screen.getByTestId("confirm-cancel"));
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(rotations()).toBe(0);

    fireEvent.click(screen.getByTestId("webhook-rotate"));
    fireEvent.click(screen.getByTestId("confirm-ok"));
    expect(((await screen.findByTestId("secret-value")) as HTMLInputElement).value).toMatch(/^whsec_/);
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(rotations()).toBe(1);
  });
});
