"""Checks of scripts/local-aws/rest_front.py that need no running stack: plain asserts.

    .venv/bin/python scripts/tests/test_rest_front.py [template.yaml]   (make test runs it)

The pure parts (routing, events, the authorizer's answer, the function's answer, gateway
responses) run on a small template written here and on the project's template.yaml; the last
checks run the front on a loopback port against a fake Lambda invoke API served by this file.
"""

import base64
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # no __pycache__ left in scripts/
HERE = os.path.dirname(os.path.abspath(__file__))  # scripts/tests
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "local-aws"))
import rest_front as rf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
PROJECT_TEMPLATE = os.path.join(ROOT, "template.yaml")
EVENTS = os.path.join(ROOT, "events")

# Values a $context variable may carry that break naive templates.
NASTY = 'a "quoted" \\ back\\slash, ünïcödé ✓, a\ttab and a\nnewline'

TEST_TEMPLATE = r"""
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  StageName:
    Type: String
    Default: test
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref StageName
      BinaryMediaTypes: ["image~1png"]
      Auth:
        DefaultAuthorizer: KeyAuthorizer
        Authorizers:
          KeyAuthorizer:
            FunctionPayloadType: REQUEST
            FunctionArn: !GetAtt AuthorizerFunction.Arn
            Identity:
              ReauthorizeEvery: 0
      GatewayResponses:
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseParameters:
            Headers:
              X-Request-Id: "context.requestId"
          ResponseTemplates:
            application/json: '{"code":"NOT_FOUND","request_id":"$context.requestId"}'
        UNAUTHORIZED:
          StatusCode: "401"
          ResponseTemplates:
            application/json: '{"code":"UNAUTHORIZED","request_id":"${context.requestId}"}'
        ACCESS_DENIED:
          StatusCode: "429"
          ResponseParameters:
            Headers:
              Retry-After: "context.authorizer.retry_after"
              X-Static: "'0'"
              X-Missing: "context.authorizer.nothing"
              X-Thing: "method.request.path.id"
              X-Agent: "method.request.header.user-agent"
          ResponseTemplates:
            application/json: '{"code":"RATE_LIMITED","retry_after":$context.authorizer.retry_after,"who":"$context.authorizer.principalId","message":$context.error.messageString}'
        DEFAULT_4XX:
          ResponseTemplates:
            application/json: '{"code":"BAD","message":$context.error.messageString,"type":"$context.error.responseType"}'
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: authorizer
  EchoFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: echo
    Properties:
      Events:
        GetThing:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/things/{id}", Method: GET}
        AnyThing:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/things/{id}", Method: ANY, Auth: {Authorizer: NONE}}
        GetSelf:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /things/self, Method: GET}
        GetOpen:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /open, Method: GET, Auth: {Authorizer: NONE}}
        AnyFiles:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/files/{path+}", Method: ANY, Auth: {Authorizer: NONE}}
        GetDeep:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/a/b/c", Method: GET, Auth: {Authorizer: NONE}}
        GetShallow:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/{x}/b/d", Method: GET, Auth: {Authorizer: NONE}}
  CrashFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /crash, Method: GET, Auth: {Authorizer: NONE}}
  MalformedFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /malformed, Method: GET, Auth: {Authorizer: NONE}}
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /slow, Method: GET, Auth: {Authorizer: NONE}}
  HugeFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /huge, Method: GET, Auth: {Authorizer: NONE}}
  QrFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /qr, Method: GET, Auth: {Authorizer: NONE}}
"""

# The first bytes of a PNG and a tiny SVG, as a function would send them (base64).
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\x00"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'
# What clients send first: curl, a browser's <img>, a browser's navigation, nothing at all.
ACCEPTS = (
    "*/*",
    "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    None,
)


def load_test_api():
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(TEST_TEMPLATE)
    try:
        return rf.load_api(f.name)
    finally:
        os.unlink(f.name)


def incoming(method="GET", path="/", query="", headers=(), body=b""):
    return rf.Incoming(method, path, query, list(headers), body, "203.0.113.10")


def info_for(request, resource_path="", params=None, stage="test"):
    return rf.RequestInfo(
        request_id="c0ffee00-0000-4000-8000-000000000001",
        extended_request_id="Qk2xYFpJIAMFX0w=",
        api_id=rf.DEFAULT_API_ID,
        stage=stage,
        epoch_ms=1795430400000,
        incoming=request,
        resource_path=resource_path,
        path_params=params or {},
    )


def routed(api, method, path):
    found = rf.find_route(api, method, path)
    return (found[0].path, found[0].method, found[0].function, found[1]) if found else None


# --- template loading and routing


def test_synthetic_template_loads():
    api = load_test_api()
    assert api.stage == "test"
    assert api.warnings == [], api.warnings
    by_event = {r.event: r for r in api.routes}
    assert by_event["EchoFunction.GetThing"].authorizer.function == "authorizer"
    assert by_event["EchoFunction.AnyThing"].authorizer is None
    # No Binary property: the logical id without Function, in kebab case.
    assert by_event["CrashFunction.Get"].function == "crash"
    assert rf.function_binary("SandboxSweepFunction", {}) == "sandbox-sweep"
    assert rf.function_binary("X", {"Metadata": {"BuildProperties": {"Binary": "web-hooks"}}}) == "web-hooks"


def test_routing_prefers_literals_then_params_then_greedy():
    api = load_test_api()
    assert routed(api, "GET", "/things/self") == ("/things/self", "GET", "echo", {})
    assert routed(api, "GET", "/things/42") == ("/things/{id}", "GET", "echo", {"id": "42"})
    # A method the resource lacks falls to ANY.
    assert routed(api, "PUT", "/things/42")[:2] == ("/things/{id}", "ANY")
    assert routed(api, "DELETE", "/things/self") is None  # /things/self has GET only
    assert routed(api, "GET", "/files/a/b%20c/d.txt") == ("/files/{path+}", "ANY", "echo", {"path": "a/b c/d.txt"})
    assert routed(api, "GET", "/files") is None  # a greedy variable needs one segment at least
    assert routed(api, "GET", "/things/caf%C3%A9")[3] == {"id": "café"}
    assert routed(api, "GET", "/things/a%2Fb")[3] == {"id": "a/b"}  # %2F stays inside the segment


def test_routing_backtracks_from_a_literal_branch():
    api = load_test_api()
    assert routed(api, "GET", "/a/b/c")[0] == "/a/b/c"
    # /a/b has no d child: /{x}/b/d matches instead.
    assert routed(api, "GET", "/a/b/d") == ("/{x}/b/d", "GET", "echo", {"x": "a"})


def test_routing_misses():
    api = load_test_api()
    assert routed(api, "GET", "/") is None  # the root resource has no method
    assert routed(api, "GET", "/things") is None  # an intermediate resource without methods
    assert routed(api, "GET", "/nothing/here") is None
    assert routed(api, "GET", "/things//42") is None
    assert routed(api, "BREW", "/things/42") is None
    # One trailing slash is ignored.
    assert routed(api, "GET", "/open/")[0] == "/open"


def test_project_template_routes_every_declared_event(template=PROJECT_TEMPLATE):
    api = rf.load_api(template)
    assert api.routes, "no Api events found"
    for route in api.routes:
        concrete = "/" + "/".join(
            "zz-sample-1" if s.startswith("{") else s for s in route.path.split("/") if s
        )
        method = "PATCH" if route.method == "ANY" else route.method
        found = rf.find_route(api, method, concrete)
        assert found, f"{route.event}: {method} {concrete} reaches nothing"
        got = found[0]
        assert got.path == route.path and got.function == route.function, (route, got)
        if route.method != "ANY":
            assert got is route, (route, got)
    binaries = {r.function for r in api.routes} | {r.authorizer.function for r in api.routes if r.authorizer}
    assert "authorizer" in binaries or not any(r.authorizer for r in api.routes)


def test_project_template_tells_own_usage_from_a_keys_usage(template=PROJECT_TEMPLATE):
    """/v1/keys/self/usage (literal) and /v1/keys/{id}/usage are siblings' children: each path
    reaches its own resource, authorized for GET, and other methods reach the public ANY."""
    api = rf.load_api(template)
    by_path = {(r.path, r.method): r for r in api.routes}
    if ("/v1/keys/self/usage", "GET") not in by_path:
        return  # a template without the usage routes (an older one given on the command line)
    assert routed(api, "GET", "/v1/keys/self/usage") == ("/v1/keys/self/usage", "GET", "keys", {})
    assert routed(api, "GET", "/v1/keys/k1/usage") == ("/v1/keys/{id}/usage", "GET", "keys", {"id": "k1"})
    assert routed(api, "GET", "/v1/keys/k1/access") == ("/v1/keys/{id}/access", "GET", "keys", {"id": "k1"})
    assert routed(api, "GET", "/v1/usage") == ("/v1/usage", "GET", "keys", {})
    for path in ("/v1/keys/self/usage", "/v1/keys/{id}/usage", "/v1/keys/{id}/access", "/v1/usage"):
        assert by_path[(path, "GET")].authorizer is not None, path
        assert by_path[(path, "ANY")].authorizer is None, path
    assert routed(api, "POST", "/v1/keys/self/usage")[:2] == ("/v1/keys/self/usage", "ANY")


def test_project_template_tells_verify_from_a_key_id_and_leaves_github_public(template=PROJECT_TEMPLATE):
    """/v1/keys/verify is a literal sibling of /v1/keys/{id}: POST reaches it, authorized, not
    {id}. GitHub's secret-scanning callback carries no keyhive key: no authorizer on it."""
    api = rf.load_api(template)
    by_path = {(r.path, r.method): r for r in api.routes}
    if ("/v1/keys/verify", "POST") not in by_path:
        return  # a template without these routes (an older one given on the command line)
    assert routed(api, "POST", "/v1/keys/verify") == ("/v1/keys/verify", "POST", "keys", {})
    assert by_path[("/v1/keys/verify", "POST")].authorizer is not None
    # Other methods reach the public ANY of the literal (a 405), never GET /v1/keys/{id}.
    assert routed(api, "GET", "/v1/keys/verify")[:2] == ("/v1/keys/verify", "ANY")
    assert routed(api, "GET", "/v1/keys/k1") == ("/v1/keys/{id}", "GET", "keys", {"id": "k1"})
    github = "/v1/secret-scanning/github"
    assert routed(api, "POST", github) == (github, "POST", "keys", {})
    assert by_path[(github, "POST")].authorizer is None
    assert routed(api, "GET", github)[:2] == (github, "ANY")


def test_project_template_serves_files_and_qr_codes(template=PROJECT_TEMPLATE):
    """The files function serves /v1/files (authorized), the public /files/{id} (no authorizer:
    link-preview fetchers hold no key) and /short-link/{id}/qr, a child of the links function's
    /short-link/{id}: each path reaches its own function, and other methods the public ANY."""
    api = rf.load_api(template)
    by_path = {(r.path, r.method): r for r in api.routes}
    if ("/short-link/{id}/qr", "GET") not in by_path:
        return  # a template without the files routes (an older one given on the command line)
    qr = "/short-link/{id}/qr"
    assert routed(api, "GET", "/short-link/lnk_1/qr") == (qr, "GET", "files", {"id": "lnk_1"})
    assert by_path[(qr, "GET")].authorizer is not None and by_path[(qr, "GET")].authorizer.function == "authorizer"
    assert routed(api, "POST", "/short-link/lnk_1/qr")[:3] == (qr, "ANY", "files")
    assert by_path[(qr, "ANY")].authorizer is None
    # The parent and its other child stay the links function's.
    assert routed(api, "GET", "/short-link/lnk_1") == ("/short-link/{id}", "GET", "links", {"id": "lnk_1"})
    assert routed(api, "GET", "/short-link/lnk_1/stats")[:3] == ("/short-link/{id}/stats", "GET", "links")
    # The public bytes: no authorizer on GET, nor on the ANY that answers other methods.
    assert routed(api, "GET", "/files/fil_1") == ("/files/{id}", "GET", "files", {"id": "fil_1"})
    assert by_path[("/files/{id}", "GET")].authorizer is None
    assert routed(api, "PUT", "/files/fil_1")[:3] == ("/files/{id}", "ANY", "files")
    assert by_path[("/files/{id}", "ANY")].authorizer is None
    # /files is a resource without methods: no route, and not the links function's /{slug}.
    assert routed(api, "GET", "/files") is None
    assert routed(api, "GET", "/promo") == ("/{slug}", "GET", "links", {"slug": "promo"})
    for path, method in (
        ("/v1/files", "POST"),
        ("/v1/files", "GET"),
        ("/v1/files/{id}", "GET"),
        ("/v1/files/{id}", "DELETE"),
        ("/v1/files/{id}/complete", "POST"),
    ):
        route = by_path[(path, method)]
        assert route.function == "files" and route.authorizer is not None, (path, method)
        assert by_path[(path, "ANY")].function == "files" and by_path[(path, "ANY")].authorizer is None, path
    assert routed(api, "POST", "/v1/files/fil_1/complete") == (
        "/v1/files/{id}/complete", "POST", "files", {"id": "fil_1"}
    )


def test_project_template_decodes_images_for_every_client(template=PROJECT_TEMPLATE):
    """A QR code goes out as bytes whatever the client's Accept (API Gateway reads only its first
    media type, so only */* covers curl, <img> and navigations); text answers are untouched."""
    api = rf.load_api(template)
    if not any(r.path == "/short-link/{id}/qr" for r in api.routes):
        return  # an older template, without binary answers
    assert "*/*" in api.binary_media_types, api.binary_media_types
    for content_type, raw in (("image/png", PNG), ("image/svg+xml", SVG)):
        answer = {
            "statusCode": 200,
            "headers": {"content-type": content_type},
            "body": base64.b64encode(raw).decode(),
            "isBase64Encoded": True,
        }
        for accept in ACCEPTS:
            assert rf.proxy_answer(answer, accept, api.binary_media_types)[2] == raw, (content_type, accept)
    envelope = '{"success":true,"data":{"é":1}}'
    text = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": envelope}
    assert rf.proxy_answer(text, "*/*", api.binary_media_types)[2] == envelope.encode()
    # The cost: request bodies reach the functions base64-encoded.
    request = incoming("POST", "/v1/files", headers=[("Content-Type", "application/json")], body=b'{"a":1}')
    event = rf.proxy_event(info_for(request, "/v1/files"), request.headers, None, api.binary_media_types)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b'{"a":1}'


# --- events


def test_headers_keep_the_last_value_and_all_values():
    single, multi = rf.collect_headers([("X-API-Key", "a"), ("Accept", "x"), ("x-api-key", "b")])
    assert single == {"X-API-Key": "b", "Accept": "x"}
    assert multi == {"X-API-Key": ["a", "b"], "Accept": ["x"]}


def test_query_strings():
    single, multi = rf.parse_query("a=1&a=2&b=x+y%2Bz&c&=skip&d=&&%C3%A9=%E2%9C%93")
    assert single == {"a": "2", "b": "x y+z", "c": "", "d": "", "é": "✓"}, single
    assert multi["a"] == ["1", "2"] and multi["b"] == ["x y+z"]
    assert rf.parse_query("") == ({}, {})


def _keys_cover(sample, built, where):
    """Every field of the sample is in the built event; the request context is compared inside."""
    for key, value in sample.items():
        assert key in built, f"{where}.{key} missing"
        if key in ("requestContext", "identity") and isinstance(value, dict):
            assert isinstance(built[key], dict), f"{where}.{key} is not an object"
            _keys_cover(value, built[key], f"{where}.{key}")


def test_authorizer_event_has_the_sample_shape():
    with open(os.path.join(EVENTS, "authorizer-request.json")) as f:
        sample = json.load(f)
    request = incoming(
        "GET", "/v1/keys/self", headers=[("X-API-Key", "k1"), ("Host", "h.example"), ("X-API-Key", "k2")]
    )
    info = info_for(request, "/v1/keys/self", stage="prod")
    event = rf.authorizer_event(info, request.headers)
    _keys_cover(sample, event, "event")
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/GET/v1/keys/self"
    assert event["headers"]["X-API-Key"] == "k2" and event["multiValueHeaders"]["X-API-Key"] == ["k1", "k2"]
    assert event["queryStringParameters"] == {} and event["pathParameters"] == {} and event["stageVariables"] == {}
    assert event["requestContext"]["path"] == "/prod/v1/keys/self"
    assert event["requestContext"]["requestId"] == info.request_id
    assert event["requestContext"]["identity"]["sourceIp"] == "203.0.113.10"


def test_proxy_event_has_the_sample_shape():
    with open(os.path.join(EVENTS, "keys-self.json")) as f:
        sample = json.load(f)
    request = incoming("GET", "/v1/keys/self", headers=[("Host", "h.example"), ("User-Agent", "curl/8")])
    info = info_for(request, "/v1/keys/self", stage="prod")
    context = {"principalId": "AbCdEf123456", "key_id": "AbCdEf123456", "integrationLatency": 12}
    event = rf.proxy_event(info, rf.forwarded_headers(info), context, [])
    _keys_cover(sample, event, "event")
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None and event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert event["requestContext"]["authorizer"] == context
    assert event["requestContext"]["requestTimeEpoch"] == 1795430400000
    assert event["requestContext"]["requestTime"] == "23/Nov/2026:10:40:00 +0000"
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.10"
    assert event["headers"]["X-Forwarded-Proto"] == "https"
    # No authorizer ran: no authorizer context at all.
    assert "authorizer" not in rf.proxy_event(info, request.headers, None, [])["requestContext"]


def test_proxy_event_bodies():
    text = incoming("POST", "/x", headers=[("Content-Type", "application/json")], body='{"a":"é"}'.encode())
    event = rf.proxy_event(info_for(text, "/x"), text.headers, None, [])
    assert event["body"] == '{"a":"é"}' and event["isBase64Encoded"] is False
    # Without binaryMediaTypes even bytes go as text; with a matching type, base64.
    raw = incoming("POST", "/x", headers=[("Content-Type", "image/png; x=1")], body=b"\x89PNG\xff")
    assert rf.proxy_event(info_for(raw, "/x"), raw.headers, None, [])["isBase64Encoded"] is False
    event = rf.proxy_event(info_for(raw, "/x"), raw.headers, None, ["image/*"])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x89PNG\xff"
    event = rf.proxy_event(info_for(raw, "/x", {"id": "1"}), raw.headers, None, [])
    assert event["pathParameters"] == {"id": "1"}


# --- the authorizer's answer


def _policy(effect, resource="arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/*/*", **extra):
    return {
        "principalId": "p1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        **extra,
    }


ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/GET/v1/keys/self"


def test_policy_effects():
    assert rf.policy_effect(_policy("Allow"), ARN) == "Allow"
    assert rf.policy_effect(_policy("Deny"), ARN) == "Deny"
    assert rf.policy_effect(_policy("Allow", resource=ARN.replace("GET", "POST")), ARN) is None
    assert rf.policy_effect(_policy("Allow", resource=[ARN.replace("GET", "POST"), "*"]), ARN) == "Allow"
    answer = _policy("Allow")
    answer["policyDocument"]["Statement"].append({"Action": "execute-api:*", "Effect": "Deny", "Resource": ARN})
    assert rf.policy_effect(answer, ARN) == "Deny"  # an explicit deny wins
    answer = _policy("Allow")
    answer["policyDocument"]["Statement"] = answer["policyDocument"]["Statement"][0]  # a lone statement
    assert rf.policy_effect(answer, ARN) == "Allow"
    short_arn = "arn:aws:execute-api:r:1:abc/prod/GET/v1/keys/self"
    assert rf.wildcard_match("arn:*:execute-api:*:*:abc/prod/GET/v1/keys/?elf", short_arn)
    assert not rf.wildcard_match("arn:*:execute-api:*:*:abc/prod/POST/*", short_arn)


def test_unusable_authorizer_answers():
    for answer in (
        None,
        "Allow",
        {"policyDocument": _policy("Allow")["policyDocument"]},
        {"principalId": "p"},
        {"principalId": "p", "policyDocument": {"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}},
    ):
        try:
            rf.policy_effect(answer, ARN)
        except rf.AuthorizerAnswerInvalid:
            continue
        raise AssertionError(f"accepted {answer!r}")
    for context in ({"a": {"b": 1}}, {"a": [1]}, "text"):
        try:
            rf.authorizer_context({"context": context})
        except rf.AuthorizerAnswerInvalid:
            continue
        raise AssertionError(f"accepted context {context!r}")


def test_authorizer_context_is_stringified():
    context = rf.authorizer_context({"context": {"s": "x", "n": 5, "f": 1.5, "t": True, "no": False, "z": None}})
    assert context == {"s": "x", "n": "5", "f": "1.5", "t": "true", "no": "false"}


# --- the function's answer


def test_proxy_answers():
    status, headers, body = rf.proxy_answer(
        {
            "statusCode": 201,
            "headers": {"location": "/x", "x-one": "1"},
            "multiValueHeaders": {"x-one": ["1"], "Set-Cookie": ["a=1", "b=2"], "WWW-Authenticate": ["Bearer"]},
            "body": "é",
            "isBase64Encoded": False,
        },
        None,
        [],
    )
    assert status == 201 and body == "é".encode()
    assert headers.count(("x-one", "1")) == 1, headers
    assert ("Set-Cookie", "a=1") in headers and ("Set-Cookie", "b=2") in headers
    assert ("location", "/x") in headers
    assert ("x-amzn-Remapped-WWW-Authenticate", "Bearer") in headers
    assert ("Content-Type", "application/json") in headers  # API Gateway's default
    empty = rf.proxy_answer({"statusCode": 204}, None, [])
    assert empty[0] == 204 and empty[2] == b""


def test_base64_answers_need_binary_support():
    answer = {"statusCode": 200, "headers": {"content-type": "image/png"}, "body": "iVBO", "isBase64Encoded": True}
    assert rf.proxy_answer(answer, "image/png", [])[2] == b"iVBO"  # no binaryMediaTypes: sent as text
    assert rf.proxy_answer(answer, "image/png", ["image/png"])[2] == base64.b64decode("iVBO")
    assert rf.proxy_answer(answer, "image/png;q=0.9, text/html", ["image/*"])[2] == base64.b64decode("iVBO")
    # Only the first Accept media type counts, and the answer's Content-Type not at all.
    for accept in ("*/*", "image/avif,image/png", "text/html,image/png;q=0.9", None, ""):
        assert rf.proxy_answer(answer, accept, ["image/png"])[2] == b"iVBO", accept
    # */* covers any first type, and a request without Accept.
    for accept in ("*/*", "image/avif,image/png", "text/html,image/png;q=0.9", None):
        assert rf.proxy_answer(answer, accept, ["*/*"])[2] == base64.b64decode("iVBO"), accept
    # A text answer is never decoded, binary support or not.
    assert rf.proxy_answer({**answer, "isBase64Encoded": False}, "image/png", ["*/*"])[2] == b"iVBO"
    try:
        rf.proxy_answer({**answer, "body": "not base64!"}, "*/*", ["*/*"])
    except rf.BinaryDecodingFailed:
        pass
    else:
        raise AssertionError("a broken base64 body was accepted")


def test_malformed_answers():
    for answer in (
        None,
        "text",
        {"body": "no status"},
        {"statusCode": "two hundred"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": {"x": {"y": 1}}},
        {"statusCode": 200, "multiValueHeaders": {"x": "not a list"}},
        {"statusCode": 200, "isBase64Encoded": "yes"},
    ):
        try:
            rf.proxy_answer(answer, None, [])
        except rf.MalformedProxyAnswer:
            continue
        raise AssertionError(f"accepted {answer!r}")


# --- gateway responses


def test_render_template_escapes_through_message_string():
    values = {"requestId": "r-1", "error.message": NASTY, "error.messageString": json.dumps(NASTY, ensure_ascii=False)}
    template = '{"m":$context.error.messageString,"id":"${context.requestId}","x":"$context.authorizer.none"}'
    body = rf.render_template(template, values)
    assert json.loads(body) == {"m": NASTY, "id": "r-1", "x": ""}
    # A reference ends where an identifier does.
    assert rf.render_template("$context.requestId.", values) == "r-1."
    assert rf.render_template("$!context.requestId}", values) == "r-1}"
    # Only $context is substituted; other VTL is left as written.
    assert rf.render_template("$util.escapeJavaScript($input.body)", values) == "$util.escapeJavaScript($input.body)"


def test_method_settings_paths():
    assert rf.method_settings_path("/*") == "/*"
    assert rf.method_settings_path("/~1v1~1keys~1{id}") == "/v1/keys/{id}"


def test_throttling_takes_the_most_specific_setting():
    route = rf.Route("/v1/keys", "GET", "keys", None, "e")
    settings = [
        rf.ThrottleSetting("/v1/keys", "GET", rate=0, burst=1),
        rf.ThrottleSetting("/*", "*", rate=1000, burst=500),
        rf.ThrottleSetting("/v1/keys", "*", rate=5, burst=5),
    ]
    throttle = rf.Throttle(settings)
    assert throttle._setting(route) is settings[0]
    assert throttle.allows(route) and not throttle.allows(route)  # burst 1, no refill
    other = rf.Route("/health", "GET", "health", None, "e")
    assert throttle._setting(other) is settings[1] and throttle.allows(other)


def test_gateway_response_statuses():
    spec = rf.GatewayResponseSpec
    responses = {"UNAUTHORIZED": spec(None, {}, {}), "ACCESS_DENIED": spec(429, {}, {})}
    assert rf.response_status(responses, "ACCESS_DENIED") == 429
    assert rf.response_status(responses, "UNAUTHORIZED") == 401
    assert rf.response_status(responses, "MISSING_AUTHENTICATION_TOKEN") == 403
    assert rf.response_status(responses, "INTEGRATION_FAILURE") == 500  # not customized
    assert rf.response_status(responses, rf.LAMBDA_PROXY_ERROR) == 502
    responses["DEFAULT_4XX"] = spec(400, {}, {})
    responses["DEFAULT_5XX"] = spec(None, {}, {})
    # A DEFAULT_xXX status replaces the status of every type that falls back to it.
    assert rf.response_status(responses, "MISSING_AUTHENTICATION_TOKEN") == 400
    assert rf.response_status(responses, "INTEGRATION_TIMEOUT") == 504
    responses["INTEGRATION_FAILURE"] = spec(None, {}, {})
    assert rf.response_status(responses, "INTEGRATION_FAILURE") == 504


def test_gateway_responses_of_the_test_template():
    api = load_test_api()
    request = incoming("GET", "/things/1", headers=[("Accept", "application/json")])
    info = info_for(request, "/things/{id}", {"id": "1"})
    denial = {"retry_after": "7", "principalId": "p"}
    out = rf.gateway_response(api, info, "ACCESS_DENIED", rf.EXPLICIT_DENY_MESSAGE, denial)
    assert out.status == 429
    assert ("Retry-After", "7") in out.headers and ("X-Static", "0") in out.headers
    assert not any(name == "X-Missing" for name, _ in out.headers)
    assert ("X-Thing", "1") in out.headers and not any(name == "X-Agent" for name, _ in out.headers)
    assert ("x-amzn-ErrorType", "AccessDeniedException") in out.headers
    expected = {"code": "RATE_LIMITED", "retry_after": 7, "who": "p", "message": rf.EXPLICIT_DENY_MESSAGE}
    assert json.loads(out.body) == expected
    # Not customized, a 4xx type falls back to DEFAULT_4XX with its own default status.
    message = rf.incomplete_signature_message("Bearer kh_live_x.y")
    out = rf.gateway_response(api, info, "INCOMPLETE_SIGNATURE", message)
    assert out.status == 403
    assert json.loads(out.body) == {"code": "BAD", "message": message, "type": "INCOMPLETE_SIGNATURE"}
    assert message.endswith("'.") and "'" in message
    # No DEFAULT_5XX: API Gateway's own body, where AUTHORIZER_CONFIGURATION_ERROR's message is null.
    out = rf.gateway_response(api, info, "AUTHORIZER_CONFIGURATION_ERROR")
    assert out.status == 500 and json.loads(out.body) == {"message": None}
    out = rf.gateway_response(api, info, rf.LAMBDA_PROXY_ERROR)
    assert out.status == 502 and json.loads(out.body) == {"message": "Internal server error"}


def test_project_gateway_responses_render_json(template=PROJECT_TEMPLATE):
    """Every response API Gateway can give through the project's template is JSON, with realistic
    values and with error messages full of quotes, backslashes and non-ASCII."""
    api = rf.load_api(template)
    request = incoming("GET", "/v1/keys/self", headers=[("User-Agent", NASTY)])
    info = info_for(request, "/v1/keys/self")
    denial = {"retry_after": "7", "rate_limit": "100", "rate_reset": "1795430460", "principalId": "rate-limited"}
    kinds = list(rf.DEFAULT_STATUS) + [rf.LAMBDA_PROXY_ERROR]
    for kind in kinds:
        for message in (rf.MESSAGES.get(kind), NASTY, rf.incomplete_signature_message(NASTY)):
            out = rf.gateway_response(api, info, kind, message, denial if kind == "ACCESS_DENIED" else None)
            try:
                parsed = json.loads(out.body)
            except ValueError as e:
                raise AssertionError(f"{kind} with message {message!r}: not JSON: {out.body!r}") from e
            assert info.request_id in out.body.decode(), f"{kind}: the body does not name the request"
            assert isinstance(parsed, dict), kind
            assert 400 <= out.status <= 599, (kind, out.status)
            assert all("\n" not in v and "\r" not in v for _, v in out.headers), (kind, out.headers)


# --- the front over HTTP, against a fake Lambda invoke API


class FakeLambda(BaseHTTPRequestHandler):
    """The Lambda invoke API as `cargo lambda watch` serves it, with functions made to order."""

    protocol_version = "HTTP/1.1"
    events = {}  # function -> the events it received

    def do_POST(self):
        function = self.path.split("/")[3]
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLambda.events.setdefault(function, []).append(event)
        status, answer = getattr(self, "fn_" + function)(event)
        body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

    def fn_authorizer(self, event):
        mode = event["headers"].get("X-Test-Auth", "allow")
        arn = event["methodArn"]
        if mode == "allow":
            return 200, _policy("Allow", arn.rsplit("/", 3)[0] + "/*/*", context={"org": "o1", "n": 3, "ok": True})
        if mode == "deny":
            return 200, _policy("Deny", arn, context={"retry_after": 9})
        if mode == "unauthorized":
            return 500, {"errorType": "Refusal", "errorMessage": "Unauthorized"}
        if mode == "crash":
            return 500, {"errorType": "Refusal", "errorMessage": "dependency unavailable"}
        return 200, {"principalId": "p"}  # no policy

    def fn_echo(self, event):
        body = {
            "requestId": event["requestContext"]["requestId"],
            "authorizer": event["requestContext"].get("authorizer"),
            "pathParameters": event["pathParameters"],
            "body_length": len(event["body"] or ""),
        }
        return 200, {
            "statusCode": 200,
            "headers": {},
            "multiValueHeaders": {"content-type": ["application/json"], "x-seen": ["1", "2"]},
            "body": json.dumps(body),
            "isBase64Encoded": False,
        }

    def fn_crash(self, event):
        return 500, {"errorType": "Panic", "errorMessage": "boom"}

    def fn_malformed(self, event):
        return 200, {"statusCode": 200, "body": {"not": "a string"}}

    def fn_slow(self, event):
        time.sleep(1.5)
        return 200, {"statusCode": 200, "body": "late"}

    def fn_huge(self, event):
        return 200, {"statusCode": 200, "body": "x" * (rf.LAMBDA_PAYLOAD_LIMIT + 10)}

    def fn_qr(self, event):
        return 200, {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": base64.b64encode(PNG).decode(),
            "isBase64Encoded": True,
        }


class Stack:
    """The fake Lambda API and a front before it, both on loopback ports, in this process."""

    def __enter__(self):
        FakeLambda.events = {}
        self.lambda_server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLambda)
        self.lambda_server.daemon_threads = True
        lambda_url = "http://127.0.0.1:%d" % self.lambda_server.server_address[1]
        self.front = rf.make_server(load_test_api(), lambda_url, "127.0.0.1", 0, integration_timeout=0.7)
        for server in (self.lambda_server, self.front):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.port = self.front.server_address[1]
        return self

    def __exit__(self, *exc):
        for server in (self.front, self.lambda_server):
            server.shutdown()
            server.server_close()

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def request(self, method, path, headers=None, body=None, connection=None):
        conn = connection or self.connection()
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        if connection is None:
            conn.close()
        return response, data


def _quiet(fn):
    """Runs fn with the front's per-request log lines kept off the test output."""

    def run(*args):
        saved, sys.stderr = sys.stderr, open(os.devnull, "w")
        try:
            return fn(*args)
        finally:
            sys.stderr.close()
            sys.stderr = saved

    run.__name__ = fn.__name__
    return run


@_quiet
def test_http_allowed_request_and_keep_alive():
    with Stack() as stack:
        conn = stack.connection()
        response, data = stack.request("GET", "/things/42", {"X-Test-Auth": "allow"}, connection=conn)
        assert response.status == 200, data
        seen = json.loads(data)
        request_id = response.getheader("x-amzn-RequestId")
        assert seen["requestId"] == request_id
        authorizer_event = FakeLambda.events["authorizer"][-1]
        assert authorizer_event["requestContext"]["requestId"] == request_id
        assert seen["pathParameters"] == {"id": "42"}
        context = seen["authorizer"]
        assert (context["org"], context["n"], context["ok"], context["principalId"]) == ("o1", "3", "true", "p1")
        assert isinstance(context["integrationLatency"], int)
        assert response.getheader("x-seen") == "1, 2"
        # The same connection serves the next requests (keep-alive, exact Content-Length).
        # HEAD reaches ANY (GET does not imply HEAD); no body follows, whatever the length says.
        response, data = stack.request("HEAD", "/things/42", connection=conn)
        assert response.status == 200 and data == b"" and int(response.getheader("Content-Length")) > 0
        response, data = stack.request("HEAD", "/open", connection=conn)
        assert response.status == 404 and data == b""
        json_type = {"Content-Type": "application/json"}
        response, data = stack.request("POST", "/things/7", json_type, b'{"a":1}', connection=conn)
        seen = json.loads(data)
        assert response.status == 200 and seen["authorizer"] is None and seen["body_length"] == 7
        conn.close()


@_quiet
def test_http_authorizer_outcomes():
    with Stack() as stack:
        response, data = stack.request("GET", "/things/42", {"X-Test-Auth": "unauthorized"})
        assert response.status == 401 and json.loads(data)["request_id"] == response.getheader("x-amzn-RequestId")
        response, data = stack.request("GET", "/things/42", {"X-Test-Auth": "deny"})
        assert response.status == 429 and response.getheader("Retry-After") == "9"
        assert json.loads(data)["message"] == rf.EXPLICIT_DENY_MESSAGE
        for mode in ("crash", "garbage"):
            response, data = stack.request("GET", "/things/42", {"X-Test-Auth": mode})
            assert response.status == 500 and json.loads(data) == {"message": None}, (mode, data)
        assert "echo" not in FakeLambda.events  # no request reached the function


@_quiet
def test_http_gateway_errors():
    with Stack() as stack:
        response, data = stack.request("GET", "/nothing")
        assert response.status == 404 and response.getheader("X-Request-Id") == response.getheader("x-amzn-RequestId")
        response, data = stack.request("GET", "/nothing", {"Authorization": "Bearer kh_live_x.y"})
        assert response.status == 403 and "missing equal-sign" in json.loads(data)["message"]
        response, data = stack.request("GET", "/crash")
        assert response.status == 502 and json.loads(data) == {"message": "Internal server error"}
        response, data = stack.request("GET", "/malformed")
        assert response.status == 502
        response, data = stack.request("GET", "/huge")
        assert response.status == 502  # Lambda fails an answer over 6 MB
        response, data = stack.request("GET", "/slow")
        assert response.status == 504 and json.loads(data) == {"message": "Endpoint request timed out"}
        big = b"x" * (rf.LAMBDA_PAYLOAD_LIMIT + 1)
        response, data = stack.request("POST", "/files/x", {"Content-Type": "text/plain"}, big)
        assert response.status == 500  # Lambda refuses an event over 6 MB: INTEGRATION_FAILURE
        assert "echo" not in FakeLambda.events


@_quiet
def test_http_binary_answers_reach_the_client_decoded():
    """The test template lists image/png: a client whose first Accept type is image/png gets the
    PNG's bytes; any other gets the function's base64 text, as from API Gateway."""
    with Stack() as stack:
        response, data = stack.request("GET", "/qr", {"Accept": "image/png"})
        assert response.status == 200 and data == PNG, data
        assert response.getheader("Content-Type") == "image/png"
        assert int(response.getheader("Content-Length")) == len(PNG)
        for headers in ({"Accept": "*/*"}, {"Accept": "text/html,image/png"}, {}):
            response, data = stack.request("GET", "/qr", headers)
            assert response.status == 200 and data == base64.b64encode(PNG), (headers, data)


@_quiet
def test_http_oversized_body_is_refused_unread():
    with Stack() as stack:
        with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
            sock.sendall(
                b"POST /open HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                b"Content-Length: %d\r\n\r\n" % (rf.MAX_REQUEST_BODY + 1)
            )
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
        assert b"100 Continue" not in answer


def run(template=PROJECT_TEMPLATE):
    tests = [(name, fn) for name, fn in globals().items() if name.startswith("test_") and callable(fn)]
    failures = 0
    for name, fn in tests:
        try:
            if "template" in fn.__code__.co_varnames[: fn.__code__.co_argcount]:
                fn(template)
            else:
                fn()
            print(f"ok   {name}")
        except Exception:  # noqa: BLE001 - every failure is reported, then the next test runs
            failures += 1
            print(f"FAIL {name}\n{traceback.format_exc()}")
    print(f"{len(tests) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else PROJECT_TEMPLATE))
