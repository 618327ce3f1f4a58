#!/usr/bin/env bash
# make test: installs what the tests need, starts a private DynamoDB Local (in memory), moto and
# `cargo lambda watch` on free loopback ports, runs every check and test, and stops what it
# started, on failure too.
set -euo pipefail
. "$(dirname "$0")/lib/stack.sh"
cd "$ROOT"
SECONDS=0
export SAM_CLI_TELEMETRY=0

ensure_tools
# A build from scratch needs several GB in target/ (figure in the README); say so up front
# rather than failing at a link step with a bus error.
disk_free_gb() { df -Pk "$ROOT" | awk 'NR==2 { printf "%.1f", $4 / 1048576 }'; }
log "disk: $(disk_free_gb) GB free where target/ lives"
trap 'stop_started' EXIT
trap 'exit 130' INT TERM

# The console first: the console function compiles its build in.
log "the console: the TypeScript client regenerated from openapi.yaml (no drift), tsc strict, prettier, vitest, build"
ensure_console_packages
(cd console && npm run --silent check:client && npm run --silent typecheck && npm run --silent format:check && npm test --silent)
ensure_console

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "sam validate (transform) and sam validate --lint (cfn-lint)"
AWS_DEFAULT_REGION=us-east-1 sam validate --template-file template.yaml
AWS_DEFAULT_REGION=us-east-1 sam validate --lint --template-file template.yaml

log "the template as CloudFormation receives it: SAM's transform, then cfn-lint and what it generates"
"$VENV/bin/python" scripts/checks/check_template.py template.yaml 2>/dev/null

log "the REST front (API Gateway as template.yaml configures it, a test tool): self-test"
"$VENV/bin/python" scripts/tests/test_rest_front.py template.yaml

log "openapi.yaml is a valid OpenAPI 3.1 document"
"$VENV/bin/python" -c 'import sys, yaml, openapi_spec_validator as v; v.validate(yaml.safe_load(open(sys.argv[1]))); print("openapi.yaml: valid")' openapi.yaml

log "make help lists every target, and the README names each"
for target in $(sed -n 's/^\.PHONY: //p' Makefile); do
  make -s help | grep -q "^  make $target " || die "make help does not list make $target"
  grep -q "make $target\b" README.md || die "README.md does not mention make $target"
done

log "openapi.yaml: an example request (curl) and response for every operation, every example valid"
"$VENV/bin/python" scripts/checks/check_openapi_examples.py openapi.yaml

log "make docs: openapi.yaml rendered to target/docs/index.html"
bash scripts/docs.sh

RUN="$ROOT/target/test-stack"
rm -rf "$RUN"; mkdir -p "$RUN"
# The concurrency tests put hundreds of requests on one item of a freshly started (cold JVM)
# DynamoDB Local on a shared 2-core machine: give each call more room than in production.
# Outage tests use unreachable endpoints, which fail fast whatever this is.
export KEYHIVE_DYNAMODB_TIMEOUT_MS=8000
start_private_stack "$RUN"
export KEYHIVE_TEST_STACK_DIR="$RUN"

# A TLS front for DynamoDB Local (shared/tests/integration/tls.rs): its one-run CA is the SDK
# clients' extra CA (KEYHIVE_EXTRA_CA_FILE) for the cargo tests only, beside the compiled-in AWS roots.
start_tls_front "$RUN"
export KEYHIVE_TLS_DYNAMODB_URL="https://localhost:$TLS_PORT" KEYHIVE_TLS_CA_FILE="$RUN/tls-ca.pem"

log "cargo test (unit, store against DynamoDB Local, handlers on REST v1 events)"
cargo test --workspace --exclude keyhive-e2e --no-fail-fast

# watch starts function instances with `cargo run`, which waits for the build lock that a
# running `cargo test` holds: run the end-to-end test binary directly instead. It holds one
# module per area (e2e/tests/integration/), run one after the other as name filters (libtest keeps
# the tests whose path contains `keys::`): keys:: and links:: each keep 50 requests in flight, and
# watch stops answering past about 128 at once. All but outage::, which runs in phases below.
log "end-to-end tests over HTTP through cargo lambda watch"
E2E_BIN=$(cargo test -p keyhive-e2e --test integration --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])')
[ -n "$E2E_BIN" ] || die "the end-to-end test binary was not built"
mapfile -t E2E_MODULES < <("$E2E_BIN" --list --format terse | sed -n 's/::.*: test$//p' | sort -u)
printf '%s\n' "${E2E_MODULES[@]}" | grep -qx outage || die "the end-to-end test binary has no outage module"
for module in "${E2E_MODULES[@]}"; do
  [ "$module" = outage ] && continue
  log "running $module"
  "$E2E_BIN" "$module::"
done

log "the README's API walkthrough, pasted as a newcomer would (scripts/tests/test_readme.py)"
API=$KEYHIVE_E2E_URL KEY=$(cat "$RUN/admin-key") DNS_RECORDS=$KEYHIVE_DNS_RECORDS RECEIVER_PORT=$(free_port) \
  "$VENV/bin/python" scripts/tests/test_readme.py README.md

log "a client generated from openapi.yaml (openapi-python-client) against the stack"
API=$KEYHIVE_E2E_URL KEY=$(cat "$RUN/admin-key") "$VENV/bin/python" scripts/tests/test_client.py "$RUN/client"

log "make invoke: a sample event through the authorizer and its function"
# The whole answer first: `grep -q` stops reading at its match, and a writer still writing then
# fails on the closed pipe.
INVOKED=$(INVOKE_PORT=${KEYHIVE_E2E_URL##*:} KEY_FILE="$RUN/admin-key" "$VENV/bin/python" scripts/invoke.py keys-self.json) ||
  die "make invoke EVENT=keys-self.json failed"
grep -q '"statusCode": 200' <<<"$INVOKED" || die "make invoke EVENT=keys-self.json did not answer 200"

# The same suite again as AWS would carry it: scripts/local-aws/rest_front.py plays API Gateway REST as
# template.yaml configures it (the REQUEST authorizer invoked through watch's invoke API, REST v1
# events with the authorizer's context, the template's gateway responses).
WATCH_URL=$KEYHIVE_E2E_URL
FRONT_PORT=$(free_port)
"$VENV/bin/python" scripts/local-aws/rest_front.py --template template.yaml --lambda-url "$WATCH_URL" \
  --port "$FRONT_PORT" >"$RUN/rest-front.log" 2>&1 &
STARTED_PIDS+=("$!")
wait_for_port "$FRONT_PORT" "the REST front" "$!" 30
FRONT_URL="http://127.0.0.1:$FRONT_PORT"
log "end-to-end tests again, through the REST front (API Gateway REST as template.yaml configures it)"
for module in "${E2E_MODULES[@]}"; do
  [ "$module" = outage ] && continue
  log "running $module through the REST front"
  KEYHIVE_E2E_URL=$FRONT_URL KEYHIVE_E2E_FRONT=rest "$E2E_BIN" "$module::"
done

# The console in headless Chromium, through the REST front as a browser meets it in AWS: sign in,
# keys (create, copy once, permissions obeyed on the next call, roll, revoke), members, the audit
# log, axe-core on every page in light and dark, screenshots under target/console-screenshots.
ensure_chromium
# Then the resources' pages: a sandbox, a link followed and seen on its chart with its QR code, a
# domain verified through the stack's DNS server, a webhook delivered to a receiver the test runs
# and resent, a file uploaded from the browser straight to the bucket, the test-mode banner.
for suite in e2e e2e:resources; do
  log "the console in headless Chromium ($CHROMIUM) through the REST front: npm run $suite"
  (cd console && CONSOLE_URL="$FRONT_URL/console" API_URL="$FRONT_URL" ADMIN_KEY="$(cat "$RUN/admin-key")" \
    DNS_RECORDS="$KEYHIVE_DNS_RECORDS" CHROMIUM="$CHROMIUM" SCREENSHOT_DIR="$ROOT/target/console-screenshots" \
    npm run --silent "$suite")
done

# A bounded conformance pass (make fuzz runs a long one): a fixed seed keeps CI reproducible.
log "schemathesis against openapi.yaml through cargo lambda watch (bounded)"
run_schemathesis "$WATCH_URL" "$RUN/fuzz" "${FUZZ_MAX_EXAMPLES:-20}" 300 "${FUZZ_SEED:-20261124}"

# DynamoDB stopped under the running functions, then back (empty, in memory) on the same port:
# 503 envelopes within 3 s meanwhile, and recovery without restarting any function.
# Each phase both through watch (inline authentication) and through the REST front (the
# authorizer's failure is API Gateway's AUTHORIZER_CONFIGURATION_ERROR, a 503 envelope there).
outage_phase() {
  KEYHIVE_OUTAGE_PHASE=$1 KEYHIVE_E2E_URL=$WATCH_URL "$E2E_BIN" outage::
  KEYHIVE_OUTAGE_PHASE=$1 KEYHIVE_E2E_URL=$FRONT_URL KEYHIVE_E2E_FRONT=rest "$E2E_BIN" outage::
}
log "outage: DynamoDB Local up"
outage_phase before
kill "$DYNAMODB_PID"; wait "$DYNAMODB_PID" 2>/dev/null || true
log "outage: DynamoDB Local stopped"
outage_phase down
start_dynamodb "$DDB_PORT" "$RUN/dynamodb-restarted.log"
"$ROOT/target/debug/keyhive-admin" create-table >/dev/null
log "outage: DynamoDB Local back"
outage_phase after

# Every function's log of the whole run (cargo lambda watch collects them) and the stack's own
# logs must hold no API key, no key secret and no hashing secret.
log "secret hygiene of the logs"
LOGS=("$RUN"/*.log)
if grep -Eq '[a-z0-9]{1,16}_(live|test)_[A-Za-z0-9]{12}\.[A-Za-z0-9_-]{43}' "${LOGS[@]}"; then
  die "an API key appears in the logs"
fi
grep -Fq "$(cut -d. -f2 "$RUN/admin-key")" "${LOGS[@]}" && die "the admin key's secret appears in the logs"
grep -Fq "$(cat "$RUN/hashing-secret")" "${LOGS[@]}" && die "the hashing secret appears in the logs"
if grep -Eq 'whsec_[A-Za-z0-9+/]{20,}' "${LOGS[@]}"; then
  die "a webhook signing secret appears in the logs"
fi
SEALING_KEY=$(cat "$RUN/webhook-sealing-key")
[ -n "$SEALING_KEY" ] || die "could not read the webhook sealing key for the hygiene check"
grep -Fq "$SEALING_KEY" "${LOGS[@]}" && die "the webhook sealing key appears in the logs"
log "secret hygiene: $(cat "${LOGS[@]}" | wc -l) log lines, no key, secret, hash, webhook secret or sealing key"
# A function's start is quiet: no warning on every cold start (watch's concurrency setting was one).
if grep '"level":"WARN"' "$RUN/watch.log" | grep -q 'AWS_LAMBDA_MAX_CONCURRENCY'; then
  die "a function warned at start about AWS_LAMBDA_MAX_CONCURRENCY"
fi

log "disk: target/ holds $(du -sh "$ROOT/target" | cut -f1), $(disk_free_gb) GB left free"
log "make test passed in ${SECONDS}s"
