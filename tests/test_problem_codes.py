"""Problem codes are one enum, all emitted somewhere, and all documented in README."""

from __future__ import annotations

import re
from pathlib import Path

from epctl.schemas.problem_codes import CODE_INFO
from epctl.schemas.problems import Code

ROOT = Path(__file__).resolve().parent.parent


def readme_table() -> str:
    """Return README's table of problem codes: right after "The codes:", up to the blank line."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("The codes:\n\n", 1)[1].split("\n\n", 1)[0]


def readme_codes() -> set[str]:
    """Return the codes of README's table of problem codes (first column, in backticks)."""
    return set(re.findall(r"^\| `([a-z-]+)` \| (?:error|warning) \|", readme_table(), re.MULTILINE))


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
    rows = re.findall(r"^\| `([a-z-]+)` \| (error|warning) \| (.+) \|$", readme_table(), re.MULTILINE)
    assert {code: (severity, summary) for code, severity, summary in rows} == {
        str(code): (str(info.severity), info.summary) for code, info in CODE_INFO.items()
    }


def test_every_problem_code_is_described() -> None:
    """SARIF rules and suppressions read `CODE_INFO`: a code missing there would break them."""
    assert set(CODE_INFO) == set(Code)
