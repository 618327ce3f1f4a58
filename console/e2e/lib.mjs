// Helpers shared by the browser end-to-end scripts: the environment, API calls, a page that
// records console errors and CSP violations, axe-core in light and dark with screenshots, and
// the step runner that prints TAP-like lines.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function required(name, script) {
  const value = process.env[name];
  if (!value) {
    console.error(`${script}: set ${name} (see the top of e2e/${script}.mjs)`);
    process.exit(2);
  }
  return value;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The run's state: its API base and console address, the problems pages logged, the step, and
 * the helpers bound to them.
 */
export function harness({ consoleUrl, apiUrl, screenshotDir }) {
  const problems = [];
  const status = { step: "start", passed: 0 };

  async function api(path, key, init = {}) {
    const response = await fetch(`${apiUrl}${path}`, {
      ...init,
      headers: {
        "X-API-Key": key,
        ...(init.body ? { "Content-Type": "application/json" } : {}),
        ...init.headers,
      },
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { status: response.status, body };
  }

  function watch(page, label) {
    page.on("console", (message) => {
      const text = message.text();
      // A refused API call is logged by Chrome as a failed resource load: expected where a
      // script provokes one (4xx); a 5xx or anything else is a problem.
      if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
      if (message.type() === "error" || /Refused to|Content Security Policy/i.test(text)) {
        problems.push(`[${label}] ${status.step}: console ${message.type()}: ${text}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`[${label}] ${status.step}: page error: ${error.message}`));
  }

  async function newPage(browser, label, options = {}) {
    const context = await browser.newContext({ colorScheme: "light", acceptDownloads: true, ...options });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: new URL(consoleUrl).origin,
    });
    // Runs before the page's own scripts (injected by the browser, not subject to the page's CSP).
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        console.error(`securitypolicyviolation: ${e.violatedDirective} blocked ${e.blockedURI}`);
      });
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch(page, label);
    return { context, page };
  }

  /** axe-core in light and dark, failing on serious or critical violations; a screenshot of each. */
  async function checkPage(page, name) {
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.evaluate(axeSource);
      const violations = await page.evaluate(async () => {
        const result = await axe.run(document, { resultTypes: ["violations"] });
        return result.violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map(
            (v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
          );
      });
      assert.deepEqual(violations, [], `axe on ${name} (${scheme})`);
      await page.screenshot({
        path: join(screenshotDir, scheme === "light" ? `${name}.png` : `${name}-dark.png`),
        fullPage: true,
      });
    }
    await page.emulateMedia({ colorScheme: "light" });
  }

  async function run(name, body) {
    status.step = name;
    const started = Date.now();
    await body();
    assert.deepEqual(problems, [], "console errors or CSP violations");
    status.passed++;
    console.log(`ok ${status.passed} - ${name} (${Date.now() - started} ms)`);
  }

  async function signIn(page, key) {
    await page.goto(consoleUrl);
    await page.getByTestId("signin-key").fill(key);
    await page.getByTestId("signin-submit").click();
    await page.getByTestId("identity").waitFor();
    // The shell opens the first readable page; wait for it, so a next navigation is not undone.
    await page.waitForURL(/#\/[a-z]/);
  }

  /** Goes to a hash route of the console (a full load, as a bookmark would). */
  async function goto(page, hash) {
    await page.goto(`${consoleUrl}${hash}`);
  }

  /** Polls `check` (async, truthy when done) every `everyMs` for up to `ms`; fails with `what`. */
  async function eventually(what, check, ms = 20_000, everyMs = 500) {
    const until = Date.now() + ms;
    let last;
    for (;;) {
      last = await check();
      if (last) return last;
      if (Date.now() > until) assert.fail(`${what} (waited ${ms} ms)`);
      await sleep(everyMs);
    }
  }

  return { problems, status, api, newPage, checkPage, run, signIn, goto, eventually };
}
