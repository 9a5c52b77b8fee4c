"""A version file made by hand (its digest recomputed) is read like any file: problems, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli
import tomli_w

from epctl.schemas.problems import ProjectError
from epctl.schemas.version_file import VersionError, compute_digest, load_version, read_version


def forge(sample: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Write version `name`: v1.0.0 changed by `change`, with its digest recomputed as anyone can."""
    document = tomli.loads((sample / "versions" / "v1.0.0.toml").read_text())
    document["name"] = name
    change(document)
    document["digest"] = compute_digest(document)
    (sample / "versions" / f"{name}.toml").write_text(tomli_w.dumps(document))


def problems(sample: Path, name: str) -> list[tuple[str, str | None, str]]:
    _, found = read_version(sample, name)
    return [(p.code, p.place.key, p.message) for p in found if p.severity == "error"]


def test_files_as_a_string(sample: Path) -> None:
    forge(sample, "v2", lambda d: d.update(files="not a table"))
    found = problems(sample, "v2")
    assert found[0] == (
        "invalid-type",
        "files",
        '"files" must be a table of "path" = """text""", not a string',
    )
    with pytest.raises(ProjectError):
        load_version(sample, "v2")


def test_a_source_that_is_not_text(sample: Path) -> None:
    forge(sample, "v2", lambda d: d["files"].update({"pages/templates/home.html": 5}))
    assert problems(sample, "v2")[0] == (
        "invalid-type",
        "files.pages/templates/home.html",
        'files "pages/templates/home.html" must be a string (the file\'s text), not an integer',
    )


def test_a_template_that_is_an_integer(sample: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        document["page"][0]["template"] = 5

    forge(sample, "v2", change)
    assert problems(sample, "v2") == [
        ("invalid-type", "page[0].template", '"template" must be a string, not an integer')
    ]


def test_table_files_as_an_array(sample: Path) -> None:
    forge(sample, "v2", lambda d: d.update(table_files=["x"]))
    assert problems(sample, "v2") == [
        ("invalid-type", "table_files", '"table_files" must be a table of "path" = """text""", not an array')
    ]


def test_a_version_file_renamed_is_refused(sample: Path) -> None:
    """A version keeps the name it was frozen (and signed) under: a copy under another name is refused."""
    (sample / "versions" / "v2.toml").write_text((sample / "versions" / "v1.0.0.toml").read_text())
    with pytest.raises(VersionError) as raised:
        load_version(sample, "v2")
    assert str(raised.value) == (
        "versions/v2.toml holds version 'v1.0.0', not 'v2': a version file keeps the name it was frozen "
        "under; restore it from git"
    )
