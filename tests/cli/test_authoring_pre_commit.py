"""The pre-commit hooks of `.pre-commit-hooks.yaml`, run by real pre-commit from this checkout.

pre-commit installs a hook repository at a commit, so these hooks are the ones of this checkout's
HEAD: commit before running this test on changed hook code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLE, run

ROOT = Path(__file__).resolve().parent.parent.parent


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


def head_commit() -> str:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of epctl: pre-commit installs hooks from a commit")
    return git(ROOT, "rev-parse", "HEAD")


def pre_commit(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Return the result of `pre-commit run --all-files` in `repo`, hooks installed under `home`."""
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        ["pre-commit", "run", "--all-files"], cwd=repo, env=env, capture_output=True, text=True, timeout=540
    )


# pre-commit builds a virtualenv and pip-installs this checkout into it the first time.
@pytest.mark.timeout(600)
def test_pre_commit_passes_on_the_sample_and_fails_on_a_broken_project(
    tmp_path: Path, runner: CliRunner
) -> None:
    rev = head_commit()
    if shutil.which("pre-commit") is None:
        pytest.skip("pre-commit is not installed (pip install -e '.[test]' installs it)")
    repo = tmp_path / "repo"
    # The project sits in a sub-folder, as in a repository that holds more than the project.
    shutil.copytree(SAMPLE, repo / "farm", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {rev}\n    hooks:\n      - id: epctl-validate\n"
        "      - id: epctl-verify\n",
        encoding="utf-8",
    )
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    home = tmp_path / "pre-commit-home"

    clean = pre_commit(repo, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "epctl validate" in clean.stdout and "Passed" in clean.stdout
    assert "epctl verify" in clean.stdout

    api = repo / "farm" / "endpoints" / "api.toml"
    api.write_text(api.read_text(encoding="utf-8").replace('route = "/api/me"', 'rout = "/api/me"'))
    version = repo / "farm" / "versions" / "v1.0.0.toml"
    version.write_text(version.read_text(encoding="utf-8").replace('"/api/me"', '"/api/you"'))
    git(repo, "add", "-A")
    broken = pre_commit(repo, home)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert 'unknown-key  unknown key "rout"; did you mean "route"?' in broken.stdout
    assert "FAILED  v1.0.0: versions/v1.0.0.toml does not match its digest" in broken.stdout
    # What the hook reported is what `epctl validate` reports on the same project.
    assert run(runner, repo / "farm", "validate").exit_code == 1
