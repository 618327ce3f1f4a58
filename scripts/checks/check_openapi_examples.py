"""Checks that openapi.yaml shows an example request and response for every operation.

The API reference (Redoc) shows each operation's `x-codeSamples` as its example request and the
media types' `example`s as its example bodies, and the conformance fuzzer (schemathesis, examples
phase) sends the request examples to a live stack. A sample with the wrong method or path, or an
example that its schema refuses, misleads a reader and fails the fuzzer; nothing else notices.

Each operation must have a curl sample (`x-codeSamples`) with its method and path, the API key
unless it is public, a JSON `Content-Type` with any body, and its request example as that body.
Each request body and each 2xx/302 JSON response must have an example, and every example in the
document (media types, parameters, headers, schemas' `examples`) must validate against its
schema, `$ref`s resolved against the document (JSON Schema 2020-12; the formats jsonschema
checks without extra packages, `date-time`, `date` and `email` among them, are checked too).
Run it after changing openapi.yaml.

usage: check_openapi_examples.py openapi.yaml
"""

import json
import re
import shlex
import sys

import jsonschema
import referencing
import yaml
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:keyhive:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_MAPS = ("properties", "patternProperties", "$defs")
SCHEMA_SINGLES = ("items", "not", "if", "then", "else", "additionalProperties", "propertyNames", "contains")


def pointer(parts):
    """A JSON pointer (RFC 6901) to the node at these keys."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validator(doc):
    """A function (instance, schema location) -> error messages, with the document as `$ref` base."""
    registry = referencing.Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))

    def errors(instance, parts):
        schema = {"$ref": DOC_URI + "#" + pointer(parts)}
        checker = jsonschema.Draft202012Validator(
            schema, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        found = checker.iter_errors(instance)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]

    return errors


def resolve(doc, node):
    """The node itself, or the component its local `$ref` names."""
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].split("#/", 1)[1].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations(doc):
    """(path, method, operation) for every operation under `paths`."""
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def json_media(content):
    return (content or {}).get("application/json")


# ---- examples present and valid -------------------------------------------------------------------


def objects(node, parts, skip=()):
    """Every object of the document with the keys that reach it, not descending below `skip` keys."""
    if isinstance(node, dict):
        yield node, parts
        for key, value in node.items():
            if key not in skip:
                yield from objects(value, parts + [key], skip)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from objects(value, parts + [i], skip)


def has_example(node):
    return "example" in node or "examples" in node


def example_owners(doc):
    """Every object with `example` or `examples` beside a `schema` (media types, parameters, headers)."""
    return ((node, parts) for node, parts in objects(doc, []) if "schema" in node and has_example(node))


def owner_problems(doc, errors):
    problems = []
    for owner, parts in example_owners(doc):
        values = [("example", owner["example"])] if "example" in owner else []
        for name, example in (owner.get("examples") or {}).items():
            values.append((f"examples/{name}", resolve(doc, example).get("value")))
        for label, value in values:
            for message in errors(value, parts + ["schema"]):
                problems.append(f"{pointer(parts)}/{label} does not match its schema: {message}")
    return problems


def schemas_with_examples(schema, parts):
    """Every schema, at any depth, that carries a JSON Schema `examples` list."""
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("examples"), list):
        yield schema, parts
    for key in SCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            yield from schemas_with_examples(sub, parts + [key, i])
    for key in SCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            yield from schemas_with_examples(sub, parts + [key, name])
    for key in SCHEMA_SINGLES:
        yield from schemas_with_examples(schema.get(key), parts + [key])


def all_schemas(doc):
    """Every schema root: the components' schemas and every `schema` of a media type or parameter."""
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        yield schema, ["components", "schemas", name]
    for owner, parts in objects(doc, [], skip=("schemas",)):
        if isinstance(owner.get("schema"), dict):
            yield owner["schema"], parts + ["schema"]


def schema_example_problems(doc, errors):
    problems = []
    for root, root_parts in all_schemas(doc):
        for schema, parts in schemas_with_examples(root, root_parts):
            for i, value in enumerate(schema["examples"]):
                for message in errors(value, parts):
                    problems.append(f"{pointer(parts)}/examples/{i} does not match its schema: {message}")
    return problems


def missing_examples(doc, path, method, op):
    """An operation's request body and 2xx/302 JSON responses without an example."""
    name = f"{method.upper()} {path}"
    problems = []
    body = json_media(resolve(doc, op.get("requestBody", {})).get("content"))
    if body is not None and not has_example(body):
        problems.append(f"{name}: the request body has no example")
    for status, response in op.get("responses", {}).items():
        if not (str(status).startswith("2") or str(status) == "302"):
            continue
        media = json_media(resolve(doc, response).get("content"))
        if media is not None and not has_example(media):
            problems.append(f"{name}: the {status} response has no example")
    return problems


# ---- curl samples ---------------------------------------------------------------------------------


def curl_sample(op):
    for sample in op.get("x-codeSamples") or []:
        if sample.get("label") == "curl" and sample.get("lang") == "Shell":
            return sample.get("source") or ""
    return None


def curl_words(source):
    """The sample's words, line continuations joined; None if it is not one curl command."""
    try:
        words = shlex.split(source.replace("\\\n", " "), comments=True)
    except ValueError:
        return None
    return words if words[:1] == ["curl"] else None


def option_value(words, *names):
    for i, word in enumerate(words[:-1]):
        if word in names:
            return words[i + 1]
    return None


def curl_method(words):
    method = option_value(words, "-X", "--request")
    if method:
        return method.upper()
    if "--head" in words or any(re.fullmatch(r"-[A-Za-z]*I[A-Za-z]*", w) for w in words):
        return "HEAD"
    return "POST" if option_value(words, "-d", "--data", "--data-raw") is not None else "GET"


def curl_path(words):
    """The path of the first `$API...` word, without its query."""
    for word in words:
        if word.startswith("$API/"):
            return word[len("$API"):].split("?", 1)[0]
    return None


def path_pattern(template):
    """`/v1/keys/{id}` -> a regex where each parameter is a shell variable (`$KEY_ID`) or a literal
    segment (`52`, a catalog id; `launch-2026`, a slug)."""
    parts = re.split(r"(\{[^}]+\})", template)
    value = r"(\$[A-Z][A-Z0-9_]*|[A-Za-z0-9._~-]+)"
    regex = "".join(value if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile("^" + regex + "$")


def sends_key(words):
    return any(w.replace(" ", "").lower() == "x-api-key:$key" for w in words)


def curl_problems(doc, path, method, op):
    name = f"{method.upper()} {path}"
    source = curl_sample(op)
    if source is None:
        return [f"{name}: no x-codeSamples entry {{lang: Shell, label: curl}}"]
    words = curl_words(source)
    if words is None:
        return [f"{name}: the curl sample is not one curl command"]
    problems = []
    if curl_method(words) != method.upper():
        problems.append(f"{name}: the curl sample sends {curl_method(words)}")
    sample_path = curl_path(words)
    if sample_path is None or not path_pattern(path).match(sample_path):
        problems.append(f"{name}: the curl sample's path {sample_path!r} is not {path} (write $API/...)")
    public = op.get("security", doc.get("security")) == []
    if public and sends_key(words):
        problems.append(f"{name}: the curl sample sends a key to a public operation")
    if not public and not sends_key(words):
        problems.append(f'{name}: the curl sample does not send -H "X-API-Key: $KEY"')
    return problems + body_problems(doc, name, op, words)


def body_problems(doc, name, op, words):
    """A body goes with a JSON Content-Type and is the request example; a required body is sent."""
    if "--json" in words:
        return [f"{name}: the curl sample uses --json (send -H 'Content-Type: application/json' -d)"]
    data = option_value(words, "-d", "--data", "--data-raw")
    request = resolve(doc, op.get("requestBody", {}))
    media = json_media(request.get("content")) or {}
    if data is None:
        return [f"{name}: the curl sample sends no body; the body is required"] if request.get("required") else []
    problems = []
    if "content-type:application/json" not in [w.replace(" ", "").lower() for w in words]:
        problems.append(f"{name}: the curl sample sends a body without -H 'Content-Type: application/json'")
    try:
        body = json.loads(data)
    except ValueError:
        return problems + [f"{name}: the curl sample's body is not JSON"]
    if "example" in media and body != media["example"]:
        problems.append(f"{name}: the curl sample's body is not the request example")
    return problems


# ---- main -----------------------------------------------------------------------------------------


def main(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    errors = validator(doc)
    ops = list(operations(doc))
    problems = []
    for op_path, method, op in ops:
        problems += curl_problems(doc, op_path, method, op)
        problems += missing_examples(doc, op_path, method, op)
    problems += owner_problems(doc, errors)
    problems += schema_example_problems(doc, errors)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        sys.exit(f"{path}: {len(problems)} problem(s) with examples and code samples")
    owners = sum(1 for _ in example_owners(doc))
    print(f"{path}: {len(ops)} operations, each with a curl sample and its examples; {owners} examples valid")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_openapi_examples.py openapi.yaml")
    main(sys.argv[1])
