"""JSON Schema of every kind of TOML file in a project, generated from the models the loader uses.

Editors (taplo, Even Better TOML) complete and check keys with them, and CI can run
`check-jsonschema` over the files. The sections of each file kind come from the loader's own tables
(`CONFIG_SECTIONS`, `TABLES_BY_FOLDER`), so a key the loader accepts is a key the schema accepts.
The schemas use draft-07, which every TOML editor reads. TOML has no null: an optional key is simply
left out, so `X | None` fields are written as `X`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from epctl.schemas.loader import CONFIG_FILE, CONFIG_SECTIONS
from epctl.schemas.models import TABLES_BY_FOLDER, Table

DRAFT = "http://json-schema.org/draft-07/schema#"
DEFINITIONS = "definitions"
# The file each schema is written to by `epctl schema --out DIR`, by the files it describes.
SCHEMA_FILES = {
    CONFIG_FILE: "epctl.schema.json",
    **{folder: f"{folder}.schema.json" for folder in TABLES_BY_FOLDER},
}
# What each section is, shown by editors on the section's name.
SECTION_HELP = {
    "project": "The project: its name.",
    "settings": "Develop's version settings (CORS, headers, globals, default replies); frozen into versions.",
    "auth": "User tokens: JWT HS256 signed with the secret in an environment variable.",
    "api_key": "API keys, stored as the sha256 of the key.",
    "environments": "Environments by name: each points at a frozen version.",
    "users": "Experience users (sign-in, groups) in SQLite or PostgreSQL; the same for every version.",
    "lint": "Suppressions: warnings and audit findings this project accepts. Errors cannot be suppressed.",
    "trusted_key": "Ed25519 public keys: with any listed, only versions signed by one of them are served.",
    "endpoint": "An HTTP endpoint: method, route, access and reply.",
    "page": "A page: a template rendered as a reply.",
    "layout": "A layout: a template that wraps pages, with one {% block content %} slot.",
    "component": 'A component: a template included by name, {% include "name" %}.',
    "workflow": "A workflow: a Python handler run by the endpoints that trigger it.",
    "case": "A request case: a request `epctl test` sends to the app, and what it expects back.",
}
# How a section of epctl.toml is written: one table, an array of tables, or a table of tables.
ARRAYS = {"api_key", "trusted_key"}
NAMED_TABLES = {"environments"}
REQUIRED_SECTIONS = ["project"]


class TomlJsonSchema(GenerateJsonSchema):
    """pydantic's generator, adjusted for TOML: no null, defaults shown (factories too), no titles
    on keys (an editor shows the key itself), models described by their sections, not docstrings."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        if "default_factory" in schema and not schema.get("default_factory_takes_data"):
            factory: Any = schema["default_factory"]
            return factory()
        return super().get_default_value(schema)

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if self.get_default_value(schema) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        json_schema.pop("description", None)
        return json_schema


def _definitions(models: list[type[Table]]) -> tuple[dict[str, JsonSchemaValue], dict[str, Any]]:
    """Return a `$ref` per model and the definitions they point into."""
    refs, top = models_json_schema(
        [(model, "validation") for model in models],
        ref_template=f"#/{DEFINITIONS}/{{model}}",
        schema_generator=TomlJsonSchema,
    )
    return {model.__name__: ref for (model, _), ref in refs.items()}, top.get("$defs", {})


def _document(title: str, properties: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        DEFINITIONS: definitions,
    }


def _array_of(ref: JsonSchemaValue, section: str) -> dict[str, Any]:
    return {"type": "array", "description": SECTION_HELP[section], "items": ref}


def build_config_schema() -> dict[str, Any]:
    """Return the JSON Schema of `epctl.toml`."""
    refs, definitions = _definitions(list(CONFIG_SECTIONS.values()))
    properties: dict[str, Any] = {}
    for section, model in CONFIG_SECTIONS.items():
        ref = refs[model.__name__]
        if section in ARRAYS:
            properties[section] = _array_of(ref, section)
        elif section in NAMED_TABLES:
            properties[section] = {
                "type": "object",
                "description": SECTION_HELP[section],
                "additionalProperties": ref,
            }
        else:
            properties[section] = {**ref, "description": SECTION_HELP[section]}
    document = _document(f"epctl project file ({CONFIG_FILE})", properties, definitions)
    document["required"] = REQUIRED_SECTIONS
    return document


def build_folder_schema(folder: str) -> dict[str, Any]:
    """Return the JSON Schema of the TOML files under one of a project's folders (`endpoints`, ...)."""
    tables = TABLES_BY_FOLDER[folder]
    refs, definitions = _definitions(list(tables.values()))
    properties = {kind: _array_of(refs[model.__name__], kind) for kind, model in tables.items()}
    return _document(f"epctl {folder}/ files", properties, definitions)


def build_schemas() -> Mapping[str, dict[str, Any]]:
    """Return every schema by the name of the file `epctl schema --out` writes it to."""
    schemas = {SCHEMA_FILES[CONFIG_FILE]: build_config_schema()}
    for folder in TABLES_BY_FOLDER:
        schemas[SCHEMA_FILES[folder]] = build_folder_schema(folder)
    return schemas
