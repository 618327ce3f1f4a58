"""make invoke: hand a sample event from events/ to a function under `make dev`, as API Gateway
would: the authorizer first (invoked with the development admin key, read from .dev/admin-key at
run time), then the function with the authorizer's context in the REST event. Nothing secret is
written to a tracked file: the key lives only in this process and in cargo lambda's stdin.

usage: invoke.py EVENT [FUNCTION]   (EVENT: a file name in events/, e.g. keys-self.json;
       FUNCTION: defaults to the function template.yaml's route table gives the event's method
       and path, the authorizer for a REQUEST event; INVOKE_PORT and KEY_FILE override 9000 and
       .dev/admin-key)
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "template.yaml")


def function_for(event):
    """The function API Gateway hands this event to, from the route table of template.yaml as
    scripts/local-aws/rest_front.py reads it (`--template template.yaml --routes` prints it): the
    API's authorizer for a REQUEST authorizer event, else the route of the event's method and
    path (ANY when the method has none of its own). None when no route takes the event."""
    sys.dont_write_bytecode = True  # no __pycache__ left in scripts/
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "local-aws"))
    import rest_front

    try:
        api = rest_front.load_api(TEMPLATE)
    except (OSError, ValueError, KeyError, rest_front.yaml.YAMLError) as e:
        sys.exit(f"invoke: {TEMPLATE}: {e}")
    if event.get("type") == "REQUEST":
        authorizers = {route.authorizer.function for route in api.routes if route.authorizer}
        return authorizers.pop() if len(authorizers) == 1 else None
    method, path = event.get("httpMethod"), event.get("path")
    found = rest_front.find_route(api, method, path) if method and path else None
    return found[0].function if found else None


def invoke(function, event, port):
    """cargo lambda invoke against the running watch; the event goes on stdin, never to a file."""
    result = subprocess.run(
        ["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port", str(port), "--data-file", "/dev/stdin"],
        input=json.dumps(event), capture_output=True, text=True, cwd=ROOT,
    )
    if result.returncode != 0:
        sys.exit(f"invoke {function}: {result.stderr.strip() or result.stdout.strip()}")
    return json.loads(result.stdout)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        sys.exit(__doc__)
    name = argv[0] if argv[0].endswith(".json") else argv[0] + ".json"
    event = json.load(open(os.path.join(ROOT, "events", name)))
    function = argv[1] if len(argv) > 1 else function_for(event)
    if not function:
        sys.exit(f"which function takes {name}? name it: make invoke EVENT={name} FUNCTION=...")
    port = int(os.environ.get("INVOKE_PORT", "9000"))
    key_file = os.environ.get("KEY_FILE", os.path.join(ROOT, ".dev", "admin-key"))
    try:
        key = open(key_file).read().strip()
    except OSError:
        sys.exit(f"no admin key in {key_file}: start make dev first")

    if function == "authorizer" or event.get("type") == "REQUEST":
        event.setdefault("headers", {})["X-API-Key"] = key
        event.setdefault("multiValueHeaders", {})["X-API-Key"] = [key]
        print(json.dumps(invoke("authorizer", event, port), indent=2))
        return
    if event.get("requestContext", {}).get("authorizer") is not None and function != "health":
        # What API Gateway sends the authorizer for this request.
        context = event["requestContext"]
        request = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:{context.get('apiId', 'local')}/"
                         f"{context.get('stage', 'prod')}/{event['httpMethod']}{event['path']}",
            "resource": event.get("resource"), "path": event["path"], "httpMethod": event["httpMethod"],
            "headers": {**(event.get("headers") or {}), "X-API-Key": key},
            "multiValueHeaders": {**(event.get("multiValueHeaders") or {}), "X-API-Key": [key]},
            "queryStringParameters": event.get("queryStringParameters") or {},
            "multiValueQueryStringParameters": event.get("multiValueQueryStringParameters") or {},
            "pathParameters": event.get("pathParameters") or {}, "stageVariables": {},
            "requestContext": {k: v for k, v in context.items() if k != "authorizer"},
        }
        policy = invoke("authorizer", request, port)
        effect = policy.get("policyDocument", {}).get("Statement", [{}])[0].get("Effect")
        if effect != "Allow":
            sys.exit(f"the authorizer did not allow the request: {json.dumps(policy)}")
        context["authorizer"] = {**policy.get("context", {}), "principalId": policy.get("principalId")}
    print(json.dumps(invoke(function, event, port), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
