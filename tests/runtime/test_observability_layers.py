"""The observability package keeps to its layer: no CLI, and OpenTelemetry only in `otel`."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "runtime" / "observability"


def imported_modules(path: Path) -> set[str]:
    """Return every module `path` imports when it runs, at any depth (inside functions too); imports
    under `if TYPE_CHECKING:` are for the type checker only and are left out."""
    names: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        pending.extend(ast.iter_child_nodes(node))
    return names


def test_observability_never_imports_the_cli() -> None:
    for path in PACKAGE.glob("*.py"):
        for name in imported_modules(path):
            assert not name.startswith(("epctl.cli", "typer", "rich", "click")), f"{path.name} imports {name}"


def test_only_the_otel_module_imports_opentelemetry() -> None:
    """`tracing` decides whether tracing is on without importing OpenTelemetry; `otel` is imported after."""
    importers = {
        path.name
        for path in PACKAGE.glob("*.py")
        if any(name.startswith("opentelemetry") for name in imported_modules(path))
    }
    assert importers == {"otel.py"}
