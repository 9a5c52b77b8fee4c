"""Problem codes are one enum, all emitted somewhere, and all documented in README."""

from __future__ import annotations

import re
from pathlib import Path

from epctl.schemas.problem_codes import CODE_INFO
from epctl.schemas.problems import Code

ROOT = Path(__file__).resolve().parent.parent


def readme_codes() -> set[str]:
    """Return the codes of README's table of problem codes (first column, in backticks)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z-]+)` \| (?:error|warning) \|", text, re.MULTILINE))


def test_readme_lists_every_problem_code() -> None:
    assert readme_codes() == {str(code) for code in Code}


def test_every_problem_code_is_emitted_somewhere() -> None:
    sources = "".join(
        path.read_text(encoding="utf-8")
        for folder in ("cli", "runtime", "schemas")
        for path in (ROOT / folder).rglob("*.py")
        # problems.py declares the codes and problem_codes.py describes them: neither emits one.
        if path.name not in ("problems.py", "problem_codes.py")
    )
    unused = [code.name for code in Code if f"Code.{code.name}" not in sources]
    assert unused == []


def test_readme_describes_each_code_as_problem_codes_does() -> None:
    """SARIF rules take their help text and level from `CODE_INFO`; README's table says the same."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z-]+)` \| (error|warning) \| (.+) \|$", text, re.MULTILINE)
    assert {code: (severity, summary) for code, severity, summary in rows} == {
        str(code): (str(info.severity), info.summary) for code, info in CODE_INFO.items()
    }
