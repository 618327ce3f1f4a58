"""A local stand-in for API Gateway REST in front of `cargo lambda watch`, for make test.

    rest_front.py --template template.yaml --lambda-url http://127.0.0.1:PORT --port N [--host 127.0.0.1]
    rest_front.py --template template.yaml --routes      # print the route table and exit

Locally every request reaches the functions through `cargo lambda watch` as an HTTP API (v2) event
with no authorizer. In AWS the same request goes through API Gateway REST: its resource tree, the
REQUEST Lambda authorizer, REST (v1) proxy events and the GatewayResponses of template.yaml. This
front does that part of API Gateway's work, reading everything from template.yaml (its only source
of truth), and calls the functions through the Lambda invoke API that watch also serves
(POST {lambda-url}/2015-03-31/functions/<binary>/invocations).

What it models, per request:
- a body over 10 MB: REQUEST_TOO_LARGE;
- the resource tree of the `Type: Api` events (literal segments before {param} before {greedy+},
  a method before ANY); no resource or method: MISSING_AUTHENTICATION_TOKEN, or the 403
  incomplete-signature answer when an `Authorization` header that is not SigV4 came along;
- the stage and method throttling of MethodSettings and the account's default limits: THROTTLED;
- the REQUEST authorizer (the API's default one unless `Authorizer: NONE`): its identity sources,
  its event, its answer (error "Unauthorized": UNAUTHORIZED; any other error or a malformed
  answer: AUTHORIZER_CONFIGURATION_ERROR; an explicit or implicit deny of the method ARN:
  ACCESS_DENIED; allow: its principalId and context, stringified, reach the function);
- the REST v1 proxy event and the function's answer (a malformed answer or a function error is
  API Gateway's 502; a Lambda invoke refusal, such as an event over 6 MB, INTEGRATION_FAILURE;
  no answer within 29 s, INTEGRATION_TIMEOUT), binaryMediaTypes (a request body whose
  Content-Type matches goes base64; a base64 answer is decoded when the request's first Accept
  media type matches), the response headers API Gateway remaps, and `x-amzn-RequestId` on every
  answer;
- GatewayResponses: StatusCode (or the type's default, or DEFAULT_4XX/5XX's), header mappings
  (static 'text', context.*, method.request.*) and the application/json template with its
  $context variables.

What it does not model: authorizer result caching (the template sets ReauthorizeEvery: 0; a
non-zero TTL is reported at start-up and ignored), usage plans and API keys, request validators,
mapping templates other than GatewayResponses' $context variables ($util, $input, #if are left as
written), CORS, custom domains and base path mappings (requests come without the stage prefix),
TLS, the Lambda functions' own timeouts (watch does not enforce them), WAF, resource policies,
IAM (AWS_IAM) and Cognito authorizers, TOKEN authorizers, and header or URL length limits.
"""

import argparse
import base64
import dataclasses
import datetime
import fnmatch
import hashlib
import http.client
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
DEFAULT_API_ID = "abc123defg"  # the id the sample events in events/ use

MAX_REQUEST_BODY = 10 * 1024 * 1024  # API Gateway REST payload limit
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024  # synchronous invoke: request and response, each
INTEGRATION_TIMEOUT_S = 29.0  # REST API default integration timeout
ACCOUNT_RATE, ACCOUNT_BURST = 10000.0, 5000.0  # account-level throttling defaults per region

STANDARD_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

# API Gateway's default status for each response type it can produce here. DEFAULT_4XX and
# DEFAULT_5XX have none: they take the status of the type that falls back to them.
DEFAULT_STATUS = {
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "INCOMPLETE_SIGNATURE": 403,
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "REQUEST_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "BAD_REQUEST_BODY": 400,
    "BAD_REQUEST_PARAMETERS": 400,
    "THROTTLED": 429,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "API_CONFIGURATION_ERROR": 500,
}

# Status when neither the type nor its DEFAULT_xXX sets one, where that differs from the table:
# a refused Lambda invocation answers 500 while INTEGRATION_FAILURE is not customized (AWS
# Lambda's "Handling Lambda errors with an API Gateway API"), 504 once it is.
UNCUSTOMIZED_STATUS = {"INTEGRATION_FAILURE": 500}

# A Lambda proxy function error or malformed answer has no response type of its own: it is
# API Gateway's 502 "Internal server error", which DEFAULT_5XX customizes.
LAMBDA_PROXY_ERROR = "DEFAULT_5XX"

# $context.error.message of each type (None renders `null` through messageString).
MESSAGES = {
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "UNAUTHORIZED": "Unauthorized",
    "ACCESS_DENIED": "User is not authorized to access this resource",
    "AUTHORIZER_FAILURE": None,
    "AUTHORIZER_CONFIGURATION_ERROR": None,
    "REQUEST_TOO_LARGE": "Request Too Long",
    "THROTTLED": "Too Many Requests",
    "INTEGRATION_FAILURE": "Internal server error",
    "INTEGRATION_TIMEOUT": "Endpoint request timed out",
    "API_CONFIGURATION_ERROR": "Internal server error",
    LAMBDA_PROXY_ERROR: "Internal server error",
}
EXPLICIT_DENY_MESSAGE = "User is not authorized to access this resource with an explicit deny"

# The x-amzn-ErrorType API Gateway sends with these (only those known for sure).
ERROR_TYPES = {
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "INCOMPLETE_SIGNATURE": "IncompleteSignatureException",
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    LAMBDA_PROXY_ERROR: "InternalServerErrorException",
}

# Headers of a Lambda proxy answer that API Gateway renames to x-amzn-Remapped-<name>: the
# transport and authentication ones of its documented list (Content-Type and Content-Encoding
# of a proxy answer do reach the client).
REMAPPED_RESPONSE_HEADERS = {
    "authorization", "connection", "content-length", "date", "server", "www-authenticate",
    "transfer-encoding", "upgrade", "te", "trailer", "proxy-authenticate",
}
HOP_BY_HOP_REQUEST_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def warn(message):
    print(f"rest front: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# template.yaml


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) read as their long form."""


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass


def resolve_scalar(value, template):
    """A literal, or a !Ref to a parameter's default; None for anything else."""
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        if name == "AWS::Region":
            return REGION
        if name == "AWS::AccountId":
            return ACCOUNT_ID
        default = template.get("Parameters", {}).get(name, {}).get("Default")
        return None if default is None else str(default)
    return None


def referenced_resource(value):
    """The logical id a !Ref or !GetAtt points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def function_binary(logical_id, resource):
    """The binary (and watch function) name: cargo-lambda's Binary build property; without it,
    the logical id without its Function suffix, in kebab case (SandboxSweepFunction -> sandbox-sweep)."""
    binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
    if binary:
        return binary
    stem = logical_id[: -len("Function")] if logical_id.endswith("Function") else logical_id
    return re.sub(r"(?<!^)(?=[A-Z])", "-", stem).lower()


@dataclasses.dataclass
class Authorizer:
    name: str
    function: str
    identity_headers: list
    identity_query: list
    ttl: int


@dataclasses.dataclass
class Route:
    path: str  # the resource path, /v1/keys/{id}
    method: str  # GET, ..., or ANY
    function: str
    authorizer: object  # Authorizer or None
    event: str  # the SAM event's logical id, for messages


@dataclasses.dataclass
class GatewayResponseSpec:
    status: object  # int or None
    headers: dict  # header name -> mapping expression
    templates: dict  # content type -> template


@dataclasses.dataclass
class ThrottleSetting:
    resource_path: str  # "/*" or a resource path
    method: str  # "*" or a method
    rate: float
    burst: float


class Resource:
    """One node of the REST API's resource tree."""

    def __init__(self, path):
        self.path = path
        self.literals = {}
        self.param = None  # (name, Resource)
        self.greedy = None  # (name, Resource)
        self.methods = {}  # method -> Route

    def child(self, segment):
        path = self.path.rstrip("/") + "/" + segment
        if segment.startswith("{") and segment.endswith("+}"):
            return self._variable("greedy", segment[1:-2], path)
        if segment.startswith("{") and segment.endswith("}"):
            return self._variable("param", segment[1:-1], path)
        return self.literals.setdefault(segment, Resource(path))

    def _variable(self, kind, name, path):
        existing = getattr(self, kind)
        if existing is None:
            existing = (name, Resource(path))
            setattr(self, kind, existing)
        elif existing[0] != name:
            # API Gateway refuses two variable children of one resource.
            raise ValueError(f"{path}: {{{existing[0]}}} and {{{name}}} under the same resource")
        return existing[1]


@dataclasses.dataclass
class Api:
    logical_id: str
    stage: str
    root: Resource
    routes: list
    gateway_responses: dict  # type -> GatewayResponseSpec
    binary_media_types: list
    throttles: list  # ThrottleSetting
    warnings: list


def _api_resource(template):
    apis = {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == "AWS::Serverless::Api"}
    if len(apis) != 1:
        raise ValueError(f"expected one AWS::Serverless::Api resource, found {sorted(apis) or 'none'}")
    (logical_id, resource), = apis.items()
    # SAM merges Globals.Api under each API's own properties.
    properties = {**(template.get("Globals", {}).get("Api") or {}), **(resource.get("Properties") or {})}
    return logical_id, properties


def _authorizers(template, auth, warnings):
    functions = template.get("Resources", {})
    found = {}
    for name, spec in (auth.get("Authorizers") or {}).items():
        if "FunctionArn" not in spec:
            warnings.append(f"authorizer {name} is not a Lambda authorizer: not modelled")
            continue
        if spec.get("FunctionPayloadType", "TOKEN") != "REQUEST":
            warnings.append(f"authorizer {name} is a TOKEN authorizer: not modelled")
            continue
        target = referenced_resource(spec["FunctionArn"])
        if target not in functions:
            raise ValueError(f"authorizer {name}: FunctionArn names no function of the template")
        identity = spec.get("Identity") or {}
        ttl = int(identity.get("ReauthorizeEvery", 300))  # SAM's default TTL is 300 s
        if ttl:
            warnings.append(f"authorizer {name} caches results for {ttl} s: caching is not modelled")
        for kind in ("StageVariables", "Context"):
            if identity.get(kind):
                warnings.append(f"authorizer {name}: identity source {kind} is not modelled")
        found[name] = Authorizer(
            name=name,
            function=function_binary(target, functions[target]),
            identity_headers=list(identity.get("Headers") or []),
            identity_query=list(identity.get("QueryStrings") or []),
            ttl=ttl,
        )
    return found


def _route_authorizer(event_auth, default, authorizers, where, warnings):
    name = (event_auth or {}).get("Authorizer", default)
    if name in (None, "NONE"):
        return None
    if name not in authorizers:
        warnings.append(f"{where}: authorizer {name} is not modelled; the route runs without one")
        return None
    return authorizers[name]


def _routes(template, api_id, authorizers, default_authorizer, warnings):
    routes = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties") or {}
        for event_id, event in (properties.get("Events") or {}).items():
            if event.get("Type") != "Api":
                continue
            spec = event.get("Properties") or {}
            if referenced_resource(spec.get("RestApiId")) != api_id:
                warnings.append(f"{logical_id}.{event_id} belongs to another API: skipped")
                continue
            where = f"{logical_id}.{event_id}"
            if (spec.get("Auth") or {}).get("ApiKeyRequired"):
                warnings.append(f"{where}: ApiKeyRequired is not modelled")
            method = str(spec["Method"]).upper()
            routes.append(
                Route(
                    path=spec["Path"],
                    method="ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                    function=function_binary(logical_id, resource),
                    authorizer=_route_authorizer(spec.get("Auth"), default_authorizer, authorizers, where, warnings),
                    event=where,
                )
            )
    return routes


def _gateway_responses(properties):
    found = {}
    for kind, spec in (properties.get("GatewayResponses") or {}).items():
        spec = spec or {}
        status = spec.get("StatusCode")
        found[kind] = GatewayResponseSpec(
            status=int(status) if status is not None else None,
            headers=dict(((spec.get("ResponseParameters") or {}).get("Headers")) or {}),
            templates=dict(spec.get("ResponseTemplates") or {}),
        )
    return found


def method_settings_path(encoded):
    """A MethodSettings ResourcePath (/~1v1~1keys, or /* for every resource) as a resource path."""
    return encoded if encoded == "/*" else encoded[1:].replace("~1", "/")


def _throttles(properties):
    found = []
    for setting in properties.get("MethodSettings") or []:
        if "ThrottlingRateLimit" in setting or "ThrottlingBurstLimit" in setting:
            found.append(
                ThrottleSetting(
                    resource_path=method_settings_path(str(setting.get("ResourcePath", "/*"))),
                    method=str(setting.get("HttpMethod", "*")).upper(),
                    rate=float(setting.get("ThrottlingRateLimit", ACCOUNT_RATE)),
                    burst=float(setting.get("ThrottlingBurstLimit", ACCOUNT_BURST)),
                )
            )
    return found


def load_api(template_path):
    """The REST API template.yaml describes, as this front needs it."""
    template = load_template(template_path)
    warnings = []
    api_id, properties = _api_resource(template)
    stage = resolve_scalar(properties.get("StageName"), template)
    if not stage:
        raise ValueError(f"{api_id}: StageName does not resolve to a value")
    auth = properties.get("Auth") or {}
    authorizers = _authorizers(template, auth, warnings)
    routes = _routes(template, api_id, authorizers, auth.get("DefaultAuthorizer"), warnings)
    root = Resource("/")
    for route in routes:
        node = root
        for segment in [s for s in route.path.split("/") if s]:
            node = node.child(segment)
        if route.method in node.methods:
            raise ValueError(f"{route.event}: {route.method} {route.path} is defined twice")
        node.methods[route.method] = route
    binary = [str(t).replace("~1", "/") for t in properties.get("BinaryMediaTypes") or []]
    return Api(
        logical_id=api_id,
        stage=stage,
        root=root,
        routes=routes,
        gateway_responses=_gateway_responses(properties),
        binary_media_types=binary,
        throttles=_throttles(properties),
        warnings=warnings,
    )


# ---------------------------------------------------------------------------------------------
# Routing


def path_segments(path):
    """The path's segments, still percent-encoded. API Gateway ignores one trailing slash."""
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    return [] if path == "/" else path.split("/")[1:]


def unquote(text):
    return urllib.parse.unquote(text, errors="replace")


def find_resource(root, segments):
    """The resource a path reaches, with its path parameters (decoded), or None. A literal child
    is tried before {param}, {param} before {greedy+}; a branch that reaches no resource gives way
    to the next kind."""

    def walk(node, index, params):
        if index == len(segments):
            return node, params
        raw = segments[index]
        if raw == "":
            return None  # an empty segment (//) matches no resource
        segment = unquote(raw)
        if segment in node.literals:
            found = walk(node.literals[segment], index + 1, params)
            if found:
                return found
        if node.param:
            name, child = node.param
            found = walk(child, index + 1, {**params, name: segment})
            if found:
                return found
        if node.greedy:
            name, child = node.greedy
            return child, {**params, name: unquote("/".join(segments[index:]))}
        return None

    return walk(root, 0, {})


def find_route(api, method, path):
    """(route, path parameters) for a request, or None when API Gateway has no such method."""
    if method not in STANDARD_METHODS:
        return None
    found = find_resource(api.root, path_segments(path))
    if not found:
        return None
    resource, params = found
    route = resource.methods.get(method) or resource.methods.get("ANY")
    return (route, params) if route else None


# ---------------------------------------------------------------------------------------------
# Requests and events


@dataclasses.dataclass
class Incoming:
    """One client request as the front received it."""

    method: str
    path: str  # percent-encoded, without the query string
    query: str
    headers: list  # (name, value) pairs in arrival order
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"
    too_large: bool = False

    def header(self, name):
        """The last value of a header (any case), or None."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


def collect_headers(pairs):
    """(headers, multiValueHeaders) as API Gateway builds them: names grouped without regard to
    case under the first spelling seen; `headers` keeps the last value of each."""
    multi, spelling = {}, {}
    for name, value in pairs:
        key = spelling.setdefault(name.lower(), name)
        multi.setdefault(key, []).append(value)
    return {k: v[-1] for k, v in multi.items()}, multi


def parse_query(query):
    """(queryStringParameters, multiValueQueryStringParameters); values decoded, `+` as a space."""
    multi = {}
    for part in query.split("&") if query else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        name = urllib.parse.unquote_plus(name, errors="replace")
        if not name:
            continue
        multi.setdefault(name, []).append(urllib.parse.unquote_plus(value, errors="replace"))
    return {k: v[-1] for k, v in multi.items()}, multi


def media_type(content_type):
    return (content_type or "").split(";", 1)[0].strip().lower()


def matches_binary(content_type, binary_media_types):
    kind = media_type(content_type)
    return bool(kind) and any(fnmatch.fnmatchcase(kind, pattern.lower()) for pattern in binary_media_types)


def request_time(epoch_ms):
    t = datetime.datetime.fromtimestamp(epoch_ms / 1000, tz=datetime.timezone.utc)
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000"


def resource_id(resource_path):
    """A stable stand-in for API Gateway's resource id."""
    return hashlib.sha256(resource_path.encode()).hexdigest()[:6]


@dataclasses.dataclass
class RequestInfo:
    """What API Gateway knows of a request once routed: shared by the events and $context."""

    request_id: str
    extended_request_id: str
    api_id: str
    stage: str
    epoch_ms: int
    incoming: Incoming
    resource_path: str = ""
    path_params: dict = dataclasses.field(default_factory=dict)

    @property
    def host(self):
        return self.incoming.header("Host") or "localhost"

    @property
    def domain_name(self):
        return self.host.rsplit(":", 1)[0] if not self.host.endswith("]") else self.host

    @property
    def decoded_path(self):
        return unquote(self.incoming.path)


def identity(info):
    names = (
        "cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "accessKey", "principalOrgId",
        "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "user", "apiKey", "apiKeyId",
        "clientCert",
    )
    found = {name: None for name in names}
    found["sourceIp"] = info.incoming.source_ip
    found["userAgent"] = info.incoming.header("User-Agent")
    return found


def request_context(info):
    return {
        "resourceId": resource_id(info.resource_path),
        "resourcePath": info.resource_path,
        "httpMethod": info.incoming.method,
        "extendedRequestId": info.extended_request_id,
        "requestTime": request_time(info.epoch_ms),
        "path": f"/{info.stage}{info.decoded_path}",
        "accountId": ACCOUNT_ID,
        "protocol": info.incoming.protocol,
        "stage": info.stage,
        "domainPrefix": info.domain_name.split(".", 1)[0],
        "requestTimeEpoch": info.epoch_ms,
        "requestId": info.request_id,
        "identity": identity(info),
        "domainName": info.domain_name,
        "apiId": info.api_id,
    }


def forwarded_headers(info):
    """The client's headers plus those API Gateway adds before the integration."""
    pairs = [(k, v) for k, v in info.incoming.headers if k.lower() not in HOP_BY_HOP_REQUEST_HEADERS]
    forwarded_for = info.incoming.header("X-Forwarded-For")
    pairs = [(k, v) for k, v in pairs if k.lower() not in ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto")]
    source = info.incoming.source_ip
    trace = f"Root=1-{info.epoch_ms // 1000:08x}-{secrets.token_hex(12)}"
    pairs += [
        ("X-Amzn-Trace-Id", trace),
        ("X-Forwarded-For", f"{forwarded_for}, {source}" if forwarded_for else source),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    return pairs


def method_arn(info):
    path = info.incoming.path.lstrip("/")
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{info.api_id}/{info.stage}/{info.incoming.method}/{path}"


def authorizer_event(info, headers):
    """The REQUEST authorizer's event (events/authorizer-request.json is its shape)."""
    single, multi = collect_headers(headers)
    query, multi_query = parse_query(info.incoming.query)
    return {
        "type": "REQUEST",
        "methodArn": method_arn(info),
        "resource": info.resource_path,
        "path": info.decoded_path,
        "httpMethod": info.incoming.method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(info.path_params),
        "stageVariables": {},
        "requestContext": request_context(info),
    }


def proxy_body(incoming, binary_media_types):
    """(body, isBase64Encoded): base64 only for a binaryMediaTypes content type; otherwise the
    body as text (API Gateway's default, invalid UTF-8 replaced)."""
    if not incoming.body:
        return None, False
    if matches_binary(incoming.header("Content-Type"), binary_media_types):
        return base64.b64encode(incoming.body).decode("ascii"), True
    return incoming.body.decode("utf-8", errors="replace"), False


def proxy_event(info, headers, authorizer_context, binary_media_types):
    """The REST v1 (payload 1.0) Lambda proxy event."""
    single, multi = collect_headers(headers)
    query, multi_query = parse_query(info.incoming.query)
    context = request_context(info)
    if authorizer_context is not None:
        context["authorizer"] = authorizer_context
    body, is_base64 = proxy_body(info.incoming, binary_media_types)
    return {
        "resource": info.resource_path,
        "path": info.decoded_path,
        "httpMethod": info.incoming.method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(info.path_params) or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


# ---------------------------------------------------------------------------------------------
# The authorizer's answer


class AuthorizerAnswerInvalid(Exception):
    """An authorizer answer API Gateway cannot use: AUTHORIZER_CONFIGURATION_ERROR."""


def wildcard_match(pattern, text, ignore_case=False):
    """IAM matching: `*` any run of characters (slashes included), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _as_list(value):
    return value if isinstance(value, list) else [value]


def stringify(value):
    """A context value as API Gateway hands it on: every scalar as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def authorizer_context(answer):
    """The authorizer's context, stringified. Objects and arrays are refused, as API Gateway does;
    null values are dropped."""
    context = answer.get("context")
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise AuthorizerAnswerInvalid("context is not an object")
    found = {}
    for key, value in context.items():
        if isinstance(value, (dict, list)):
            raise AuthorizerAnswerInvalid(f"context.{key} is not a scalar")
        if value is not None:
            found[key] = stringify(value)
    return found


def policy_effect(answer, arn):
    """'Allow', 'Deny' (an explicit deny) or None (no statement covers the method: implicit deny)."""
    if not isinstance(answer, dict) or answer.get("principalId") in (None, ""):
        raise AuthorizerAnswerInvalid("no principalId")
    document = answer.get("policyDocument")
    if not isinstance(document, dict) or "Statement" not in document:
        raise AuthorizerAnswerInvalid("no policyDocument.Statement")
    allowed = False
    for statement in _as_list(document["Statement"]):
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise AuthorizerAnswerInvalid("a statement without Effect Allow or Deny")
        # NotAction and NotResource statements are not modelled: they cover nothing here.
        actions = _as_list(statement.get("Action", []))
        resources = _as_list(statement.get("Resource", []))
        covers = any(wildcard_match(str(a), "execute-api:Invoke", ignore_case=True) for a in actions) and any(
            wildcard_match(str(r), arn) for r in resources
        )
        if covers and statement["Effect"] == "Deny":
            return "Deny"
        allowed = allowed or covers
    return "Allow" if allowed else None


# ---------------------------------------------------------------------------------------------
# Answers


@dataclasses.dataclass
class Outgoing:
    status: int
    headers: list  # (name, value)
    body: bytes
    outcome: str  # for the log: the function, or the gateway response type


class MalformedProxyAnswer(Exception):
    """A Lambda proxy answer API Gateway cannot use: its 502."""


class BinaryDecodingFailed(Exception):
    """isBase64Encoded with binary support on, and a body that is not base64: API_CONFIGURATION_ERROR."""


def _header_value(value, where):
    if isinstance(value, (dict, list)):
        raise MalformedProxyAnswer(f"{where} is not a scalar")
    return stringify(value)


def answer_headers(answer):
    """headers and multiValueHeaders merged: the multi-value ones, then each single value not
    already among them."""
    single = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedProxyAnswer("headers or multiValueHeaders is not an object")
    merged = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyAnswer(f"multiValueHeaders.{name} is not an array")
        merged += [(name, _header_value(v, f"multiValueHeaders.{name}")) for v in values if v is not None]
    for name, value in single.items():
        if value is None:
            continue
        value = _header_value(value, f"headers.{name}")
        if (name.lower(), value) not in {(k.lower(), v) for k, v in merged}:
            merged.append((name, value))
    return merged


def accepts_binary(accept, binary_media_types):
    """Whether API Gateway decodes a base64 Lambda proxy answer for this request: only the FIRST
    media type of its Accept header counts (AWS documents it: "image/webp,image/*,*/*" is read as
    image/webp), matched against binaryMediaTypes, its wildcards only (an Accept of */* does not
    match image/png); the answer's own Content-Type plays no part. Without an Accept header, a
    "*/*" entry still decodes (reported, not documented); nothing narrower does."""
    first = media_type((accept or "").split(",", 1)[0])
    if not first:
        return "*/*" in binary_media_types
    return matches_binary(first, binary_media_types)


def answer_body(answer, accept, binary_media_types):
    """The answer's body bytes. A base64 body (isBase64Encoded) is decoded only when binary
    support applies (see accepts_binary); otherwise API Gateway sends the base64 text as it is.
    A text body goes out as it is, whatever binaryMediaTypes holds."""
    body = answer.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedProxyAnswer("body is not a string")
    if answer.get("isBase64Encoded") is True and accepts_binary(accept, binary_media_types):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError as e:
            raise BinaryDecodingFailed(str(e)) from e
    return body.encode("utf-8")


def proxy_answer(answer, accept, binary_media_types):
    """(status, headers, body) of a Lambda proxy answer; MalformedProxyAnswer when API Gateway
    would refuse it."""
    if not isinstance(answer, dict):
        raise MalformedProxyAnswer("the answer is not a JSON object")
    status = answer.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyAnswer(f"statusCode {status!r} is not an HTTP status")
    if not isinstance(answer.get("isBase64Encoded", False), bool):
        raise MalformedProxyAnswer("isBase64Encoded is not a boolean")
    headers = [
        (f"x-amzn-Remapped-{name}" if name.lower() in REMAPPED_RESPONSE_HEADERS else name, value)
        for name, value in answer_headers(answer)
    ]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default
    return status, headers, answer_body(answer, accept, binary_media_types)


# ---------------------------------------------------------------------------------------------
# Gateway responses

CONTEXT_REFERENCE = re.compile(r"\$!?(\{)?(context(?:\.[A-Za-z_][A-Za-z0-9_-]*)+)(?(1)\})")


def render_template(template, values):
    """$context.x and ${context.x} replaced by their value ('' when there is none)."""
    return CONTEXT_REFERENCE.sub(lambda m: values.get(m.group(2)[len("context."):]) or "", template)


def header_mapping(expression, values, info):
    """A gateway response header's value: 'static', context.x, or method.request.header|querystring|path.x
    (None when there is none)."""
    expression = str(expression)
    if len(expression) >= 2 and expression[0] == "'" and expression[-1] == "'":
        return expression[1:-1]
    sources = {
        "context.": values.get,
        "method.request.header.": info.incoming.header,
        "method.request.querystring.": lambda name: parse_query(info.incoming.query)[0].get(name),
        "method.request.path.": info.path_params.get,
    }
    for prefix, look_up in sources.items():
        if expression.startswith(prefix):
            return look_up(expression[len(prefix):])
    return None


def response_status(gateway_responses, kind):
    """The type's StatusCode; if the type is not customized, its DEFAULT_xXX's; else its default."""
    default = 502 if kind == LAMBDA_PROXY_ERROR else DEFAULT_STATUS[kind]
    own = gateway_responses.get(kind)
    if own is not None:
        return own.status or default
    fallback = gateway_responses.get("DEFAULT_4XX" if default < 500 else "DEFAULT_5XX")
    if fallback is not None and fallback.status:
        return fallback.status
    return UNCUSTOMIZED_STATUS.get(kind, default)


def response_spec(gateway_responses, kind):
    """The customization that applies: the type's own, else DEFAULT_4XX or DEFAULT_5XX, else None."""
    if kind in gateway_responses:
        return gateway_responses[kind]
    status = 502 if kind == LAMBDA_PROXY_ERROR else DEFAULT_STATUS[kind]
    return gateway_responses.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")


def context_values(info, kind, message, authorizer=None):
    """The $context variables a gateway response may use, flattened (`error.message`, ...)."""
    incoming = info.incoming
    values = {
        "requestId": info.request_id,
        "extendedRequestId": info.extended_request_id,
        "apiId": info.api_id,
        "accountId": ACCOUNT_ID,
        "stage": info.stage,
        "httpMethod": incoming.method,
        "resourcePath": info.resource_path,
        "resourceId": resource_id(info.resource_path) if info.resource_path else "",
        "path": f"/{info.stage}{info.decoded_path}",
        "domainName": info.domain_name,
        "domainPrefix": info.domain_name.split(".", 1)[0],
        "protocol": incoming.protocol,
        "requestTime": request_time(info.epoch_ms),
        "requestTimeEpoch": str(info.epoch_ms),
        "identity.sourceIp": incoming.source_ip,
        "identity.userAgent": incoming.header("User-Agent") or "",
        "error.responseType": kind,
        "error.message": "" if message is None else message,
        "error.messageString": json.dumps(message, ensure_ascii=False),
    }
    for key, value in (authorizer or {}).items():
        values[f"authorizer.{key}"] = value
    return values


DEFAULT_MESSAGE = object()


def gateway_response(api, info, kind, message=DEFAULT_MESSAGE, authorizer=None):
    """API Gateway's own answer of a type, as the template customizes it. `message` defaults to
    the type's own ($context.error.message); `authorizer` is the authorizer's context, if any."""
    if message is DEFAULT_MESSAGE:
        message = MESSAGES.get(kind)
    values = context_values(info, kind, message, authorizer)
    spec = response_spec(api.gateway_responses, kind)
    template = '{"message":$context.error.messageString}'  # API Gateway's default body
    headers = []
    if spec is not None:
        template = spec.templates.get("application/json", next(iter(spec.templates.values()), template))
        for name, expression in spec.headers.items():
            value = header_mapping(expression, values, info)
            if value is not None:
                headers.append((name, value))
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    if kind in ERROR_TYPES:
        headers.append(("x-amzn-ErrorType", ERROR_TYPES[kind]))
    body = render_template(template, values).encode("utf-8")
    return Outgoing(response_status(api.gateway_responses, kind), headers, body, kind)


def incomplete_signature_message(authorization):
    """API Gateway's message for an Authorization header that is not a SigV4 one."""
    digest = base64.b64encode(hashlib.sha256(authorization.encode("utf-8")).digest()).decode("ascii")
    return (
        "Invalid key=value pair (missing equal-sign) in Authorization header "
        f"(hashed with SHA-256 and encoded with Base64): '{digest}'."
    )


# ---------------------------------------------------------------------------------------------
# Lambda invoke API


@dataclasses.dataclass
class Invocation:
    kind: str  # ok, function_error, refused (Lambda would not run it), timeout
    payload: object  # the parsed answer or error, or a description


class Invoker:
    """Calls functions through the Lambda invoke API (`cargo lambda watch` serves it).

    Lambda's 6 MB limits, which watch does not enforce, are applied here, each the way Lambda
    fails it, so API Gateway's answer follows from that: an event over 6 MB is refused by the
    Invoke API itself (413 RequestEntityTooLargeException) and the function never runs; API
    Gateway reports a refused invocation as an integration failure (INTEGRATION_FAILURE, a 500
    while that type is not customized). An answer over 6 MB comes from a function that did run:
    Lambda replaces it with a Function.ResponseSizeTooLarge function error, which API Gateway
    answers like any function error, with its 502."""

    def __init__(self, lambda_url, timeout):
        parsed = urllib.parse.urlsplit(lambda_url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.timeout = timeout

    def invoke(self, function, event):
        payload = json.dumps(event, ensure_ascii=False).encode("utf-8")
        if len(payload) > LAMBDA_PAYLOAD_LIMIT:
            return Invocation("refused", f"event of {len(payload)} bytes is over Lambda's 6 MB")
        # One connection per call: a retried request on a stale keep-alive connection could run a
        # function twice.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(
                "POST",
                f"/2015-03-31/functions/{urllib.parse.quote(function)}/invocations",
                body=payload,
                headers={"Content-Type": "application/json", "Connection": "close"},
            )
            response = connection.getresponse()
            body = response.read()
            status, function_error = response.status, response.getheader("X-Amz-Function-Error")
        except TimeoutError:
            return Invocation("timeout", f"no answer within {self.timeout:g} s")
        except OSError as e:
            return Invocation("refused", f"invoke failed: {e}")
        finally:
            connection.close()
        return self._classify(status, function_error, body)

    NOT_JSON = object()

    @classmethod
    def _classify(cls, status, function_error, body):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = cls.NOT_JSON
        is_error_json = isinstance(parsed, dict) and "errorMessage" in parsed
        # Real Lambda: 200 and X-Amz-Function-Error; watch: 500 and the error JSON.
        if function_error or (status == 500 and is_error_json):
            error = parsed if is_error_json else {"errorMessage": body.decode(errors="replace")}
            return Invocation("function_error", error)
        if status != 200:
            return Invocation("refused", f"invoke answered {status}: {body[:200].decode(errors='replace')}")
        if len(body) > LAMBDA_PAYLOAD_LIMIT:
            error = {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": f"answer of {len(body)} bytes"}
            return Invocation("function_error", error)
        if parsed is cls.NOT_JSON:
            # Lambda's answer is always JSON; anything else is the emulator's own fault.
            return Invocation("refused", "invoke answered something that is not JSON")
        return Invocation("ok", parsed)


# ---------------------------------------------------------------------------------------------
# Throttling


class TokenBucket:
    def __init__(self, rate, burst):
        self.rate, self.capacity = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class Throttle:
    """Account-level limits, then the MethodSettings that cover the method (one bucket per method)."""

    def __init__(self, settings):
        self.settings = settings
        self.account = TokenBucket(ACCOUNT_RATE, ACCOUNT_BURST)
        self.buckets, self.lock = {}, threading.Lock()

    def _setting(self, route):
        """The most specific setting that covers the route's method, if any."""
        covering = [
            s for s in self.settings if s.resource_path in ("/*", route.path) and s.method in ("*", route.method)
        ]
        return max(covering, key=lambda s: (s.resource_path != "/*", s.method != "*"), default=None)

    def allows(self, route):
        if not self.account.take():
            return False
        setting = self._setting(route)
        if setting is None:
            return True
        with self.lock:
            bucket = self.buckets.setdefault((route.path, route.method), TokenBucket(setting.rate, setting.burst))
        return bucket.take()


# ---------------------------------------------------------------------------------------------
# The pipeline


class Front:
    def __init__(self, api, invoker, api_id=DEFAULT_API_ID, local_routes=(), lambda_url=None):
        self.api, self.invoker, self.api_id = api, invoker, api_id
        self.throttle = Throttle(api.throttles)
        # Paths of local-only routes (make dev's /docs), which the template does not deploy:
        # passed to watch's own HTTP front as they are, GET and HEAD only.
        self.local_routes, self.lambda_url = set(local_routes), lambda_url

    def handle(self, incoming):
        info = RequestInfo(
            request_id=str(uuid.uuid4()),
            extended_request_id=base64.b64encode(secrets.token_bytes(11)).decode("ascii"),
            api_id=self.api_id,
            stage=self.api.stage,
            epoch_ms=int(time.time() * 1000),
            incoming=incoming,
        )
        outgoing = self._respond(info)
        # Every answer, API Gateway's own included, names the request.
        outgoing.headers += [("x-amzn-RequestId", info.request_id), ("x-amz-apigw-id", info.extended_request_id)]
        return outgoing, info

    def _respond(self, info):
        incoming = info.incoming
        if incoming.too_large:
            return gateway_response(self.api, info, "REQUEST_TOO_LARGE")
        if incoming.path in self.local_routes and incoming.method in ("GET", "HEAD") and self.lambda_url:
            return self._pass_to_watch(incoming)
        found = find_route(self.api, incoming.method, incoming.path)
        if not found:
            return self._no_route(info)
        route, info.path_params = found
        info.resource_path = route.path
        if not self.throttle.allows(route):
            return gateway_response(self.api, info, "THROTTLED")
        headers = forwarded_headers(info)
        context = None
        if route.authorizer:
            context = self._authorize(info, route.authorizer, headers)
            if isinstance(context, Outgoing):
                return context
        return self._integrate(info, route, headers, context)

    def _pass_to_watch(self, incoming):
        parsed = urllib.parse.urlsplit(self.lambda_url)
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=INTEGRATION_TIMEOUT_S)
        try:
            target = incoming.path + (f"?{incoming.query}" if incoming.query else "")
            connection.request(incoming.method, target)
            answer = connection.getresponse()
            body = answer.read()
            keep = ("content-type", "cache-control", "x-request-id", "content-security-policy")
            headers = [(k, v) for k, v in answer.getheaders() if k.lower() in keep]
            return Outgoing(answer.status, headers, body, "local route")
        finally:
            connection.close()

    def _no_route(self, info):
        authorization = info.incoming.header("Authorization")
        if authorization is not None and not authorization.startswith("AWS4-HMAC-SHA256"):
            # API Gateway reads a stray Authorization header as a broken SigV4 signature.
            message = incomplete_signature_message(authorization)
            return gateway_response(self.api, info, "INCOMPLETE_SIGNATURE", message)
        return gateway_response(self.api, info, "MISSING_AUTHENTICATION_TOKEN")

    def _identity_missing(self, info, authorizer):
        query = parse_query(info.incoming.query)[0]
        return any(not info.incoming.header(h) for h in authorizer.identity_headers) or any(
            not query.get(q) for q in authorizer.identity_query
        )

    def _authorize(self, info, authorizer, headers):
        """The authorizer's context for the function event, or the gateway response that ends the request."""
        if self._identity_missing(info, authorizer):
            return gateway_response(self.api, info, "UNAUTHORIZED")  # the authorizer is not called
        started = time.monotonic()
        invocation = self.invoker.invoke(authorizer.function, authorizer_event(info, headers))
        latency_ms = int((time.monotonic() - started) * 1000)
        if invocation.kind == "function_error":
            if invocation.payload.get("errorMessage") == "Unauthorized":
                return gateway_response(self.api, info, "UNAUTHORIZED")
            warn(f"{info.request_id}: authorizer failed: {invocation.payload}")
            return gateway_response(self.api, info, "AUTHORIZER_CONFIGURATION_ERROR")
        if invocation.kind != "ok":
            warn(f"{info.request_id}: authorizer {invocation.kind}: {invocation.payload}")
            return gateway_response(self.api, info, "AUTHORIZER_CONFIGURATION_ERROR")
        answer = invocation.payload
        try:
            effect = policy_effect(answer, method_arn(info))
            context = authorizer_context(answer)
        except AuthorizerAnswerInvalid as e:
            warn(f"{info.request_id}: unusable authorizer answer ({e}): {json.dumps(answer)[:300]}")
            return gateway_response(self.api, info, "AUTHORIZER_CONFIGURATION_ERROR")
        context["principalId"] = stringify(answer["principalId"])
        if effect != "Allow":
            message = EXPLICIT_DENY_MESSAGE if effect == "Deny" else MESSAGES["ACCESS_DENIED"]
            return gateway_response(self.api, info, "ACCESS_DENIED", message, authorizer=context)
        return {**context, "integrationLatency": latency_ms}

    def _integrate(self, info, route, headers, context):
        event = proxy_event(info, headers, context, self.api.binary_media_types)
        invocation = self.invoker.invoke(route.function, event)
        if invocation.kind == "timeout":
            return gateway_response(self.api, info, "INTEGRATION_TIMEOUT")
        if invocation.kind == "refused":
            warn(f"{info.request_id}: {route.function}: {invocation.payload}")
            return gateway_response(self.api, info, "INTEGRATION_FAILURE")
        if invocation.kind == "function_error":
            warn(f"{info.request_id}: {route.function} failed: {invocation.payload}")
            return gateway_response(self.api, info, LAMBDA_PROXY_ERROR)
        try:
            status, headers, body = proxy_answer(
                invocation.payload, info.incoming.header("Accept"), self.api.binary_media_types
            )
        except MalformedProxyAnswer as e:
            warn(f"{info.request_id}: {route.function}: malformed Lambda proxy response ({e})")
            return gateway_response(self.api, info, LAMBDA_PROXY_ERROR)
        except BinaryDecodingFailed as e:
            warn(f"{info.request_id}: {route.function}: body is not base64 ({e})")
            return gateway_response(self.api, info, "API_CONFIGURATION_ERROR")
        return Outgoing(status, headers, body, route.function)


# ---------------------------------------------------------------------------------------------
# HTTP


def utf8(latin1_text):
    return latin1_text.encode("latin-1", errors="replace").decode("utf-8", errors="replace")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, with a Content-Length on every answer
    timeout = 120  # an idle keep-alive connection is closed after this

    def __getattr__(self, name):
        # Every method reaches the pipeline; it decides what API Gateway would do with it.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self):
        started = time.monotonic()
        incoming = self._incoming()
        if incoming is None:
            return
        outgoing, info = self.server.front.handle(incoming)
        self._send(outgoing)
        elapsed = int((time.monotonic() - started) * 1000)
        print(
            f"{incoming.method} {incoming.path} -> {outgoing.status} {outgoing.outcome} {elapsed}ms {info.request_id}",
            file=sys.stderr,
            flush=True,
        )

    def _incoming(self):
        target = urllib.parse.urlsplit(self.path)
        # Header bytes arrive as latin-1 text: read them back as the UTF-8 clients send.
        headers = [(k, utf8(v)) for k, v in self.headers.items()]
        if not any(k.lower() == "host" for k, _ in headers):
            headers.append(("Host", f"{self.server.server_address[0]}:{self.server.server_address[1]}"))
        body, too_large = self._body()
        if body is None and not too_large:
            return None
        return Incoming(
            method=self.command,
            path=target.path or "/",
            query=target.query,
            headers=headers,
            body=body or b"",
            source_ip=self.client_address[0],
            protocol=self.request_version,
            too_large=too_large,
        )

    def _declared_length(self):
        try:
            return int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None

    def handle_expect_100(self):
        # An oversized body is refused unread: no 100 Continue invites it.
        length = self._declared_length()
        return True if length is not None and length > MAX_REQUEST_BODY else super().handle_expect_100()

    def _body(self):
        """(body, too_large). Over the limit, the rest is not read and the connection closes."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunked_body()
        length = self._declared_length()
        if length is None or length < 0:
            self.send_error(400, "bad Content-Length")
            return None, False
        if length > MAX_REQUEST_BODY:
            self.close_connection = True
            return b"", True
        return self.rfile.read(length), False

    def _chunked_body(self):
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks), False
            total += size
            if total > MAX_REQUEST_BODY:
                self.close_connection = True
                return b"", True
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, outgoing):
        self.send_response_only(outgoing.status)
        for name, value in outgoing.headers:
            self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(outgoing.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and outgoing.status not in (204, 304):
            self.wfile.write(outgoing.body)
        self.wfile.flush()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        warn(format % args)


class FrontServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, front):
        super().__init__(address, Handler)
        self.front = front


def make_server(api, lambda_url, host, port, integration_timeout, api_id=DEFAULT_API_ID, local_routes=()):
    """The front, bound and listening; serve_forever() runs it."""
    invoker = Invoker(lambda_url, integration_timeout)
    return FrontServer((host, port), Front(api, invoker, api_id, local_routes, lambda_url))


def print_routes(api):
    for route in sorted(api.routes, key=lambda r: (r.path, r.method)):
        auth = route.authorizer.name if route.authorizer else "NONE"
        print(f"{route.method:7} {route.path:55} -> {route.function:10} authorizer {auth}")
    print(f"stage {api.stage}; gateway responses: {', '.join(sorted(api.gateway_responses)) or 'none'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--template", default=os.path.join(os.path.dirname(__file__), "..", "..", "template.yaml"))
    parser.add_argument("--lambda-url", help="cargo lambda watch's address (it serves the invoke API)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="0 picks a free port")
    parser.add_argument("--api-id", default=DEFAULT_API_ID)
    parser.add_argument("--integration-timeout", type=float, default=INTEGRATION_TIMEOUT_S)
    parser.add_argument("--routes", action="store_true", help="print the route table and exit")
    parser.add_argument(
        "--local-route", action="append", default=[], help="a path served by watch itself (make dev's /docs)"
    )
    args = parser.parse_args(argv)

    try:
        api = load_api(args.template)
    except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
        parser.exit(2, f"rest front: {args.template}: {e}\n")
    for message in api.warnings:
        warn(message)
    if args.routes:
        print_routes(api)
        return 0
    if not args.lambda_url or args.port is None:
        parser.error("--lambda-url and --port are required to serve")
    server = make_server(
        api, args.lambda_url, args.host, args.port, args.integration_timeout, args.api_id, args.local_route
    )
    host, port = server.server_address[:2]
    print(f"rest front on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
