#!/usr/bin/env bash
# make dev: the whole API on http://127.0.0.1:9000 over DynamoDB Local (data kept in .dev/)
# and moto. Ctrl-C stops everything this started.
# Requests go through scripts/local-aws/rest_front.py, API Gateway REST as template.yaml configures it
# (the authorizer first, the gateway responses), in front of `cargo lambda watch` on a private
# port: what a developer meets locally is what AWS answers (watch alone hands a function only
# the first of two X-API-Key headers, where API Gateway refuses the request).
set -euo pipefail
. "$(dirname "$0")/lib/stack.sh"
cd "$ROOT"

DEV="$ROOT/.dev"
DDB_PORT="${DYNAMODB_PORT:-8000}"
MOTO_PORT="${MOTO_PORT:-5000}"
API_PORT="${API_PORT:-9000}"
mkdir -p "$DEV"; chmod 700 "$DEV"

ensure_tools
trap 'stop_started' EXIT
trap 'exit 130' INT TERM

port_open "$DDB_PORT" && die "port $DDB_PORT is taken (another make dev?); set DYNAMODB_PORT"
port_open "$MOTO_PORT" && die "port $MOTO_PORT is taken; set MOTO_PORT"
port_open "$API_PORT" && die "port $API_PORT is taken; set API_PORT"

start_dynamodb "$DDB_PORT" "$DEV/dynamodb.log" "$DEV/dynamodb"
start_moto "$MOTO_PORT" "$DEV/moto.log"
DNS_PORT="${DNS_PORT:-$(free_port)}"
start_dns "$DNS_PORT" "$DEV/dns-records.json" "$DEV/dns.log"

# KEYHIVE_CORS_ORIGINS (none by default, as in AWS) lets a browser app on those origins call the API.
{ stack_env "$DDB_PORT" "$MOTO_PORT"; links_env "$API_PORT" "$DNS_PORT"; echo "KEYHIVE_DEV_MODE=1"
  echo "KEYHIVE_CORS_ORIGINS=${KEYHIVE_CORS_ORIGINS:-}"; echo "KEYHIVE_DOCS_FILE=$ROOT/target/docs/index.html"
} > "$DEV/watch.env"
export_env_file "$DEV/watch.env"

# The console at http://127.0.0.1:$API_PORT/console (built into its function; rebuilt when changed).
ensure_console
log "building the workspace"
cargo build --workspace --quiet
# moto keeps nothing across restarts: the secret's value lives in .dev/ so existing keys keep working.
"$ROOT/target/debug/keyhive-admin" init-local --secret-file "$DEV/hashing-secret"
# A development organization, once: its admin key stays in .dev/admin-key (mode 0600).
"$ROOT/target/debug/keyhive-admin" bootstrap --org-name "Development" --key-file "$DEV/admin-key" --if-missing

# The API reference at http://127.0.0.1:$API_PORT/docs (make docs re-renders it while this runs).
bash "$ROOT/scripts/docs.sh" || log "the API reference was not rendered (/docs answers 404 until make docs succeeds)"

start_sweep "$DEV/sweep.log"
start_dispatcher "$DEV/dispatcher.log"
start_aggregators "$DEV"

WATCH_PORT="${WATCH_PORT:-$(free_port)}"
cargo lambda watch --quiet --disable-cors --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT" --env-file "$DEV/watch.env" &
WATCH_PID=$!
STARTED_PIDS+=("$WATCH_PID")
wait_for_port "$WATCH_PORT" "cargo lambda watch" "$WATCH_PID" 300
"$VENV/bin/python" "$ROOT/scripts/local-aws/rest_front.py" --template "$ROOT/template.yaml" --lambda-url "http://127.0.0.1:$WATCH_PORT" \
  --port "$API_PORT" --local-route /docs &
STARTED_PIDS+=("$!")
wait_for_port "$API_PORT" "the REST front" "$!" 30
log "serving the API on http://127.0.0.1:$API_PORT through the REST front (Ctrl-C stops everything)"
log "try: curl -H \"X-API-Key: \$(cat .dev/admin-key)\" http://127.0.0.1:$API_PORT/v1/keys/self"
wait "$WATCH_PID"
