"""The JSON Schemas `epctl schema` generates: what check-jsonschema and editors see, and that they
agree with the loader key for key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from typer.testing import CliRunner

from epctl.cli.main import app
from epctl.schemas import models, users_config
from epctl.schemas.json_schema import SCHEMA_FILES, build_schemas
from epctl.schemas.loader import CONFIG_FILE, CONFIG_SECTIONS
from epctl.schemas.models import TABLES_BY_FOLDER
from tests.conftest import run

CHECK_JSONSCHEMA = [sys.executable, "-m", "check_jsonschema"]


@pytest.fixture
def schema_dir(tmp_path: Path, runner: CliRunner) -> Path:
    out = tmp_path / "schema"
    result = runner.invoke(app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def check_files(schema: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    """Return the result of the real check-jsonschema CLI over `files`."""
    command = [*CHECK_JSONSCHEMA, "--schemafile", str(schema), *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def project_files(root: Path) -> dict[str, list[Path]]:
    """Return the TOML files of a project by the schema that describes them."""
    files = {SCHEMA_FILES[CONFIG_FILE]: [root / CONFIG_FILE]}
    for folder in TABLES_BY_FOLDER:
        files[SCHEMA_FILES[folder]] = sorted((root / folder).glob("**/*.toml"))
    return files


@pytest.mark.timeout(120)
def test_sample_project_files_pass_check_jsonschema(sample: Path, schema_dir: Path) -> None:
    for schema, files in project_files(sample).items():
        assert files, schema
        result = check_files(schema_dir / schema, files)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(120)
def test_planted_unknown_key_fails_check_jsonschema_and_validate(
    sample: Path, schema_dir: Path, runner: CliRunner
) -> None:
    path = sample / "endpoints" / "api.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('id = "api-me"\n', 'id = "api-me"\nmethd = "GET"\n'), encoding="utf-8")
    line = path.read_text(encoding="utf-8").splitlines().index('methd = "GET"') + 1

    checked = check_files(schema_dir / SCHEMA_FILES["endpoints"], [path])
    assert checked.returncode == 1
    assert "Additional properties are not allowed ('methd' was unexpected)" in checked.stdout

    result = run(runner, sample, "validate", "--format", "json")
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert (problem["code"], problem["file"], problem["line"], problem["message"]) == (
        "unknown-key",
        "endpoints/api.toml",
        line,
        'unknown key "methd"; did you mean "method"?',
    )


def model_named(name: str) -> type[BaseModel]:
    model = getattr(models, name, None) or getattr(users_config, name)
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def test_schema_and_loader_agree_on_every_key() -> None:
    """The sections each file may hold are the loader's; each table's keys, required keys and
    defaults are its model's. Fails when a key is added to one and not the other."""
    schemas = build_schemas()
    assert set(schemas[SCHEMA_FILES[CONFIG_FILE]]["properties"]) == set(CONFIG_SECTIONS)
    for folder, tables in TABLES_BY_FOLDER.items():
        assert set(schemas[SCHEMA_FILES[folder]]["properties"]) == set(tables)
    for schema in schemas.values():
        assert schema["additionalProperties"] is False
        for name, definition in schema["definitions"].items():
            model = model_named(name)
            assert definition["additionalProperties"] is False, name
            # Keys as written in TOML: a field's alias (`json`) where it has one.
            keys = {key: field.alias or key for key, field in model.model_fields.items()}
            assert set(definition["properties"]) == set(keys.values()), name
            required = {key for key, field in model.model_fields.items() if field.is_required()}
            assert set(definition.get("required", [])) == required, name
            for key, field in model.model_fields.items():
                prop: dict[str, Any] = definition["properties"][keys[key]]
                assert prop.get("description"), f"{name}.{key} has no description"
                default = field.get_default(call_default_factory=True)
                if default is not PydanticUndefined and default is not None:
                    assert prop["default"] == default, f"{name}.{key}"


def test_optional_keys_are_never_null() -> None:
    """TOML has no null: an optional key is left out, so the schema never offers null."""
    text = json.dumps(build_schemas())
    assert '"null"' not in text


def test_schema_command_prints_and_writes_the_same_schemas(
    runner: CliRunner, tmp_path: Path, schema_dir: Path
) -> None:
    printed = runner.invoke(app, ["schema"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == build_schemas()
    assert sorted(p.name for p in schema_dir.iterdir()) == sorted(SCHEMA_FILES.values())
    for name, schema in build_schemas().items():
        assert json.loads((schema_dir / name).read_text(encoding="utf-8")) == schema


def test_schema_taplo_writes_a_config_once(runner: CliRunner, sample: Path) -> None:
    result = run(runner, sample, "schema", "--out", str(sample / "editor"), "--taplo")
    assert result.exit_code == 0, result.output
    config = (sample / ".taplo.toml").read_text(encoding="utf-8")
    assert '[rule.schema]\npath = "editor/endpoints.schema.json"' in config
    again = run(runner, sample, "schema", "--out", str(sample / "editor"), "--taplo")
    assert again.exit_code == 0
    assert "(it exists; edit its schema paths by hand)" in again.stderr
    without_out = run(runner, sample, "schema", "--taplo")
    assert without_out.exit_code == 2


@pytest.mark.timeout(120)
def test_init_writes_editor_support_that_checks_its_own_files(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "site"
    assert runner.invoke(app, ["init", str(target)]).exit_code == 0
    config = (target / ".taplo.toml").read_text(encoding="utf-8")
    for kind, name in SCHEMA_FILES.items():
        glob = f"**/{kind}" if kind == CONFIG_FILE else f"**/{kind}/**/*.toml"
        assert f'include = ["{glob}"]\n\n[rule.schema]\npath = "schema/{name}"' in config
    for schema, files in project_files(target).items():
        if not files:
            continue  # a folder `init` leaves empty (tests/): nothing to check
        result = check_files(target / "schema" / schema, files)
        assert result.returncode == 0, result.stdout + result.stderr
