"""docs/ci.md: the GitHub Actions workflow's epctl steps, run as the workflow runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.cli.test_authoring_sarif import SARIF_SCHEMA
from tests.cli.test_validate import CONFLICT

ROOT = Path(__file__).resolve().parent.parent.parent


def workflow() -> dict[str, Any]:
    """Return the workflow of docs/ci.md (its first YAML block)."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    document: dict[str, Any] = yaml.safe_load(block.group(1))
    return document


def epctl_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow()["jobs"]["epctl"]["steps"]
    return [step for step in steps if step.get("run", "").startswith("epctl ")]


def run_step(step: dict[str, Any], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a step's command with bash, as GitHub's runner does, with this epctl first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_workflow_uploads_sarif_and_fails_on_problems() -> None:
    document = workflow()
    assert document["permissions"]["security-events"] == "write"
    steps = document["jobs"]["epctl"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["if"] == "always()" and upload["with"]["sarif_file"] == "epctl.sarif"
    assert [s["run"] for s in epctl_steps()] == [
        "epctl validate --format sarif > epctl.sarif",
        "epctl validate --format github",
        "epctl verify",
    ]


@pytest.mark.timeout(120)
def test_workflow_steps_pass_on_the_sample(sample: Path) -> None:
    for step in epctl_steps():
        result = run_step(step, sample)
        assert result.returncode == 0, (step["run"], result.stdout, result.stderr)
    log = json.loads((sample / "epctl.sarif").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(log)
    assert log["runs"][0]["results"] == []


@pytest.mark.timeout(120)
def test_workflow_steps_report_a_conflict(write_project: Any) -> None:
    root = write_project(CONFLICT)
    results = {step["name"]: run_step(step, root) for step in epctl_steps()}
    assert results["Validate for code scanning"].returncode == 1  # continue-on-error lets upload run
    log = json.loads((root / "epctl.sarif").read_text(encoding="utf-8"))
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["route-conflict"]
    annotate = results["Validate"]
    assert annotate.returncode == 1
    assert annotate.stdout.startswith("::error file=endpoints/users.toml,line=5,title=route-conflict::")
    assert results["Verify frozen versions"].returncode == 0
