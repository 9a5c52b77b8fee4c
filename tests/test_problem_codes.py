"""Problem codes are one enum, all emitted somewhere, and all documented in README."""

from __future__ import annotations

import re
from pathlib import Path

from epctl.schemas.problems import Code

ROOT = Path(__file__).resolve().parent.parent


def readme_codes() -> set[str]:
    """Return the codes of README's table of problem codes (first column, in backticks)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # The table right after "The codes:", up to the blank line that ends it.
    table = text.split("The codes:\n\n", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^\| `([a-z-]+)` \| (?:error|warning) \|", table, re.MULTILINE))


def test_readme_lists_every_problem_code() -> None:
    assert readme_codes() == {str(code) for code in Code}


def test_every_problem_code_is_emitted_somewhere() -> None:
    sources = "".join(
        path.read_text(encoding="utf-8")
        for folder in ("cli", "runtime", "schemas")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "problems.py"
    )
    unused = [code.name for code in Code if f"Code.{code.name}" not in sources]
    assert unused == []
