#!/usr/bin/env bash
# make fuzz: a long schemathesis run (at least 2000 cases, random seed; FUZZ_MAX_EXAMPLES and
# FUZZ_SEED override) against a private local stack, stopped afterwards. make test runs a bounded one.
set -euo pipefail
. "$(dirname "$0")/lib/stack.sh"
cd "$ROOT"
SECONDS=0
ensure_tools
trap 'stop_started' EXIT
trap 'exit 130' INT TERM

RUN="$ROOT/target/fuzz-stack"
rm -rf "$RUN"; mkdir -p "$RUN"
start_private_stack "$RUN"
run_schemathesis "$KEYHIVE_E2E_URL" "$RUN/fuzz" "${FUZZ_MAX_EXAMPLES:-150}" 2000 "${FUZZ_SEED:-}"
log "make fuzz passed in ${SECONDS}s (report: $RUN/fuzz)"
