"""Every package folder is listed for setuptools, so a wheel (not only an editable install) has it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {f"epctl.{folder}": folder for folder in ("cli", "runtime", "schemas")}
    assert config["package-dir"] == folders
    found = {
        "epctl." + init.parent.relative_to(ROOT).as_posix().replace("/", ".")
        for folder in folders.values()
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(config["packages"]) == found
