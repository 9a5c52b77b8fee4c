"""The files that give editors epctl's keys: JSON Schemas and a taplo configuration that uses them.

`epctl init` writes them into a new project and `epctl schema --out DIR` (re)writes them, e.g. after
an upgrade of epctl. taplo (and Even Better TOML, which is built on it) reads `.taplo.toml`.
"""

from __future__ import annotations

import json
from pathlib import Path

from epctl.schemas.json_schema import SCHEMA_FILES, build_schemas
from epctl.schemas.loader import CONFIG_FILE

SCHEMA_FOLDER = "schema"
TAPLO_CONFIG = ".taplo.toml"


def render_schemas() -> dict[str, str]:
    """Return {file name: JSON text} of every schema."""
    return {name: json.dumps(schema, indent=2) + "\n" for name, schema in build_schemas().items()}


def render_taplo_config(schema_folder: str = SCHEMA_FOLDER) -> str:
    """Return a `.taplo.toml` pointing each kind of project file at its schema in `schema_folder`
    (relative to the project folder, where the configuration is written)."""
    lines = [
        "# Editor support (taplo, Even Better TOML): epctl's keys completed and checked as you type.",
        f"# After upgrading epctl, refresh the schemas: epctl schema --out {schema_folder}",
    ]
    for kind, file in SCHEMA_FILES.items():
        # `**/` lets the project sit anywhere in the folder an editor opens.
        glob = f"**/{kind}" if kind == CONFIG_FILE else f"**/{kind}/**/*.toml"
        lines += [
            "",
            "[[rule]]",
            f'include = ["{glob}"]',
            "",
            "[rule.schema]",
            f'path = "{schema_folder}/{file}"',
        ]
    return "\n".join(lines) + "\n"


def editor_files(schema_folder: str = SCHEMA_FOLDER) -> dict[str, str]:
    """Return {project-relative path: text} of the schemas and the taplo configuration."""
    files = {f"{schema_folder}/{name}": text for name, text in render_schemas().items()}
    files[TAPLO_CONFIG] = render_taplo_config(schema_folder)
    return files


def write_schemas(out: Path) -> list[Path]:
    """Write every schema into folder `out` (created if needed), replacing older ones; return them."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
