"""The code base stays ruff clean: part of the one test command, so CI enforces it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    for command in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        result = subprocess.run([ruff, *command], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_never_imports_the_cli() -> None:
    """Imports go one way (cli -> runtime -> schemas): a gunicorn worker never loads typer or rich."""
    for folder, banned in (
        ("runtime", ("epctl.cli", "typer", "rich")),
        ("schemas", ("epctl.cli", "epctl.runtime", "typer", "rich")),
    ):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for name in banned:
                assert f"import {name}" not in text and f"from {name}" not in text, f"{path} imports {name}"


def test_nothing_imports_click_directly() -> None:
    """typer bundles its own click; a stray `import click` works only where something else installed it."""
    for folder in ("cli", "runtime", "schemas", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "\nimport click" not in text and "\nfrom click" not in text, f"{path} imports click"
