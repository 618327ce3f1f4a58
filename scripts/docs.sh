#!/usr/bin/env bash
# make docs: renders openapi.yaml to one static HTML page, target/docs/index.html, with Redocly
# CLI installed project-locally (tools/docs/node_modules, from npm, once). Redoc's script is
# inlined (only a logo and icons load from Redocly's CDN); the local stack serves it at /docs.
set -euo pipefail
. "$(dirname "$0")/lib/stack.sh"
cd "$ROOT"
command -v npm >/dev/null || die "npm is needed to install the renderer (@redocly/cli)"
if [ ! -x tools/docs/node_modules/.bin/redocly ]; then
  log "installing @redocly/cli into tools/docs/node_modules (once)"
  (cd tools/docs && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tools/docs failed"
fi
mkdir -p target/docs
tools/docs/node_modules/.bin/redocly build-docs openapi.yaml --inlineBundle --output target/docs/index.html >/dev/null
grep -q '<title>keyhive' target/docs/index.html || die "target/docs/index.html does not look like keyhive's API reference"
grep -q 'cdn.redocly.com/redoc/' target/docs/index.html && die "target/docs/index.html loads Redoc from the CDN"
log "API reference: target/docs/index.html ($(wc -c <target/docs/index.html) bytes)"
