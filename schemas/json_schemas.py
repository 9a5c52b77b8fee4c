"""The JSON Schemas an endpoint names: which part of a request or reply each one checks, reading them
from the project, and the checks `validate` runs on them.

`request_schema` checks the JSON body of POST, PUT and PATCH and the query string of any other method;
a table `{ body = ..., query = ... }` names one schema per part instead. `response_schema` checks the
endpoint's 2xx JSON replies. Each is the path of a JSON file relative to the TOML file that names it
(the loader makes it project-relative and keeps its text in `project.files`, so versions freeze it) or
an inline table. Schemas are JSON Schema draft 2020-12; references stay inside the schema (`$defs`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from epctl.schemas.models import REQUEST_PARTS, Endpoint, RequestPart
from epctl.schemas.problems import Code, Place, Problem
from epctl.schemas.project import Project

if TYPE_CHECKING:
    from jsonschema import SchemaError

# Methods whose request body a bare `request_schema` checks; for the others it checks the query.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
SCHEMA_DIALECT = "JSON Schema draft 2020-12"
JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")

Part = RequestPart | Literal["response"]
# A JSON Schema document: an object, or `true` / `false`.
JsonSchema = dict[str, Any] | bool


@dataclass(frozen=True, slots=True)
class SchemaRef:
    """One schema an endpoint names: the part it checks, the endpoint key naming it, and its source
    (the project path of a JSON file, or the inline schema)."""

    part: Part
    key: str
    source: str | dict[str, Any]


def is_part_table(value: object) -> bool:
    """Whether a `request_schema` value is the `{ body = ..., query = ... }` form."""
    return isinstance(value, dict) and any(part in value for part in REQUEST_PARTS)


def schema_refs(endpoint: Endpoint) -> list[SchemaRef]:
    """Return the schemas `endpoint` names, request parts first, then its response schema."""
    refs: list[SchemaRef] = []
    request = endpoint.request_schema
    if is_part_table(request):
        assert isinstance(request, dict)
        refs += [
            SchemaRef(part, f"request_schema.{part}", request[part])
            for part in REQUEST_PARTS
            if part in request
        ]
    elif request is not None:
        refs.append(
            SchemaRef("body" if endpoint.method in BODY_METHODS else "query", "request_schema", request)
        )
    if endpoint.response_schema is not None:
        refs.append(SchemaRef("response", "response_schema", endpoint.response_schema))
    return refs


def resolve_schema_files(endpoint: Endpoint, resolve: Callable[[str, str], str | None]) -> Endpoint:
    """Return `endpoint` with every schema file path replaced by `resolve(path, key)`, its project path.

    A schema whose file does not resolve (`resolve` reported why and returned None) is left out, so the
    endpoint itself is still checked with everything else.
    """
    updates: dict[str, object] = {}
    request = endpoint.request_schema
    if isinstance(request, str):
        updates["request_schema"] = resolve(request, "request_schema")
    elif is_part_table(request):
        assert isinstance(request, dict)
        parts = {
            part: resolve(source, f"request_schema.{part}") if isinstance(source, str) else source
            for part, source in request.items()
        }
        updates["request_schema"] = parts if None not in parts.values() else None
    if isinstance(endpoint.response_schema, str):
        updates["response_schema"] = resolve(endpoint.response_schema, "response_schema")
    return endpoint.model_copy(update=updates) if updates else endpoint


def load_schema(project: Project, ref: SchemaRef) -> JsonSchema:
    """Return the schema `ref` names. The project must have passed `check_schemas` (loading a project
    runs it), so a file schema is valid JSON; raises ValueError otherwise."""
    if isinstance(ref.source, dict):
        return ref.source
    schema: JsonSchema = json.loads(project.files[ref.source])
    return schema


def endpoint_schemas(project: Project, endpoint: Endpoint) -> dict[Part, JsonSchema]:
    """Return {part: schema} for the schemas `endpoint` names (see `load_schema`)."""
    return {ref.part: load_schema(project, ref) for ref in schema_refs(endpoint)}


def json_pointer(path: Iterable[str | int]) -> str:
    """Return the JSON pointer (RFC 6901) of a path of keys and indexes: ["a", 0, "b/c"] -> "/a/0/b~1c"."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def check_schemas(project: Project) -> list[Problem]:
    """Return the problems of every schema the endpoints name: a file that is not JSON, a schema that
    is not valid draft 2020-12, a reference outside the schema or to nothing, a query schema that does
    not describe an object. A schema file named twice is reported once."""
    checker = _SchemaChecker(project)
    for endpoint in project.endpoints:
        for ref in schema_refs(endpoint):
            checker.check(endpoint, ref)
    return checker.problems


class _SchemaChecker:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.problems: list[Problem] = []
        self.files: dict[str, JsonSchema | None] = {}  # path -> its schema, None when it is broken

    def check(self, endpoint: Endpoint, ref: SchemaRef) -> None:
        where = self.project.declarations.place("endpoint", endpoint.id, ref.key)
        if isinstance(ref.source, str):
            if ref.source not in self.files:
                self.files[ref.source] = self.check_file(ref.source)
            schema = self.files[ref.source]
        else:
            schema = self.check_inline(ref.source, where)
        if ref.part == "query" and isinstance(schema, dict) and schema.get("type", "object") != "object":
            self.problems.append(
                Problem.error(
                    Code.INVALID_SCHEMA,
                    f"a query schema describes the query string, an object of named values: its "
                    f'"type" must be "object", not {json.dumps(schema["type"])}',
                    where,
                )
            )

    def check_file(self, path: str) -> JsonSchema | None:
        text = self.project.files[path]
        try:
            schema: JsonSchema = json.loads(text)
        except (ValueError, RecursionError) as err:
            line = err.lineno if isinstance(err, json.JSONDecodeError) else None
            message = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
            self.problems.append(
                Problem.error(Code.INVALID_SCHEMA, f"{path} is not valid JSON: {message}", Place(path, line))
            )
            return None
        ok = self.check_document(schema, path, lambda pointer: Place(path, _line_of(text, pointer)))
        return schema if ok else None

    def check_inline(self, schema: dict[str, Any], where: Place) -> JsonSchema | None:
        try:
            json.dumps(schema)
        except TypeError:
            self.problems.append(
                Problem.error(
                    Code.INVALID_SCHEMA,
                    "an inline schema holds a TOML date or time, which JSON has no type for; "
                    "write it as a string",
                    where,
                )
            )
            return None
        return schema if self.check_document(schema, "the inline schema", lambda _: where) else None

    def check_document(
        self, schema: JsonSchema, what: str, place: Callable[[list[str | int]], Place]
    ) -> bool:
        """Report what makes `schema` unusable; return whether it is usable."""
        # Imported here: jsonschema (with its meta-schemas) costs a fifth of a short `validate`, and a
        # project without schemas never needs it.
        from jsonschema import Draft202012Validator, SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as err:
            path = list(err.path)
            at = f" at {json_pointer(path)}" if path else ""
            self.problems.append(
                Problem.error(
                    Code.INVALID_SCHEMA,
                    f"{what} is not a valid {SCHEMA_DIALECT}: {_describe_schema_error(err)}{at}",
                    place(path),
                )
            )
            return False
        ok = True
        for path, target in _find_refs(schema):
            reason = _unresolvable(schema, target)
            if reason is not None:
                self.problems.append(
                    Problem.error(
                        Code.INVALID_SCHEMA, f'{what}: "$ref" at {json_pointer(path)} {reason}', place(path)
                    )
                )
                ok = False
        return ok


def _find_refs(schema: JsonSchema) -> Iterator[tuple[list[str | int], str]]:
    """Yield (path of the `$ref` key, its value) for every string `$ref` in `schema`: an object's own
    `$ref` first, then its members in order. No recursion, so a deep schema cannot exhaust the stack."""
    stack: list[tuple[list[str | int], object]] = [([], schema)]
    while stack:
        path, node = stack.pop()
        children: list[tuple[list[str | int], object]] = []
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    yield [*path, key], value
                else:
                    children.append(([*path, key], value))
        elif isinstance(node, list):
            children = [([*path, index], value) for index, value in enumerate(node)]
        stack.extend(reversed(children))


def _unresolvable(schema: JsonSchema, target: str) -> str | None:
    """Return why reference `target` cannot be followed inside `schema`, or None when it can."""
    if not target.startswith("#"):
        return (
            f"names {json.dumps(target)}, outside this schema; only references inside it are followed "
            '(put shared definitions under "$defs" and write "#/$defs/name")'
        )
    if not target.startswith("#/"):
        return None  # "#" itself, or a plain-name anchor ("#node"), which $anchor declares
    node: object = schema
    for raw in target[2:].split("/"):
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return f"points at {json.dumps(target)}, which is not in this schema"
    return None


def _line_of(text: str, path: list[str | int]) -> int:
    """Return the line of the value at `path` in JSON `text`, found by looking for each key in turn
    after the previous one (close enough to point an editor at; the first line when not found)."""
    position = 0
    for part in path:
        if isinstance(part, int):
            continue
        key = re.escape(json.dumps(part, ensure_ascii=False)) + r"\s*:"
        found = re.compile(key).search(text, position)
        if found is None:
            break
        position = found.start()
    return text.count("\n", 0, position) + 1


def _describe_schema_error(err: SchemaError) -> str:
    """Return what is wrong, in plainer words than the meta-schema's for the commonest slip."""
    if err.path and err.path[-1] == "type" and err.validator in ("anyOf", "enum"):
        return (
            f'"type" is one of {", ".join(JSON_TYPES)} (or an array of them), not {json.dumps(err.instance)}'
        )
    return _shorten(err.message)


def _shorten(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
