"""OpenAPI 3.1 of one version: what its enabled endpoints serve, as a client sees them.

Pure: a loaded project in, a JSON-ready document out. Routes are translated faithfully to the rules of
README "Routes": a last `{p?}` is the two paths it serves; `{p*}` and `{p*N}` are one path parameter with
a pattern and a note; a mixed segment keeps its literals around its parameters (`/files/{name}.{ext}`).
Responses are what the runtime answers (README "Serving a request"): the static reply or the
workflows' reply, 401/403 on protected endpoints, 400 when a parameter or body cannot be read, the
version's not-found reply, 500 when no reply comes. An endpoint's `description` is internal and is
exported only when asked for; `summary` is the public text. Its JSON Schemas (README "Request and
response schemas") become components: the body schema the JSON `requestBody`, each property of the query
schema a query parameter, the response schema the content of every 2xx reply (`2XX`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from jsonschema import Draft202012Validator

from epctl.schemas.json_schemas import BODY_METHODS, JsonSchema, Part, endpoint_schemas
from epctl.schemas.models import Endpoint, Reply, route_of
from epctl.schemas.project import Project
from epctl.schemas.routing import METHODS, Segment
from epctl.schemas.routing.syntax import LITERAL, MIXED, OPTIONAL, WILDCARD

__all__ = ["OPENAPI_VERSION", "Json", "JsonObject", "PathForm", "build_openapi", "translate_route"]

Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]
JsonObject = dict[str, Json]

OPENAPI_VERSION = "3.1.0"
ERROR_SCHEMA = "Error"
ERROR_REF: JsonObject = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
# The 400 of an endpoint with a request schema: the error, plus what failed (runtime/contracts.py).
REQUEST_ERRORS_SCHEMA = "RequestErrors"
REQUEST_ERRORS: JsonObject = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "What failed the request schema: where (a JSON pointer into the body or query) "
            "and why. Absent when the request failed for another reason.",
            "items": {
                "type": "object",
                "properties": {
                    "in": {"enum": ["body", "query"]},
                    "path": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["in", "path", "message"],
            },
        },
    },
    "required": ["error"],
}
# Component names of an endpoint's schemas, after the endpoint id (ids are valid component names).
SCHEMA_COMPONENT_SUFFIXES: dict[Part, str] = {
    "body": "request-body",
    "query": "query",
    "response": "response",
}

# The transports of README "Serving a request" step 3, one security scheme each. A user token in
# `?authorization=` also works but is left out: a token in a URL ends up in logs and browser history.
TOKEN_SCHEMES = ("bearerToken", "sessionHeader", "tokenCookie")
KEY_SCHEMES = ("apiKeyHeader", "apiKeyQuery")
SECURITY_SCHEMES: dict[str, JsonObject] = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A user token in `Authorization: Bearer <token>`.",
    },
    "sessionHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "Session",
        "description": "A user token in the `Session` header.",
    },
    "tokenCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "authorization",
        "description": "A user token in the `authorization` cookie.",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An API key as the whole `Authorization` header (not `Bearer ...`).",
    },
    "apiKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "apikey",
        "description": "An API key in the `apikey` query parameter.",
    },
}
# BODY_METHODS: the methods whose request body the workflows read (the runtime reads a body for any
# method, but a body on GET, DELETE or OPTIONS is outside what HTTP gives meaning to), and whose body a
# bare request_schema checks.

_TEMPLATE_PARAM = re.compile(r"\{([^}]*)\}")


@dataclass(frozen=True, slots=True)
class PathParam:
    """One path parameter of an OpenAPI path, with the schema of the values it takes."""

    name: str
    schema: JsonObject
    description: str = ""

    def to_json(self, name: str | None = None) -> JsonObject:
        parameter: JsonObject = {
            "name": name or self.name,
            "in": "path",
            "required": True,
            "schema": dict(self.schema),
        }
        if self.description:
            parameter["description"] = self.description
        return parameter


@dataclass(frozen=True, slots=True)
class PathForm:
    """One OpenAPI path a route serves: `/a/{b?}` gives `/a/{b}` and, with `without` = "b", `/a`."""

    template: str
    params: tuple[PathParam, ...]
    without: str | None = None  # the trailing optional param this form leaves out
    absent_wildcard: str | None = None  # `{p*}` below the root: the path served when it is absent


def translate_route(route: str) -> list[PathForm]:
    """Return the OpenAPI paths a valid route serves: one, or two for a route ending in `{p?}`.

    The route is taken apart by the route grammar itself (`Route.segments`), already checked when the
    project loaded; nothing here reports errors.
    """
    parsed = route_of(route)
    pieces: list[str] = []
    params: list[PathParam] = []
    absent_wildcard: str | None = None
    segments = parsed.segments
    index = 0
    while index < len(segments):
        segment = segments[index]
        index += 1
        if segment.kind == LITERAL:
            pieces.append(segment.source)
        elif segment.kind == MIXED:
            piece, mixed = _translate_mixed(segment)
            pieces.append(piece)
            params.extend(mixed)
        else:
            [name] = segment.names
            pieces.append(f"{{{name}}}")
            prefix = "/" + "/".join(pieces[:-1])
            if segment.kind == WILDCARD:
                # `/{p*}` on `/` gives p = '': only a wildcard below the root has an absent form.
                absent_wildcard = prefix if prefix != "/" else None
                params.append(_wildcard_param(name, absent_wildcard))
            elif segment.kind == OPTIONAL:
                params.append(_optional_param(name, prefix))
            elif "*" in segment.source:
                # `{p*N}`, which the grammar gives as N param segments of that one source (a name is
                # never repeated, so the next segment of the same source is the same param): one
                # OpenAPI parameter spanning N segments.
                count = 1
                while index < len(segments) and segments[index].source == segment.source:
                    count += 1
                    index += 1
                params.append(_multi_segment_param(name, count))
            else:
                params.append(PathParam(name, {"type": "string", "minLength": 1}))
    full = PathForm("/" + "/".join(pieces), tuple(params), absent_wildcard=absent_wildcard)
    if not parsed.optional_last:
        return [full]
    optional = params[-1].name
    return [PathForm("/" + "/".join(pieces[:-1]), tuple(params[:-1]), optional), full]


def _translate_mixed(segment: Segment) -> tuple[str, list[PathParam]]:
    """Return the OpenAPI text of a mixed segment (`{name}.{ext}`, `v{n}`) and its parameters."""
    assert segment.pattern is not None  # every mixed segment has its pattern
    chunks, optional = segment.pattern.chunks, segment.pattern.optional
    params = []
    for name, may_be_empty in zip(segment.names, optional, strict=True):
        if may_be_empty:
            # A `?` param of a mixed segment is always present, possibly empty (README "Routes").
            params.append(PathParam(name, {"type": "string"}, "May be empty."))
        else:
            params.append(PathParam(name, {"type": "string", "minLength": 1}))
    text = chunks[0] + "".join(
        f"{{{name}}}{chunk}" for name, chunk in zip(segment.names, chunks[1:], strict=True)
    )
    return text, params


def _multi_segment_param(name: str, count: int) -> PathParam:
    pattern = "^[^/]+$" if count == 1 else f"^[^/]+(?:/[^/]+){{{count - 1}}}$"
    return PathParam(
        name,
        {"type": "string", "pattern": pattern},
        f"Exactly {count} non-empty path segments, joined by `/` as they appear in the path; "
        "an encoded `%2F` does not separate segments.",
    )


def _wildcard_param(name: str, absent_form: str | None) -> PathParam:
    description = (
        "The rest of the path: any number of segments with their `/` separators, possibly empty "
        f"(`{absent_form or ''}/` gives `{name}` = '')."
    )
    if absent_form is not None:
        description += (
            f" `{absent_form}` is served too, with `{name}` absent, unless another route matches it."
        )
    return PathParam(name, {"type": "string", "pattern": "^[^/]*(?:/[^/]*)*$"}, description)


def _optional_param(name: str, prefix: str) -> PathParam:
    description = f"Optional last segment: `{prefix}` is served too, with `{name}` absent"
    if prefix != "/":
        # `/{p?}` on `/` is the absent form; below the root a trailing slash gives an empty value.
        description += f"; `{prefix}/` gives `{name}` = ''"
    return PathParam(name, {"type": "string"}, description + ".")


@dataclass
class ResponseDoc:
    """One documented response; two replies with one status merge into one entry."""

    descriptions: list[str]
    content: dict[str, JsonObject] = field(default_factory=dict)
    headers: dict[str, JsonObject] = field(default_factory=dict)

    def merge(self, other: ResponseDoc) -> None:
        self.descriptions += [d for d in other.descriptions if d not in self.descriptions]
        for media_type, body in other.content.items():
            self.content.setdefault(media_type, body)
        for name, header in other.headers.items():
            self.headers.setdefault(name, header)

    def open_to_workflows(self) -> None:
        """Document that a workflow may reply with this status too, with a body of its own: each media
        type's schema becomes "the runtime's, or anything", and any other media type may come."""
        self.descriptions.append("The reply of a workflow that answers with this status.")
        for body in self.content.values():
            runtime = body.get("schema", {})
            body["schema"] = {"anyOf": [runtime, {"description": "A workflow's own reply."}]}
        self.content.setdefault("*/*", {"schema": {}})

    def to_json(self) -> JsonObject:
        response: JsonObject = {"description": " Or: ".join(self.descriptions)}
        if self.headers:
            response["headers"] = dict(self.headers)
        if self.content:
            response["content"] = dict(self.content)
        return response


def build_openapi(project: Project, *, root: str = "", internal: bool = False) -> JsonObject:
    """Return the OpenAPI 3.1 document of `project`'s enabled endpoints, served under `root`.

    `internal` adds each endpoint's `description`, which is otherwise never exported. Raises nothing
    for a loaded project.
    """
    builder = _Builder(project, internal=internal)
    enabled = [endpoint for endpoint in project.endpoints if endpoint.enabled]
    # Catch-alls last, so a param route sharing their OpenAPI path keeps it (`_Builder.place_operation`).
    for endpoint in sorted(enabled, key=lambda endpoint: route_of(endpoint.route).catch_all):
        builder.add_endpoint(endpoint)
    return builder.document(root)


class _Builder:
    def __init__(self, project: Project, *, internal: bool) -> None:
        self.project = project
        self.internal = internal
        self.triggered = {eid for workflow in project.workflows.values() for eid in workflow.endpoints}
        # Path template with its params blanked -> the template kept for it. OpenAPI counts `/a/{x}` and
        # `/a/{y}` as the same path, so routes of different methods that differ only in param names share
        # one path item under the first spelling, their params renamed by position.
        self.templates: dict[str, str] = {}
        self.paths: dict[str, dict[str, JsonObject]] = {}
        self.tags: set[str] = set()
        self.schemes: set[str] = set()
        self.uses_error = False
        self.uses_request_errors = False
        # The endpoints' JSON Schemas, one component each, their references rebased to it.
        self.components: dict[str, Json] = {}

    def add_endpoint(self, endpoint: Endpoint) -> None:
        for form in translate_route(endpoint.route):
            key = _TEMPLATE_PARAM.sub("{}", form.template)
            template = self.templates.setdefault(key, form.template)
            names = dict(
                zip(_TEMPLATE_PARAM.findall(form.template), _TEMPLATE_PARAM.findall(template), strict=True)
            )
            operation = self.build_operation(endpoint, form, names)
            self.place_operation(template, endpoint.method.lower(), operation)

    def place_operation(self, template: str, method: str, operation: JsonObject) -> None:
        """Put `operation` at `template`, unless a route of the same method already holds it.

        Routes of one method never conflict, but `/a/{p*}` and `/a/{q}` coexist (README "Routes") and both
        read `/a/{...}` in OpenAPI, which has room for one. Catch-alls come last (`build_openapi`), so the
        param route, which wins every one-segment request, keeps the path and names the catch-all.
        """
        item = self.paths.setdefault(template, {})
        held = item.setdefault(method, operation)
        if held is operation:
            return
        shadowed: JsonObject = {
            "endpoint": operation["x-epctl-endpoint"],
            "route": operation["x-epctl-route"],
        }
        held["x-epctl-shadowed"] = [shadowed]
        note = (
            f"Other requests under this path (more segments, or none) reach `{operation['x-epctl-route']}` "
            f"(operation `{operation['operationId']}`)."
        )
        description = held.get("description")
        held["description"] = f"{description}\n\n{note}" if isinstance(description, str) else note

    def build_operation(self, endpoint: Endpoint, form: PathForm, names: dict[str, str]) -> JsonObject:
        operation_id = endpoint.id if form.without is None else f"{endpoint.id}:without-{form.without}"
        operation: JsonObject = {"operationId": operation_id}
        tags: list[Json] = [f"{key}:{value}" for key, value in sorted(endpoint.tags.items())]
        if tags:
            operation["tags"] = tags
            self.tags.update(f"{key}:{value}" for key, value in endpoint.tags.items())
        if endpoint.summary:
            operation["summary"] = endpoint.summary
        description = self.describe(endpoint, form)
        if description:
            operation["description"] = description
        contract = endpoint_schemas(self.project, endpoint)
        parameters: list[Json] = [param.to_json(names[param.name]) for param in form.params]
        parameters += self.query_parameters(endpoint, contract.get("query"))
        if parameters:
            operation["parameters"] = parameters
        has_workflows = endpoint.id in self.triggered
        body = contract.get("body")
        if body is not None:
            operation["requestBody"] = {
                # The runtime answers a missing body 400 unless the schema accepts null.
                "required": not Draft202012Validator(body).is_valid(None),
                "description": "Checked against the endpoint's request schema before any workflow runs.",
                "content": {"application/json": {"schema": self.component(endpoint, "body", body)}},
            }
        elif endpoint.method in BODY_METHODS and has_workflows:
            operation["requestBody"] = {
                "required": False,
                "description": "Read by the endpoint's workflows: JSON, a form, or text.",
                "content": {
                    "application/json": {"schema": {}},
                    "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                },
            }
        operation["responses"] = self.build_responses(endpoint, bool(form.params), has_workflows, contract)
        security = self.build_security(endpoint)
        if security:
            operation["security"] = security
        if endpoint.access == "groups":
            operation["x-epctl-groups"] = list(endpoint.groups)
        if form.absent_wildcard is not None:
            # Not a path of its own: another route of the method may serve it first (README "Routes").
            operation["x-epctl-absent-wildcard"] = form.absent_wildcard
        operation["x-epctl-endpoint"] = endpoint.id
        operation["x-epctl-route"] = endpoint.route
        return operation

    def component(self, endpoint: Endpoint, part: Part, schema: JsonSchema) -> JsonObject:
        """Return a reference to `schema` as a component named after the endpoint and part."""
        name = f"{endpoint.id}.{SCHEMA_COMPONENT_SUFFIXES[part]}"
        self.components[name] = rebase_refs(schema, f"#/components/schemas/{name}")
        return {"$ref": f"#/components/schemas/{name}"}

    def query_parameters(self, endpoint: Endpoint, schema: JsonSchema | None) -> list[Json]:
        """Return one `in: query` parameter for each top-level property of a query schema."""
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            return []
        root = f"#/components/schemas/{endpoint.id}.{SCHEMA_COMPONENT_SUFFIXES['query']}"
        required = schema.get("required", [])
        parameters: list[Json] = []
        for name, prop in schema["properties"].items():
            parameter: JsonObject = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": rebase_refs(prop, root),
            }
            parameters.append(parameter)
        if parameters:
            # The parameters' references point into the whole query schema, kept as a component.
            self.component(endpoint, "query", schema)
        return parameters

    def describe(self, endpoint: Endpoint, form: PathForm) -> str:
        lines = []
        if self.internal and endpoint.description:
            lines.append(endpoint.description)
        if form.without is not None:
            lines.append(f"The route `{endpoint.route}` without its optional last segment `{form.without}`.")
        if endpoint.access == "groups":
            lines.append(f"Only for signed-in users in one of the groups: {', '.join(endpoint.groups)}.")
        return "\n\n".join(lines)

    def build_security(self, endpoint: Endpoint) -> list[Json]:
        """Return the security requirements: any token transport, AND-ed with an API key if required."""
        tokens: tuple[str, ...] = TOKEN_SCHEMES if endpoint.access != "public" else ()
        keys: tuple[str, ...] = KEY_SCHEMES if endpoint.api_key else ()
        pairs: list[tuple[str, ...]]
        if tokens and keys:
            # The API key header and a bearer token are both `Authorization`: a request carries one.
            pairs = [(t, k) for t in tokens for k in keys if (t, k) != ("bearerToken", "apiKeyHeader")]
        else:
            pairs = [(scheme,) for scheme in (*tokens, *keys)]
        requirements: list[Json] = []
        for pair in pairs:
            self.schemes.update(pair)
            requirement: JsonObject = {scheme: [] for scheme in pair}
            requirements.append(requirement)
        return requirements

    def build_responses(
        self, endpoint: Endpoint, has_params: bool, has_workflows: bool, contract: dict[Part, JsonSchema]
    ) -> JsonObject:
        """Return the responses the runtime can answer for `endpoint`, by status, `default` last."""
        responses: dict[str, ResponseDoc] = {}

        def add(status: int | str, doc: ResponseDoc) -> None:
            existing = responses.get(str(status))
            if existing is None:
                responses[str(status)] = doc
            else:
                existing.merge(doc)

        settings = self.project.settings
        if endpoint.reply is not None:
            add(*self.reply_doc(endpoint.reply, 200, 301, "The endpoint's reply."))
        elif has_workflows and "response" in contract:
            # The response schema holds for every 2xx JSON reply (README "Request and response schemas").
            schema = self.component(endpoint, "response", contract["response"])
            add(
                "2XX",
                ResponseDoc(
                    ["The reply of the endpoint's workflows."], {"application/json": {"schema": schema}}
                ),
            )
            add("default", ResponseDoc(["Another status a workflow replies with."]))
        elif has_workflows:
            add(200, ResponseDoc(["The reply of the endpoint's workflows."]))
            add("default", ResponseDoc(["Another status a workflow replies with."]))
        if endpoint.access != "public" or endpoint.api_key:
            refusal = endpoint.unauthorized_reply or settings.unauthorized_reply
            why = "No valid credentials." if endpoint.access != "public" else "No valid API key."
            add(*self.refusal_doc(refusal, 401, why, "Unauthorized"))
            if endpoint.access == "groups":
                add(*self.refusal_doc(refusal, 403, "A signed-in user outside the groups.", "Forbidden"))
        # A body is read only when workflows run; one that says it is JSON and does not parse is a 400.
        bad_body = has_workflows and endpoint.method in BODY_METHODS
        checked = "body" in contract or "query" in contract
        if has_params or bad_body or checked:
            reasons = ["a path parameter that is not percent-encoded UTF-8"] if has_params else []
            reasons += ["a JSON body that does not parse"] if bad_body or "body" in contract else []
            reasons += (
                ["a request that fails the endpoint's request schema (see `errors`)"] if checked else []
            )
            description = f"Bad request: {' or '.join(reasons)}."
            add(400, self.request_errors_doc(description) if checked else self.error_doc(description))
        not_found = settings.not_found_reply
        if not_found is None:
            add(404, self.error_doc("No route matches the path."))
        else:
            add(*self.reply_doc(not_found, 404, 302, "No route matches the path."))
        if endpoint.reply is None:
            failed = "A workflow failed, or none replied"
            if "response" in contract and settings.enforce_response_schema:
                failed += ", or the reply failed the endpoint's response schema"
            add(500, self.error_doc(failed + "."))
        if has_workflows and endpoint.reply is None:
            # A workflow may answer any status, 404 or 500 included: found by schemathesis, which saw a
            # workflow's JSON 404 where only the not-found page was documented.
            for status, doc in responses.items():
                if status != "default" and not status.startswith("2"):
                    doc.open_to_workflows()
        statuses = sorted(responses, key=lambda status: (status == "default", status))
        return {status: responses[status].to_json() for status in statuses}

    def refusal_doc(self, reply: Reply | None, status: int, why: str, error: str) -> tuple[int, ResponseDoc]:
        """Return the status and response of a refused request: the unauthorized reply, else JSON."""
        if reply is None:
            return status, self.error_doc(f"{why} (`{error}`)")
        return self.reply_doc(reply, status, 302, why)

    def reply_doc(
        self, reply: Reply, page_status: int, redirect_status: int, what: str
    ) -> tuple[int, ResponseDoc]:
        """Return the status and response of a reply table, given the statuses the runtime defaults to.

        Page names stay out: they are the project's internals, and the media type says what comes.
        """
        if reply.type == "redirect":
            location: JsonObject = {"description": "The redirect target.", "schema": {"type": "string"}}
            doc = ResponseDoc([f"{what} A redirect."], {}, {"Location": location})
            return reply.status or redirect_status, doc
        page = self.project.pages[reply.page or ""]
        media_type = page.content_type.split(";")[0].strip().lower()
        schema: JsonObject = {"type": "string"} if media_type.startswith("text/") else {}
        return reply.status or page_status, ResponseDoc([what], {media_type: {"schema": schema}})

    def error_doc(self, description: str) -> ResponseDoc:
        self.uses_error = True
        return ResponseDoc([description], {"application/json": {"schema": dict(ERROR_REF)}})

    def request_errors_doc(self, description: str) -> ResponseDoc:
        self.uses_request_errors = True
        schema: JsonObject = {"$ref": f"#/components/schemas/{REQUEST_ERRORS_SCHEMA}"}
        return ResponseDoc([description], {"application/json": {"schema": schema}})

    def document(self, root: str) -> JsonObject:
        method_order = {method.lower(): index for index, method in enumerate(METHODS)}
        paths: JsonObject = {}
        for template in sorted(self.paths):
            item = self.paths[template]
            ordered: JsonObject = {m: item[m] for m in sorted(item, key=method_order.__getitem__)}
            paths[template] = ordered
        components: JsonObject = {}
        schemas: JsonObject = {}
        if self.uses_error:
            error: JsonObject = {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
            schemas[ERROR_SCHEMA] = error
        if self.uses_request_errors:
            schemas[REQUEST_ERRORS_SCHEMA] = copy.deepcopy(REQUEST_ERRORS)
        schemas.update(sorted(self.components.items()))
        if schemas:
            components["schemas"] = schemas
        if self.schemes:
            components["securitySchemes"] = {
                name: dict(scheme) for name, scheme in SECURITY_SCHEMES.items() if name in self.schemes
            }
        document: JsonObject = {
            "openapi": OPENAPI_VERSION,
            "info": {"title": self.project.name, "version": self.project.version},
            "servers": [{"url": root or "/"}],
        }
        if self.tags:
            tag_list: list[Json] = [{"name": tag} for tag in sorted(self.tags)]
            document["tags"] = tag_list
        document["paths"] = paths
        if components:
            document["components"] = components
        return document


def rebase_refs(schema: JsonSchema | Json, root: str) -> Json:
    """Return a copy of (part of) a schema for a place inside the OpenAPI document: `true`/`false` as
    the equivalent objects, and its references, which point inside the schema it belongs to (`validate`
    checks that), pointing at the same places under `root`, where that whole schema now lives."""
    if isinstance(schema, bool):
        return {} if schema else {"not": {}}

    def rebase(node: object) -> Json:
        if isinstance(node, dict):
            return {key: rebase_ref(value) if key == "$ref" else rebase(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rebase(item) for item in node]
        assert node is None or isinstance(node, str | int | float)
        return node

    def rebase_ref(value: object) -> Json:
        if isinstance(value, str) and (value == "#" or value.startswith("#/")):
            return root + value[1:]
        return rebase(value)

    return rebase(schema)
