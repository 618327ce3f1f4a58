#!/usr/bin/env bash
# make deploy: build the functions with SAM (cargo lambda, arm64) and deploy template.yaml as the
# stack named in samconfig.toml (STACK=... overrides it). The first deploy of a stack is guided
# (region, parameters, saved to samconfig.toml); later ones reuse the saved answers. Prints the
# API URL and the next step. Needs AWS credentials of the default chain (AWS_PROFILE, ...).
set -euo pipefail
. "$(dirname "$0")/stack.sh"
cd "$ROOT"
ensure_venv
export PATH="$VENV/bin:$PATH" SAM_CLI_TELEMETRY=0

STACK=${STACK:-$(sed -n 's/^stack_name = "\(.*\)"/\1/p' samconfig.toml | head -1)}
[ -n "$STACK" ] || die "no stack name: set STACK or stack_name in samconfig.toml"

log "sam validate --lint"
sam validate --lint --template-file template.yaml
log "sam build (cargo lambda, release, arm64; the first build takes several minutes)"
sam build --template-file template.yaml

if sam list stack-outputs --stack-name "$STACK" --output json >/dev/null 2>&1; then
  log "deploying stack $STACK with the saved settings"
  sam deploy --stack-name "$STACK"
else
  log "first deploy of stack $STACK: guided (answers are saved to samconfig.toml)"
  sam deploy --guided --stack-name "$STACK"
fi

API_URL=$(sam list stack-outputs --stack-name "$STACK" --output json |
  python3 -c 'import json, sys; print(next(o["OutputValue"] for o in json.load(sys.stdin) if o["OutputKey"] == "ApiUrl"))')
log "deployed: $API_URL"
log "smoke test: curl $API_URL/health"
log "first organization: cargo run --release -p keyhive-admin -- --stack $STACK bootstrap --org-name \"Acme\" --key-file ./acme-admin-key"
