"""Any edit of a project is a report, never a crash: hypothesis edits the sample project's files
(TOML tables, JSON Schemas, templates, handlers) and the tables of a version frozen from it, and
`validate` answers each with its problems and exit code, never an exception or a traceback."""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from epctl.schemas.version_file import compute_digest
from tests.conftest import SAMPLE, run

# What people type by mistake, and what breaks parsers: quotes, brackets, escapes, template and
# route syntax, a NUL, a lone surrogate (written as invalid UTF-8), huge and odd numbers.
# fmt: off
PIECES = [
    '"', "'", "[", "]", "{", "}", "=", ",", "\n", "#", "\\", "[[endpoint]]\n", "[[page]]\n", "{{", "}}",
    "{%", "%}", "\x00", "é", "\ud800", "\r", "\t", "1e999", "-0", "true", "[]", "{}", '""', "'''",
    '"""', "/", "../", "{id}", "{p*", "*}", "{a?}", "$ref", "9" * 30,
    'route = "/x/{a}/{b?}"\n', 'access = "groups"\n', "groups = []\n", 'reply = { type = "page" }\n',
    "request_schema = {}\n", "response_schema = 5\n", 'layout = "nope"\n', "import os\n",
    # at the top of a file (position 0), tables that are not arrays of tables
    "endpoint = 5\n", 'page = "x"\n', "workflow = [1]\n", "[endpoint]\n", "[settings]\ncors = 1\n",
]
# fmt: on
EDITED = sorted(
    path.relative_to(SAMPLE).as_posix()
    for path in SAMPLE.rglob("*")
    if path.suffix in (".toml", ".json", ".html", ".py") and "__pycache__" not in path.parts
)
# Values a forged version may put anywhere in its tables.
# fmt: off
VALUES: list[Any] = [
    "", "x", "../../etc/passwd", "/abs", "{a}", 0, -1, 2**70, 1.5, True, [], {}, [1, "a"], {"a": {"b": []}},
    "static/../../x.css", "workflows/x.py", "\x00", "def run(request):\n    return 1\n",
]
# fmt: on

# Repeatable: the same examples on every run, so CI never turns red by chance.
EXAMPLES = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def edits(draw: st.DrawFn) -> list[tuple[str, str, int, int]]:
    """Return (file, piece, position, length deleted) edits: insert a piece, delete a span, or both."""
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(EDITED),
                st.sampled_from(["", *PIECES]),
                st.one_of(st.just(0), st.integers(min_value=0, max_value=4000)),
                st.integers(min_value=0, max_value=30),
            ),
            min_size=1,
            max_size=4,
        )
    )


@pytest.fixture(scope="module")
def frozen() -> Iterator[tuple[Path, dict[str, Any]]]:
    """A copy of the sample with version `fz` frozen, and that version's document."""
    folder = Path(tempfile.mkdtemp(prefix="epctl-fuzz-"))
    root = folder / "sample-project"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    assert run(CliRunner(), root, "snapshot", "fz").exit_code == 0
    yield root, tomli.loads((root / "versions" / "fz.toml").read_text())
    shutil.rmtree(folder, ignore_errors=True)


def assert_answered(result: Result, codes: tuple[int, ...]) -> None:
    """The command ended with one of `codes` by its own choice: no exception, no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in codes, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics: how many edits were problems


@EXAMPLES
@given(edits())
def test_any_edit_of_develop_is_reported_never_a_crash(changes: list[tuple[str, str, int, int]]) -> None:
    with tempfile.TemporaryDirectory(prefix="epctl-fuzz-") as folder:
        root = Path(folder) / "sample-project"
        shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
        for relative, piece, position, deleted in changes:
            path = root / relative
            text = path.read_bytes().decode("utf-8", "surrogateescape")
            at = min(position, len(text))
            text = text[:at] + piece + text[at + deleted :]
            path.write_bytes(text.encode("utf-8", "surrogatepass"))
        assert_answered(run(CliRunner(), root, "validate"), (0, 1))
        assert_answered(run(CliRunner(), root, "validate", "--format", "json"), (0, 1))


def paths_in(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Yield the path of every value under `node` (keys and list indexes)."""
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    for key, value in children:
        yield (*path, key)
        yield from paths_in(value, (*path, key))


@EXAMPLES
@given(st.data())
def test_any_forged_version_is_reported_never_a_crash(
    frozen: tuple[Path, dict[str, Any]], data: st.DataObject
) -> None:
    """Values of a version replaced, removed or added, its digest made to match: what a forger with
    write access to versions/ (but no signing key) can make `validate --version` read."""
    root, document = frozen
    forged = tomli.loads(tomli_w.dumps(document))
    forged.pop("digest")
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(list(paths_in(forged))))
        parent = forged
        for key in path[:-1]:
            parent = parent[key]
        # A copy: a later edit may change the value in place, and VALUES must stay as it is.
        value = copy.deepcopy(data.draw(st.sampled_from([None, *VALUES])))
        if value is None:
            del parent[path[-1]]
        elif isinstance(parent, dict) and data.draw(st.booleans()):
            parent[data.draw(st.sampled_from(["extra", "static/a.css", "workflows/e.py", "../x"]))] = value
        else:
            parent[path[-1]] = value
    forged["digest"] = compute_digest(forged)
    (root / "versions" / "fz.toml").write_text(tomli_w.dumps(forged))
    assert_answered(run(CliRunner(), root, "validate", "--version", "fz"), (0, 1, 2))
