"""Endpoint schemas enforced at serving (README "Request and response schemas").

`Contracts` compiles every schema of a version once, when the app is built. The app calls it twice per
request to an endpoint that names schemas: `check_request` after access control and before any
workflow runs (a body or query that fails is answered 400 with the errors), and `check_response` on
the reply (a 2xx reply that fails is logged, and answered 500 only when the version's settings say
`enforce_response_schema = true`). Endpoints without schemas cost one dictionary lookup each way.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft202012Validator, ValidationError

from epctl.runtime.answers import JSON_TYPE, Answer, error_answer, json_answer
from epctl.runtime.request import BadBodyError, Request
from epctl.schemas.json_schemas import JsonSchema, Part, endpoint_schemas, json_pointer
from epctl.schemas.project import Project

log = logging.getLogger("epctl.runtime.contracts")

# Bounds: a request that breaks every rule of a large schema still gets a short reply, and building it
# costs little. Messages quote the offending value, which may be a long string.
MAX_ERRORS = 20
MAX_MESSAGE = 200
# Credentials travel in the query too (README "Serving a request"); access control has read them, and
# they are no part of an endpoint's contract, so a strict query schema does not refuse them.
CREDENTIAL_QUERY_NAMES = frozenset({"apikey", "authorization"})
# The log record of a reply that failed its schema carries its violations under this attribute, so
# `epctl test` can fail the case that caused it.
RESPONSE_VIOLATION = "epctl_response_violation"
# Query values read as JSON numbers: digits as JSON writes them (leading zeros allowed), bounded in length.
_INTEGER = re.compile(r"-?[0-9]{1,300}")
_NUMBER = re.compile(r"-?[0-9]{1,300}(?:\.[0-9]{1,300})?(?:[eE][+-]?[0-9]{1,4})?")


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One way a body, query or reply fails its schema: where (a JSON pointer) and what."""

    part: Part
    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"in": self.part, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"


@dataclass(frozen=True, slots=True)
class QueryShape:
    """What a query schema says about its top-level properties, to read query strings as JSON values:
    the names whose values are arrays (every repeated value kept), and each name's declared types."""

    arrays: frozenset[str]
    types: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class EndpointContract:
    body: Draft202012Validator | None
    query: Draft202012Validator | None
    query_shape: QueryShape
    response: Draft202012Validator | None


class Contracts:
    """The compiled schemas of one version, by endpoint id."""

    def __init__(self, project: Project) -> None:
        self.enforce_responses = project.settings.enforce_response_schema
        self.contracts: dict[str, EndpointContract] = {}
        for endpoint in project.endpoints:
            schemas = endpoint_schemas(project, endpoint)
            if not schemas:
                continue
            query = schemas.get("query")
            self.contracts[endpoint.id] = EndpointContract(
                body=compile_schema(schemas.get("body")),
                query=compile_schema(query),
                query_shape=read_query_shape(query),
                response=compile_schema(schemas.get("response")),
            )

    def has_contract(self, endpoint_id: str) -> bool:
        """Return whether the endpoint has any schema to check (request or response)."""
        return endpoint_id in self.contracts

    def checks_body(self, endpoint_id: str) -> bool:
        """Return whether the endpoint has a body schema (its requests' bodies are read to check)."""
        contract = self.contracts.get(endpoint_id)
        return contract is not None and contract.body is not None

    def check_request(self, endpoint_id: str, request: Request) -> Answer | None:
        """Return the 400 reply for a request whose query or body fails its endpoint's schema, else
        None. Reads the body only when a body schema is there to check it."""
        contract = self.contracts.get(endpoint_id)
        if contract is None:
            return None
        violations: list[SchemaViolation] = []
        if contract.query is not None:
            query = read_query_values(request.environ.get("QUERY_STRING", ""), contract.query_shape)
            violations += find_violations(contract.query, query, "query")
        if contract.body is not None:
            violations += check_body(contract.body, request)
        if not violations:
            return None
        body = {"error": "Bad request", "errors": [v.to_json() for v in violations[:MAX_ERRORS]]}
        return json_answer(body, 400)

    def check_response(self, endpoint_id: str, request: Request, response: Answer) -> Answer:
        """Return `response`, or a 500 in its place when it fails the endpoint's response schema and
        the version enforces response schemas. A failure is logged either way. Only 2xx replies with a
        body are checked: error replies have their own shapes."""
        contract = self.contracts.get(endpoint_id)
        if contract is None or contract.response is None:
            return response
        if not 200 <= response.code < 300 or response.code == 204 or response.stream is not None:
            # Error replies have their own shapes; a streamed reply (a WSGI app a workflow returned)
            # is passed on as it comes, never read twice.
            return response
        violations = check_reply(contract.response, response)
        if not violations:
            return response
        log.log(
            logging.ERROR if self.enforce_responses else logging.WARNING,
            'the reply of endpoint "%s" to %s %s does not match its response_schema: %s',
            endpoint_id,
            request.method,
            request.path,
            "; ".join(str(v) for v in violations),
            extra={RESPONSE_VIOLATION: [str(v) for v in violations]},
        )
        if not self.enforce_responses:
            return response
        return error_answer(500, "Internal server error")


def compile_schema(schema: JsonSchema | None) -> Draft202012Validator | None:
    """Return the validator of `schema` (checked by `validate` when the project loaded), formats
    asserted: a schema that says `"format": "email"` means it."""
    if schema is None:
        return None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def find_violations(validator: Draft202012Validator, instance: object, part: Part) -> list[SchemaViolation]:
    """Return at most MAX_ERRORS ways `instance` fails, ordered by where they are."""
    errors: Iterator[ValidationError] = validator.iter_errors(instance)
    found = [
        SchemaViolation(part, json_pointer(error.absolute_path), shorten(error.message))
        for error in itertools.islice(errors, MAX_ERRORS)
    ]
    return sorted(found, key=lambda violation: violation.path)


def check_body(validator: Draft202012Validator, request: Request) -> list[SchemaViolation]:
    """Return how the request body fails its schema: not JSON, missing, or not matching."""
    try:
        body = request.body
    except BadBodyError:
        return [SchemaViolation("body", "", "the body is not valid JSON")]
    violations = find_violations(validator, body, "body")
    if body is None and violations:
        return [SchemaViolation("body", "", "a JSON body is required (Content-Type: application/json)")]
    return violations


def check_reply(validator: Draft202012Validator, response: Answer) -> list[SchemaViolation]:
    """Return how a reply fails its response schema: not JSON, or not matching."""
    content_type = next((value for name, value in response.headers if name.lower() == "content-type"), "")
    mimetype = content_type.partition(";")[0].strip().lower()
    if mimetype != JSON_TYPE and not mimetype.endswith("+json"):
        return [SchemaViolation("response", "", f"the reply is {mimetype or 'untyped'}, not JSON")]
    try:
        value = json.loads(response.body)
    except ValueError:
        return [SchemaViolation("response", "", "the reply is not valid JSON")]
    return find_violations(validator, value, "response")


def read_query_shape(schema: JsonSchema | None) -> QueryShape:
    """Return the array names and declared types of a query schema's top-level `properties`."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return QueryShape(frozenset(), {})
    types = {name: declared_types(prop) for name, prop in properties.items()}
    arrays = frozenset(name for name, kinds in types.items() if "array" in kinds)
    items = {name: declared_types(prop.get("items")) for name, prop in properties.items() if name in arrays}
    # An array's values are read by its items' types.
    return QueryShape(arrays, {**types, **items})


def declared_types(schema: object) -> tuple[str, ...]:
    if not isinstance(schema, dict):
        return ()
    kind = schema.get("type")
    if isinstance(kind, str):
        return (kind,)
    if isinstance(kind, list):
        return tuple(k for k in kind if isinstance(k, str))
    return ()


def read_query_values(text: str, shape: QueryShape) -> dict[str, Any]:
    """Return the query string as the JSON object a query schema checks.

    Every value arrives as text: one a schema declares an integer, number or boolean is read as one
    when it is written as one (`?limit=5` gives 5; `?limit=five` stays "five" and fails the schema).
    A name declared an array keeps all its values (`?tag=a&tag=b`); any other keeps the last, as
    workflows see it. Credentials (`apikey`, `authorization`) are left out.
    """
    decoded = text.encode("latin-1", "replace").decode("utf-8", "replace")
    query: dict[str, Any] = {}
    for name, value in parse_qsl(decoded, keep_blank_values=True, errors="werkzeug.url_quote"):
        if name in CREDENTIAL_QUERY_NAMES:
            continue
        typed = read_query_value(value, shape.types.get(name, ()))
        if name in shape.arrays:
            query.setdefault(name, []).append(typed)
        else:
            query[name] = typed
    return query


def read_query_value(value: str, types: tuple[str, ...]) -> Any:
    """Return `value` as the first of `types` it is written as, else as the string it is."""
    if "string" in types or not types:
        return value
    for kind in types:
        if kind == "integer" and _INTEGER.fullmatch(value):
            return int(value)
        if kind == "number" and _NUMBER.fullmatch(value):
            number = float(value)
            if math.isfinite(number):
                return number
        if kind == "boolean" and value in ("true", "false"):
            return value == "true"
        if kind == "null" and value == "":
            return None
    return value


def shorten(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
