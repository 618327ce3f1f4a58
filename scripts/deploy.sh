#!/usr/bin/env bash
# make deploy: build the functions with SAM (cargo lambda, arm64) and deploy template.yaml as the
# stack named in samconfig.toml. The first deploy of a stack is guided (region, parameters,
# saved to samconfig.toml); later ones reuse the saved answers. STACK=name deploys another stack
# with its own saved answers (samconfig.toml section [name]). Prints the API URL and the next
# steps. Needs AWS credentials of the default chain (AWS_PROFILE, ...).
set -euo pipefail
. "$(dirname "$0")/lib/stack.sh"
cd "$ROOT"
ensure_venv
export PATH="$VENV/bin:$PATH" SAM_CLI_TELEMETRY=0

DEFAULT_STACK=$(sed -n 's/^stack_name = "\(.*\)"/\1/p' samconfig.toml | head -1)
STACK=${STACK:-$DEFAULT_STACK}
[ -n "$STACK" ] || die "no stack name: set STACK or stack_name in samconfig.toml"
# Each stack keeps its guided answers in its own samconfig section.
CONFIG_ENV=default
[ "$STACK" = "$DEFAULT_STACK" ] || CONFIG_ENV=$STACK

# The region `sam deploy --guided` saved for this stack's section ("" before the first deploy).
saved_region() {
  "$VENV/bin/python" -c 'import sys, tomllib
c = tomllib.load(open("samconfig.toml", "rb"))
print(c.get(sys.argv[1], {}).get("deploy", {}).get("parameters", {}).get("region", ""))' "$CONFIG_ENV"
}

# The stack's state, read with boto3 from the .venv (moto brings it): "" when it does not exist.
stack_status() {
  "$VENV/bin/python" - "$STACK" "$(saved_region)" <<'PY'
import sys, boto3, botocore.exceptions
stack, region = sys.argv[1], sys.argv[2] or None
try:
    found = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"]
    print(found[0]["StackStatus"] if found else "")
except botocore.exceptions.ClientError:
    print("")  # no such stack
except botocore.exceptions.BotoCoreError as e:
    sys.exit(f"cannot read stack {stack}: {e} (AWS credentials and region of the default chain?)")
PY
}

log "sam validate --lint"
sam validate --lint --template-file template.yaml
# The console's assets, compiled into the console function by its build.
ensure_console
log "sam build (cargo lambda, release, arm64; the first build takes several minutes)"
sam build --template-file template.yaml

STATUS=$(stack_status)
case "$STATUS" in
  ROLLBACK_COMPLETE|ROLLBACK_FAILED)
    die "stack $STACK is in $STATUS (its first deploy failed; see the events in the CloudFormation console): delete it with 'sam delete --stack-name $STACK', then make deploy again" ;;
  "")
    log "first deploy of stack $STACK: guided (answers are saved to samconfig.toml, section [$CONFIG_ENV])"
    sam deploy --guided --stack-name "$STACK" --config-env "$CONFIG_ENV" ;;
  *)
    log "deploying stack $STACK ($STATUS) with the saved settings"
    sam deploy --stack-name "$STACK" --config-env "$CONFIG_ENV" ;;
esac

STATUS=$(stack_status)
case "$STATUS" in
  CREATE_COMPLETE|UPDATE_COMPLETE) ;;
  *) die "stack $STACK is $STATUS: nothing deployed (a declined change set, or a failure)" ;;
esac
REGION=$(saved_region)
API_URL=$(sam list stack-outputs --stack-name "$STACK" --config-env "$CONFIG_ENV" --output json |
  "$VENV/bin/python" -c 'import json, sys; print(next(o["OutputValue"] for o in json.load(sys.stdin) if o["OutputKey"] == "ApiUrl"))')
log "deployed: $API_URL (region ${REGION:-of your AWS configuration})"
log "smoke test: curl $API_URL/health"
log "the console: $API_URL/console (sign in with a key)"
log "first organization: AWS_REGION=$REGION cargo run --release -p keyhive-admin -- --stack $STACK bootstrap --org-name \"Acme\" --key-file ./acme-admin-key"
