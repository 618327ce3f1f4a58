// make bench: Lighthouse's accessibility and best-practices scores for each page of the console,
// in Debian's Chromium, against a running stack. Each page is a full navigation (the key stays in
// the tab's session storage between them, as for an operator).
//
// Env: CONSOLE_URL (http://127.0.0.1:<port>/console), API_URL (its API base), ADMIN_KEY,
// CHROMIUM (/usr/bin/chromium), OUT (the JSON file to write).
import { writeFileSync } from "node:fs";
import { navigation } from "lighthouse";
import puppeteer from "puppeteer-core";

const consoleUrl = required("CONSOLE_URL");
const apiUrl = required("API_URL");
const adminKey = required("ADMIN_KEY");
const out = required("OUT");

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// The admin key's own id: the key page to audit.
const self = await fetch(`${apiUrl}/v1/keys/self`, { headers: { "X-API-Key": adminKey } }).then((r) => r.json());
const keyId = self?.data?.id;
if (!keyId) throw new Error(`GET /v1/keys/self answered ${JSON.stringify(self)}`);

// A link to show the stats and QR pages of (deleted at the end).
const headers = { "X-API-Key": adminKey, "content-type": "application/json" };
const created = await fetch(`${apiUrl}/short-link`, {
  method: "POST",
  headers,
  body: JSON.stringify({ destination: { type: "link", value: "https://example.com/bench" }, title: "Bench" }),
}).then((r) => r.json());
const linkId = created?.data?.id;
if (!linkId) throw new Error(`POST /short-link answered ${JSON.stringify(created)}`);

const PAGES = [
  ["keys", "#/keys", '[data-testid="keys-table"]'],
  ["create", "#/keys/new", '[data-testid="create-form"]'],
  ["key", `#/keys/${keyId}`, '[data-testid="key-id"]'],
  ["members", "#/members", '[data-testid="members-table"]'],
  ["audit", "#/audit", '[data-testid="audit-table"]'],
  ["sandboxes", "#/sandboxes", "main h1"],
  ["links", "#/links", '[data-testid="links-table"]'],
  ["link", `#/links/${linkId}`, '[data-testid="link-facts"]'],
  ["link-stats", `#/links/${linkId}/stats`, '[data-testid="clicks-figure"]'],
  ["domains", "#/domains", "main h1"],
  ["webhooks", "#/webhooks", "main h1"],
  ["files", "#/files", "main h1"],
];

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const flags = {
  onlyCategories: ["accessibility", "best-practices"],
  formFactor: "desktop",
  screenEmulation: { disabled: true },
  throttlingMethod: "provided",
  // Keep the session storage that holds the key between the navigations.
  disableStorageReset: true,
};
const scores = {};
const failed = {};
function record(name, lhr) {
  const score = (id) => Math.round((lhr.categories[id]?.score ?? 0) * 100);
  scores[name] = { accessibility: score("accessibility"), best_practices: score("best-practices") };
  failed[name] = Object.values(lhr.audits)
    .filter((audit) => audit.score !== null && audit.score < 1 && audit.scoreDisplayMode === "binary")
    .map((audit) => audit.id);
}
try {
  const page = await browser.newPage();
  const signIn = await navigation(page, consoleUrl, { flags });
  record("signin", signIn.lhr);
  await page.type('[data-testid="signin-key"]', adminKey);
  await page.click('[data-testid="signin-submit"]');
  await page.waitForSelector('[data-testid="identity"]', { timeout: 30000 });
  for (const [name, hash, ready] of PAGES) {
    const result = await navigation(page, `${consoleUrl}${hash}`, { flags });
    await page.waitForSelector(ready, { timeout: 30000 });
    record(name, result.lhr);
  }
} finally {
  await browser.close();
  await fetch(`${apiUrl}/short-link/${linkId}`, { method: "DELETE", headers });
}
writeFileSync(out, JSON.stringify({ console_lighthouse: scores, console_lighthouse_failed_audits: failed }, null, 2));
console.log(JSON.stringify(scores));
