// The console's resource pages end to end, in a real Chromium against a running keyhive:
// sandboxes (create from a template, the ticking countdown, extend, kill), short links (create,
// a followed redirect on the stats chart, the CSV export, the QR code and its downloads), custom
// domains (the TXT record published in the local DNS server, verify, a link on it, a forced
// delete), webhooks (a local receiver, the secret shown once, a test event in the deliveries log,
// resend, rotation), files (an upload with progress, a link preview using it, the 409 on delete),
// the test-mode banner; axe-core on every page in light and dark with screenshots, each list at
// 375 px, and no console error or CSP violation anywhere. Everything it creates is removed, even
// when a step fails.
//
// CONSOLE_URL    the console page, e.g. http://127.0.0.1:4173/console/
// API_URL        the API base, e.g. http://127.0.0.1:9311
// ADMIN_KEY      a live key with every permission
// DNS_RECORDS    the local DNS server's JSON file: { "<name>": ["<TXT value>", ...] }
// CHROMIUM       the browser (default /usr/bin/chromium)
// SCREENSHOT_DIR where the screenshots go (default ../target/console-screenshots from console/)
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, harness, required, sleep } from "./lib.mjs";

const SCRIPT = "resources.e2e";
const consoleDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CONSOLE_URL = required("CONSOLE_URL", SCRIPT);
const API_URL = required("API_URL", SCRIPT).replace(/\/+$/, "");
const ADMIN_KEY = required("ADMIN_KEY", SCRIPT).trim();
const DNS_RECORDS = required("DNS_RECORDS", SCRIPT);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOT_DIR = resolve(consoleDir, process.env.SCREENSHOT_DIR || "../target/console-screenshots");
const BROWSER_UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

const h = harness({ consoleUrl: CONSOLE_URL, apiUrl: API_URL, screenshotDir: SCREENSHOT_DIR });
const { api, run, checkPage, goto, eventually } = h;
const runId = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
const today = new Date().toISOString().slice(0, 10);

/** Everything the run creates, removed in `finally`. */
const created = {
  sandboxes: new Set(),
  links: new Set(),
  domains: new Set(),
  webhooks: new Set(),
  files: new Set(),
  keys: new Set(),
  dnsNames: new Set(),
};

// --- helpers --------------------------------------------------------------------------------

/** A valid RGB PNG of `width` x `height`, a plain colour with a stripe (node:zlib, no library). */
function makePng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // no filter
    for (let x = 0; x < width; x++) {
      const stripe = Math.floor(y / 30) % 2 === 0;
      raw.set(stripe ? [11, 87, 194] : [255, 212, 59], row + 1 + x * 3);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Adds (or, with `value` null, removes) a TXT record in the DNS server's file, keeping the others. */
function setDnsRecord(name, value) {
  let records = {};
  try {
    records = JSON.parse(readFileSync(DNS_RECORDS, "utf8"));
  } catch {
    records = {};
  }
  if (value === null) delete records[name];
  else records[name] = [...(records[name] ?? []).filter((v) => v !== value), value];
  const scratch = `${DNS_RECORDS}.${runId}.tmp`;
  writeFileSync(scratch, JSON.stringify(records, null, 2));
  renameSync(scratch, DNS_RECORDS);
}

/** A webhook receiver on 127.0.0.1 (a random port) answering 200 and keeping what it got. */
async function startReceiver() {
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (c) => chunks.push(c));
    request.on("end", () => {
      received.push({
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        url: request.url,
      });
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("ok");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, received, port: server.address().port };
}

/** Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the decoded secret. */
function signature(secret, id, timestamp, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

async function download(page, click) {
  const [file] = await Promise.all([page.waitForEvent("download"), click()]);
  const path = await file.path();
  return { name: file.suggestedFilename(), bytes: readFileSync(path) };
}

async function noOverflow(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what}: the page is ${overflow}px wider than the viewport`);
}

async function confirm(page, mustSay) {
  const dialog = page.getByTestId("confirm-dialog");
  await dialog.waitFor();
  if (mustSay) assert.match(await dialog.textContent(), mustSay);
  await page.getByTestId("confirm-ok").click();
}

async function createLinkInConsole(page, fields) {
  await goto(page, "#/links");
  await page.getByTestId("links-table").waitFor();
  await page.locator('[data-testid="link-create"] > summary').click();
  await page.getByTestId("link-destination").fill(fields.destination);
  if (fields.slug) await page.getByTestId("link-slug").fill(fields.slug);
  if (fields.domain) await page.getByTestId("link-domain").selectOption(fields.domain);
  if (fields.previewTitle) await page.getByTestId("link-previewTitle").fill(fields.previewTitle);
  if (fields.previewImage) await page.getByTestId("link-previewImage").fill(fields.previewImage);
  await page.getByTestId("link-submit").click();
  const row = page.locator(".link-row", { hasText: fields.slug });
  await row.first().waitFor();
  const id = (await row.first().getAttribute("data-testid")).replace("link-row-", "");
  created.links.add(id);
  return id;
}

// --- the run --------------------------------------------------------------------------------

mkdirSync(SCREENSHOT_DIR, { recursive: true });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
const { page } = await h.newPage(browser, "main");
let receiver = null;
const state = {
  sandboxId: "",
  linkId: "",
  shortUrl: "",
  host: "",
  webhookId: "",
  fileId: "",
  previewLinkId: "",
};

try {
  await run(
    "sign in with the live admin key: every resource page is in the nav, no test-mode banner",
    async () => {
      await h.signIn(page, ADMIN_KEY);
      for (const nav of ["nav-sandboxes", "nav-links", "nav-domains", "nav-webhooks", "nav-files"])
        await page.getByTestId(nav).waitFor();
      assert.equal(await page.getByTestId("test-mode-banner").count(), 0, "no banner for a live key");
    },
  );

  await run(
    "sandboxes: create from a template, a ticking countdown, extend, kill with confirmation",
    async () => {
      await goto(page, "#/sandboxes");
      await page.getByTestId("sandboxes-table").waitFor();
      const template = page.getByTestId("sandbox-template");
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid="sandbox-template"] option').length > 1,
      );
      await template.selectOption("12");
      const max = await page.getByTestId("sandbox-template-max").textContent();
      assert.match(max, /^7200 s/, "the form shows the template's limit");
      // Over the template's limit: refused by the form, before any request.
      await page.getByTestId("sandbox-timeout").fill("7201");
      await page.getByTestId("sandbox-create").click();
      assert.match(await page.getByTestId("sandbox-form-problem").textContent(), /at most 7200 seconds/);
      await page.getByTestId("sandbox-timeout").fill("600");
      await page.getByTestId("sandbox-create").click();
      const status = page.getByTestId("sandboxes-status");
      await status.getByText(/is running/).waitFor();
      state.sandboxId = /sbx_[A-Za-z0-9]+/.exec(await status.textContent())[0];
      created.sandboxes.add(state.sandboxId);
      const row = page.getByTestId(`sandbox-row-${state.sandboxId}`);
      await row.waitFor();
      const countdown = row.getByTestId("sandbox-countdown");
      const first = await countdown.textContent();
      assert.match(first, /^(10 min 00 s|9 min \d\d s)$/, `countdown reads ${first}`);
      await sleep(2200);
      const second = await countdown.textContent();
      assert.notEqual(second, first, "the countdown ticks");
      assert.equal(await countdown.getAttribute("role"), "timer");
      await checkPage(page, "sandboxes");

      await page.getByTestId(`sandbox-extend-${state.sandboxId}`).click();
      await page.getByTestId("extend-dialog").waitFor();
      await page.getByTestId("extend-seconds").fill("7200");
      await page.getByTestId("extend-submit").click();
      await page.getByTestId("extend-dialog").waitFor({ state: "detached" });
      assert.match(await countdown.textContent(), /^1 h 59 min \d\d s$|^2 h 00 min 00 s$/, "extended to 2 h");
      const extended = await api(`/v1/sandboxes/${state.sandboxId}`, ADMIN_KEY);
      assert.equal(extended.body.data.timeout_seconds, 7200);

      await page.getByTestId(`sandbox-kill-${state.sandboxId}`).click();
      await confirm(page, /cannot be started again/);
      await row.getByTestId("sandbox-status").getByText("killed").waitFor();
      const killed = await api(`/v1/sandboxes/${state.sandboxId}`, ADMIN_KEY);
      assert.equal(killed.body.data.status, "killed");
      await goto(page, "#/sandboxes?status=running");
      await page.getByTestId("sandboxes-table").waitFor();
      await page
        .getByText(/sandboxes? shown|No sandboxes match/)
        .first()
        .waitFor();
      assert.equal(await page.getByTestId(`sandbox-row-${state.sandboxId}`).count(), 0, "not among running");
      assert.equal(await page.getByTestId("sandbox-filter-status").inputValue(), "running");
    },
  );

  await run("links: create one, follow it (302), see the click on the stats chart, export CSV", async () => {
    const slug = `e2e-${runId}`;
    state.linkId = await createLinkInConsole(page, { destination: `https://example.com/e2e/${runId}`, slug });
    const row = page.getByTestId(`link-row-${state.linkId}`);
    state.shortUrl = await row.getByTestId("link-short-url").getAttribute("href");
    assert.ok(state.shortUrl.endsWith(`/${slug}`), `short URL ${state.shortUrl}`);
    await checkPage(page, "links");

    const redirect = await fetch(state.shortUrl, {
      redirect: "manual",
      headers: { "User-Agent": BROWSER_UA },
    });
    assert.equal(redirect.status, 302, "the short URL redirects");
    assert.equal(redirect.headers.get("location"), `https://example.com/e2e/${runId}`);

    await goto(page, `#/links/${state.linkId}/stats`);
    await eventually("the click shows on the stats page", async () => {
      await page.getByTestId("stats-reload").click();
      await page.getByTestId("stats-clicks").waitFor();
      await sleep(300);
      return Number(await page.getByTestId("stats-clicks").textContent()) >= 1;
    });
    assert.equal(await page.getByTestId("clicks-clicks").textContent(), "1", "the chart's legend counts it");
    const todayRow = page.locator('[data-testid="clicks-table"] tr', {
      has: page.locator(`time[datetime="${today}"]`),
    });
    assert.equal(
      await todayRow
        .locator("td")
        .first()
        .textContent({ timeout: 2000 })
        .catch(() => null),
      "1",
    );
    assert.match(
      await page.locator('[data-testid="clicks-figure"] svg title').textContent(),
      /1 clicks, 0 bot clicks/,
    );
    await checkPage(page, "link-stats");

    const csv = await download(page, () => page.getByTestId("stats-export").click());
    assert.match(csv.name, new RegExp(`^${slug}-clicks-\\d{4}-\\d{2}-\\d{2}-to-${today}\\.csv$`));
    const text = csv.bytes.toString("utf8");
    const lines = text.split("\r\n");
    assert.equal(lines[0], "kind,key,clicks,bot_clicks");
    assert.ok(lines.includes(`day,${today},1,0`), `the CSV has today's click:\n${text}`);
    assert.equal(lines.filter((l) => l.startsWith("day,")).length, 30, "one line per day of the range");
    assert.ok(lines.some((l) => l.startsWith("total,") && l.endsWith(",1,0")));

    // A range in the address is what the page asks for.
    await goto(page, `#/links/${state.linkId}/stats?from=${today}&to=${today}`);
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="clicks-table"] tbody tr').length === 1,
    );
    assert.equal(await page.getByTestId("stats-from").inputValue(), today);
    assert.equal(await page.getByTestId("stats-clicks").textContent(), "1");
  });

  await run("links: the QR code renders from a blob, downloads as PNG and SVG", async () => {
    await goto(page, `#/links/${state.linkId}/qr`);
    const img = page.getByTestId("qr-image");
    await img.waitFor();
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="qr-image"]');
      return el && el.complete && el.naturalWidth > 0;
    });
    assert.match(await img.getAttribute("src"), /^blob:/, "shown from an object URL");
    const natural = await img.evaluate((el) => el.naturalWidth);
    assert.ok(natural >= 600, `the default code is 600 px (got ${natural})`);
    await page.getByTestId("qr-size").fill("256");
    await page.getByTestId("qr-fg").fill("#0b57c2");
    await page.getByTestId("qr-apply").click();
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="qr-image"]');
      return el && el.complete && el.naturalWidth > 0 && el.naturalWidth < 600;
    });
    await checkPage(page, "link-qr");
    const png = await download(page, () => page.getByTestId("qr-download-png").click());
    assert.equal(png.name, `e2e-${runId}-qr.png`);
    assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const svg = await download(page, () => page.getByTestId("qr-download-svg").click());
    assert.equal(svg.name, `e2e-${runId}-qr.svg`);
    const svgText = svg.bytes.toString("utf8");
    assert.match(svgText, /^<svg[^>]*width="256"/, "the SVG has the chosen size");
    assert.match(svgText, /fill="#0b57c2"/i, "and the chosen colour");
  });

  await run(
    "domains: add one, publish its TXT record, verify it, a link on it, delete it with force",
    async () => {
      state.host = `e2e-${runId}.example.com`;
      await goto(page, "#/domains");
      await page.getByTestId("domains-table").waitFor();
      await page.getByTestId("domain-hostname").fill(state.host);
      await page.getByTestId("domain-submit").click();
      const row = page.locator('tr[data-testid^="domain-row-"]', { hasText: state.host });
      await row.waitFor();
      const domainId = (await row.getAttribute("data-testid")).replace("domain-row-", "");
      created.domains.add(domainId);
      const name = await row.getByTestId("domain-txt-name").textContent();
      const value = await row.getByTestId("domain-txt-value").textContent();
      assert.equal(name, `_keyhive.${state.host}`);
      assert.match(value, /^keyhive-verification=[A-Za-z0-9]{32}$/);
      assert.equal(await row.getAttribute("data-verified"), "false");

      created.dnsNames.add(name);
      setDnsRecord(name, value);
      await page.getByTestId(`domain-verify-${domainId}`).click();
      await page.locator(`[data-testid="domain-row-${domainId}"][data-verified="true"]`).waitFor();
      assert.match(await row.getByTestId("domain-seen").textContent(), new RegExp(`${value} \\(matches\\)`));
      assert.equal(await row.getByTestId("domain-state").textContent(), "verified");
      await checkPage(page, "domains");

      const onDomain = await createLinkInConsole(page, {
        destination: `https://example.com/domain/${runId}`,
        slug: `e2e-dom-${runId}`,
        domain: state.host,
      });
      const link = await api(`/short-link/${onDomain}`, ADMIN_KEY);
      assert.equal(link.body.data.domain, state.host, "the link lives on the domain");

      await goto(page, "#/domains");
      await page.getByTestId(`domain-delete-${domainId}`).click();
      await page.getByTestId("confirm-dialog").waitFor();
      assert.match(await page.getByTestId("confirm-dialog").textContent(), /1 link uses it/);
      assert.match(
        await page.getByTestId("confirm-dialog").textContent(),
        /also delete every link on this domain/,
      );
      await page.getByTestId("domain-force").check();
      await confirm(page);
      await page.getByTestId(`domain-row-${domainId}`).waitFor({ state: "detached" });
      assert.equal((await api(`/domains/${domainId}`, ADMIN_KEY)).status, 404, "the domain is gone");
      assert.equal((await api(`/short-link/${onDomain}`, ADMIN_KEY)).status, 404, "so is its link");
      created.domains.delete(domainId);
      created.links.delete(onDomain);
    },
  );

  await run("webhooks: an endpoint for a local receiver, a test event, resend, rotate, delete", async () => {
    receiver = await startReceiver();
    await goto(page, "#/webhooks");
    await page.getByTestId("webhooks-table").waitFor();
    await checkPage(page, "webhooks");
    await page.getByTestId("webhook-url").fill(`http://127.0.0.1:${receiver.port}/hooks/${runId}`);
    await page.getByTestId("webhook-description").fill(`e2e ${runId}`);
    await page.getByTestId("webhook-events-some").check();
    await page.getByTestId("event-link.created").check();
    await page.getByTestId("event-key.created").check();
    await page.getByTestId("webhook-submit").click();
    await page.getByTestId("secret-dialog").waitFor();
    const secret = await page.getByTestId("secret-value").inputValue();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/, "the signing secret is shown");
    await page.getByTestId("secret-close").click();
    await page.waitForURL(/#\/webhooks\/whk_[A-Za-z0-9]{20}$/);
    state.webhookId = /whk_[A-Za-z0-9]{20}/.exec(page.url())[0];
    created.webhooks.add(state.webhookId);
    assert.equal(
      await page.evaluate((s) => document.documentElement.outerHTML.includes(s), secret),
      false,
      "the secret is gone from the page",
    );
    const stored = await api(`/v1/webhooks/${state.webhookId}`, ADMIN_KEY);
    assert.deepEqual(stored.body.data.events, ["key.created", "link.created"]);

    await page.getByTestId("webhook-test").click();
    await page
      .getByTestId("webhook-status")
      .getByText(/Test event queued/)
      .waitFor();
    const testRow = page.locator(
      '[data-testid="delivery-row"][data-event-type="webhook.test"][data-status-code="200"]',
    );
    await eventually("the test delivery shows in the log", async () => {
      await page.getByTestId("deliveries-reload").click();
      await sleep(400);
      return (await testRow.count()) > 0;
    });
    const deliveryId = await testRow.first().getAttribute("data-delivery-id");
    await eventually("the receiver got the test event", async () => receiver.received.length > 0, 5000, 200);
    const got = receiver.received[0];
    assert.equal(got.headers["webhook-id"], deliveryId);
    assert.equal(JSON.parse(got.body).type, "webhook.test");
    assert.ok(
      got.headers["webhook-signature"]
        .split(" ")
        .includes(signature(secret, got.headers["webhook-id"], got.headers["webhook-timestamp"], got.body)),
      "signed with the secret the console showed",
    );

    await testRow.first().getByTestId("delivery-resend").click();
    await page
      .getByTestId("webhook-status")
      .getByText(/is due again now/)
      .waitFor();
    await eventually("a second attempt of the delivery shows", async () => {
      await page.getByTestId("deliveries-reload").click();
      await sleep(400);
      return (
        (await page.locator(`[data-testid="delivery-row"][data-delivery-id="${deliveryId}"]`).count()) >= 2
      );
    });
    await eventually("the receiver got it again", async () => receiver.received.length >= 2, 5000, 200);
    assert.equal(receiver.received[1].headers["webhook-id"], deliveryId, "the same webhook-id");
    await checkPage(page, "webhook-deliveries");

    await page.getByTestId("webhook-rotate").click();
    // Rotation is asked first: nothing is rotated until the operator confirms.
    await confirm(page, /old secret keeps verifying until/);
    await page.getByTestId("confirm-dialog").waitFor({ state: "detached" });
    await page.getByTestId("secret-dialog").waitFor();
    const rotated = await page.getByTestId("secret-value").inputValue();
    assert.match(rotated, /^whsec_/);
    assert.notEqual(rotated, secret);
    assert.match(await page.getByTestId("secret-note").textContent(), /old secret still verifies until/);
    await page.getByTestId("secret-close").click();
    await page.getByTestId("secret-dialog").waitFor({ state: "detached" });
    assert.match(await page.getByTestId("webhook-status").textContent(), /old one still verifies until/);

    await page.getByTestId("webhook-delete").click();
    await confirm(page, /receives nothing more/);
    await page.getByTestId("flash").waitFor();
    assert.equal((await api(`/v1/webhooks/${state.webhookId}`, ADMIN_KEY)).status, 404);
    created.webhooks.delete(state.webhookId);
  });

  await run(
    "files: upload a PNG with progress to ready, use it as a preview image, 409 on delete",
    async () => {
      await goto(page, "#/files");
      await page.getByTestId("files-table").waitFor();
      await page.getByTestId("upload-purpose").selectOption("social_image");
      const png = makePng(1200, 630);
      await page
        .getByTestId("upload-input")
        .setInputFiles({ name: "card.png", mimeType: "image/png", buffer: png });
      await page.getByTestId("upload-submit").click();
      await page
        .locator('[data-testid="upload-status"][data-phase="ready"]')
        .waitFor({ timeout: 30_000 })
        .catch(async () => {
          const status = await page
            .getByTestId("upload-status")
            .textContent()
            .catch(() => "(none)");
          const alert = await page.getByTestId("error-alert").allTextContents();
          assert.fail(`the upload did not become ready: ${status} ${alert.join(" | ")}`);
        });
      assert.equal(await page.getByTestId("upload-percent").textContent(), "100%");
      assert.equal(await page.getByTestId("upload-progress").getAttribute("value"), "100");
      state.fileId = await page.getByTestId("upload-file-id").textContent();
      created.files.add(state.fileId);
      assert.match(await page.getByTestId("upload-status").textContent(), /1200×630/);
      const row = page.getByTestId(`file-row-${state.fileId}`);
      await row.waitFor();
      assert.equal(await row.getByTestId("file-status").textContent(), "ready");
      await checkPage(page, "files");

      state.previewLinkId = await createLinkInConsole(page, {
        destination: `https://example.com/preview/${runId}`,
        slug: `e2e-card-${runId}`,
        previewTitle: "E2E card",
        previewImage: state.fileId,
      });
      const link = await api(`/short-link/${state.previewLinkId}`, ADMIN_KEY);
      assert.equal(link.body.data.preview.image, state.fileId, "the preview shows the file");

      await goto(page, "#/files");
      await page.getByTestId(`file-delete-${state.fileId}`).click();
      await confirm(page);
      const refused = page.getByTestId("file-delete-error");
      await refused.waitFor();
      assert.match(await refused.textContent(), /409 CONFLICT/);
      assert.match(await refused.getByTestId("error-request-id").textContent(), /^[A-Za-z0-9-]{1,128}$/);

      await goto(page, `#/links/${state.previewLinkId}`);
      await page.getByTestId("link-delete").click();
      await confirm(page, /will answer 404/);
      await page.getByTestId("flash").waitFor();
      created.links.delete(state.previewLinkId);
      await goto(page, "#/files");
      await page.getByTestId(`file-delete-${state.fileId}`).click();
      await confirm(page);
      await page.getByTestId(`file-row-${state.fileId}`).waitFor({ state: "detached" });
      assert.equal((await api(`/v1/files/${state.fileId}`, ADMIN_KEY)).status, 404);
      created.files.delete(state.fileId);
    },
  );

  await run("test mode: a test key sees the banner on every page; the live key on none", async () => {
    const all = ["create", "read", "update", "delete"];
    const made = await api("/v1/keys", ADMIN_KEY, {
      method: "POST",
      body: JSON.stringify({
        name: `e2e test-mode ${runId}`,
        type: "bot",
        environment: "test",
        permissions: Object.fromEntries(
          [
            "sandboxes",
            "shortLinks",
            "domains",
            "stats",
            "files",
            "apiKeys",
            "webhooks",
            "members",
            "audit",
          ].map((r) => [r, all]),
        ),
      }),
    });
    assert.equal(made.status, 201, `test key: ${JSON.stringify(made.body)}`);
    created.keys.add(made.body.data.id);
    const testKey = made.body.data.key;
    assert.match(testKey, /_test_/);

    const second = await h.newPage(browser, "test-mode");
    await h.signIn(second.page, testKey);
    const pages = ["keys", "sandboxes", "links", "domains", "webhooks", "files", "members", "audit"];
    for (const path of pages) {
      await goto(second.page, `#/${path}`);
      await second.page.locator("main h1").first().waitFor();
      const banner = second.page.getByTestId("test-mode-banner");
      await banner.waitFor();
      assert.equal(await banner.getAttribute("role"), "status", `banner on ${path}`);
      assert.equal(await banner.textContent(), "Test mode: you are seeing test data");
    }
    await goto(second.page, "#/sandboxes");
    await second.page.getByTestId("sandboxes-table").waitFor();
    await checkPage(second.page, "test-mode");
    await second.context.close();

    for (const path of pages) {
      await goto(page, `#/${path}`);
      await page.locator("main h1").first().waitFor();
      assert.equal(
        await page.getByTestId("test-mode-banner").count(),
        0,
        `no banner on ${path} for the live key`,
      );
    }
  });

  await run("at 375 px no list page overflows sideways", async () => {
    // One row in each list, with long values, so the cards are measured with content.
    const long = `https://example.com/${"very-long-path-segment/".repeat(6)}?utm_source=${runId}`;
    const made = await Promise.all([
      api("/v1/sandboxes", ADMIN_KEY, {
        method: "POST",
        body: JSON.stringify({ template_id: "12", timeout_seconds: 600 }),
      }),
      api("/short-link", ADMIN_KEY, {
        method: "POST",
        body: JSON.stringify({ destination: { type: "link", value: long }, slug: `e2e-narrow-${runId}` }),
      }),
      api("/domains", ADMIN_KEY, {
        method: "POST",
        body: JSON.stringify({ hostname: `e2e-narrow-${runId}.sub.example.com` }),
      }),
      api("/v1/webhooks", ADMIN_KEY, {
        method: "POST",
        body: JSON.stringify({
          url: `http://127.0.0.1:${receiver?.port ?? 8080}/${"hook/".repeat(8)}`,
          events: ["*"],
        }),
      }),
      api("/v1/files", ADMIN_KEY, {
        method: "POST",
        body: JSON.stringify({ purpose: "logo", content_type: "image/png", size_bytes: 100 }),
      }),
    ]);
    for (const [i, set] of [
      created.sandboxes,
      created.links,
      created.domains,
      created.webhooks,
      created.files,
    ].entries()) {
      assert.equal(made[i].status, 201, `setup for 375 px: ${JSON.stringify(made[i].body)}`);
      set.add(made[i].body.data.id);
    }
    const narrow = await h.newPage(browser, "narrow", { viewport: { width: 375, height: 800 } });
    await h.signIn(narrow.page, ADMIN_KEY);
    for (const [path, table] of [
      ["sandboxes", "sandboxes-table"],
      ["links", "links-table"],
      ["domains", "domains-table"],
      ["webhooks", "webhooks-table"],
      ["files", "files-table"],
    ]) {
      await goto(narrow.page, `#/${path}`);
      await narrow.page
        .getByTestId(table)
        .waitFor({ state: "attached" })
        .catch(async (error) => {
          await narrow.page.screenshot({
            path: join(SCREENSHOT_DIR, "resources-failure-375.png"),
            fullPage: true,
          });
          throw error;
        });
      await narrow.page.locator(".pager p[role=status]").first().waitFor();
      await sleep(300);
      await noOverflow(narrow.page, path);
    }
    await narrow.context.close();
  });
} catch (error) {
  console.log(`not ok ${h.status.passed + 1} - ${h.status.step}`);
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  if (h.problems.length > 0) console.error(h.problems.join("\n"));
  await page
    .screenshot({ path: join(SCREENSHOT_DIR, "resources-failure.png"), fullPage: true })
    .catch(() => undefined);
  process.exitCode = 1;
} finally {
  // Leave nothing behind, whatever step stopped the run.
  const quiet = (p) => p.catch(() => undefined);
  for (const id of created.webhooks) await quiet(api(`/v1/webhooks/${id}`, ADMIN_KEY, { method: "DELETE" }));
  for (const id of created.links) await quiet(api(`/short-link/${id}`, ADMIN_KEY, { method: "DELETE" }));
  for (const id of created.domains)
    await quiet(api(`/domains/${id}?force=true`, ADMIN_KEY, { method: "DELETE" }));
  for (const id of created.files) await quiet(api(`/v1/files/${id}`, ADMIN_KEY, { method: "DELETE" }));
  for (const id of created.sandboxes)
    await quiet(api(`/v1/sandboxes/${id}`, ADMIN_KEY, { method: "DELETE" }));
  for (const id of created.keys) await quiet(api(`/v1/keys/${id}`, ADMIN_KEY, { method: "DELETE" }));
  for (const name of created.dnsNames) {
    try {
      setDnsRecord(name, null);
    } catch {
      // The DNS file went away with its stack: nothing to remove.
    }
  }
  receiver?.server.close();
  await browser.close();
}
if (!process.exitCode)
  console.log(`# resources e2e: ${h.status.passed} steps passed; screenshots in ${SCREENSHOT_DIR}`);
