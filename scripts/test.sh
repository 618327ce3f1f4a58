#!/usr/bin/env bash
# make test: installs what the tests need, starts a private DynamoDB Local (in memory), moto and
# `cargo lambda watch` on free loopback ports, runs every check and test, and stops what it
# started, on failure too.
set -euo pipefail
. "$(dirname "$0")/stack.sh"
cd "$ROOT"
SECONDS=0
export AWS_LC_SYS_NO_JITTER_ENTROPY=1 SAM_CLI_TELEMETRY=0

ensure_tools
trap 'stop_started' EXIT
trap 'exit 130' INT TERM

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "sam validate (transform) and sam validate --lint (cfn-lint)"
AWS_DEFAULT_REGION=us-east-1 sam validate --template-file template.yaml
AWS_DEFAULT_REGION=us-east-1 sam validate --lint --template-file template.yaml

RUN="$ROOT/target/test-stack"
rm -rf "$RUN"; mkdir -p "$RUN"
DDB_PORT=$(free_port); MOTO_PORT=$(free_port); API_PORT=$(free_port)
# The concurrency tests put hundreds of requests on one item of a freshly started (cold JVM)
# DynamoDB Local on a shared 2-core machine: give each call more room than in production.
# Outage tests use unreachable endpoints, which fail fast whatever this is.
export KEYHIVE_DYNAMODB_TIMEOUT_MS=8000
start_dynamodb "$DDB_PORT" "$RUN/dynamodb.log"
start_moto "$MOTO_PORT" "$RUN/moto.log"
stack_env "$DDB_PORT" "$MOTO_PORT" > "$RUN/stack.env"
export_env_file "$RUN/stack.env"

log "building the workspace"
cargo build --workspace --quiet
"$ROOT/target/debug/keyhive-admin" init-local --secret-file "$RUN/hashing-secret"
# As make dev does: the end-to-end tests start from this admin key.
"$ROOT/target/debug/keyhive-admin" bootstrap --org-name "E2E" --key-file "$RUN/admin-key"

cargo lambda watch --quiet --ignore-changes --concurrency 4 --invoke-address 127.0.0.1 --invoke-port "$API_PORT" \
  --env-file "$RUN/stack.env" >"$RUN/watch.log" 2>&1 &
WATCH_PID=$!
STARTED_PIDS+=("$WATCH_PID")
wait_for_port "$API_PORT" "cargo lambda watch" "$WATCH_PID" 120
log "cargo lambda watch on 127.0.0.1:$API_PORT (pid $WATCH_PID)"
export KEYHIVE_E2E_URL="http://127.0.0.1:$API_PORT"
export KEYHIVE_TEST_STACK_DIR="$RUN"

log "cargo test (unit, store against DynamoDB Local, handlers on REST v1 events, end-to-end through watch)"
cargo test --workspace --no-fail-fast

log "make test passed in ${SECONDS}s"
