/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig, type ProxyOptions } from "vite";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Only for local iteration: `KEYHIVE_API_PROXY=http://127.0.0.1:9311 npm run dev` (or preview)
// forwards the API's paths (`/v1`, `/short-link`, `/domains`, `/files`, `/health`) to a running keyhive,
// so the console and the API share an origin.
const apiTarget = process.env["KEYHIVE_API_PROXY"];
const proxy: Record<string, ProxyOptions> | undefined = apiTarget
  ? Object.fromEntries(
      ["/v1", "/health", "/short-link", "/domains", "/files"].map((path) => [
        path,
        { target: apiTarget, changeOrigin: true },
      ]),
    )
  : undefined;

/**
 * The Content-Security-Policy keyhive's console function sends with the page (openapi.yaml,
 * `ConsolePolicy`): `blob:` images for the QR codes fetched with the key, and `connect-src` the
 * files bucket's origin, where the browser PUTs an upload's bytes (a presigned URL).
 */
export function consoleCsp(uploadOrigin = ""): string {
  return (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
    `connect-src 'self'${uploadOrigin ? ` ${uploadOrigin}` : ""}; ` +
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
  );
}

// The bucket's origin for `vite preview`: KEYHIVE_UPLOAD_ORIGIN (e.g. the local stack's
// AWS_ENDPOINT_URL_S3, moto), else with the proxy any loopback port, where moto listens locally.
const uploadOrigin = process.env["KEYHIVE_UPLOAD_ORIGIN"] ?? (apiTarget ? "http://127.0.0.1:*" : "");
export const CONSOLE_CSP = consoleCsp(uploadOrigin);

export default defineConfig({
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: {
    // clients/typescript has no node_modules of its own: its imports resolve from here.
    alias: { "openapi-fetch": here("./node_modules/openapi-fetch/dist/index.mjs") },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The page's CSP allows scripts from 'self' only: no inline preload polyfill, no data: assets.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: "es2022",
  },
  server: {
    ...(proxy ? { proxy } : {}),
    fs: { allow: [here("."), here("../clients/typescript")] },
  },
  // `vite preview` serves the build under the same CSP keyhive sends, so a violation shows up here too.
  preview: { ...(proxy ? { proxy } : {}), headers: { "Content-Security-Policy": CONSOLE_CSP } },
  test: {
    environment: "happy-dom",
    environmentOptions: { happyDOM: { url: "http://127.0.0.1:9000/Prod/console" } },
    include: ["src/**/*.test.{ts,tsx}", "../clients/typescript/test/**/*.test.ts"],
    restoreMocks: true,
    unstubGlobals: true,
    setupFiles: ["src/test/setup.ts"],
  },
});
