"""mypy in strict mode over the three packages, as configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_mypy_strict_is_clean() -> None:
    # The folders install under other names (cli -> epctl.cli); a tree of links gives mypy the
    # installed layout whatever the install mode. It lives in mypy's own (git-ignored) cache folder,
    # at a fixed place so that the cache is reused from one run to the next.
    cache = ROOT / ".mypy_cache"
    package = cache / "tree" / "epctl"
    package.mkdir(parents=True, exist_ok=True)
    for name in ("cli", "runtime", "schemas"):
        link = package / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name, target_is_directory=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            "-p",
            "epctl.cli",
            "-p",
            "epctl.runtime",
            "-p",
            "epctl.schemas",
        ],
        cwd=cache / "tree",
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout + result.stderr
