#!/usr/bin/env bash
# make docs: renders openapi.yaml to one static HTML page, target/docs/index.html, with Redocly
# CLI installed project-locally (tools/docs/node_modules, from npm, once). The page loads Redoc's
# script from Redocly's CDN when opened.
set -euo pipefail
. "$(dirname "$0")/stack.sh"
cd "$ROOT"
command -v npm >/dev/null || die "npm is needed to install the renderer (@redocly/cli)"
if [ ! -x tools/docs/node_modules/.bin/redocly ]; then
  log "installing @redocly/cli into tools/docs/node_modules (once)"
  (cd tools/docs && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tools/docs failed"
fi
mkdir -p target/docs
tools/docs/node_modules/.bin/redocly build-docs openapi.yaml --output target/docs/index.html >/dev/null
grep -q '<title>keyhive' target/docs/index.html || die "target/docs/index.html does not look like keyhive's API reference"
log "API reference: target/docs/index.html ($(wc -c <target/docs/index.html) bytes)"
