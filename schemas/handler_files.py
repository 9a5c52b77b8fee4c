"""The Python files under `workflows/` as modules: their names, and the imports `validate` checks.

Handlers import each other by names relative to the workflows folder (`import helpers` finds
`workflows/helpers.py`). `validate` never runs that code: it parses each file and reports an import
that names neither a project module nor an installed one.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable, Iterator, Mapping

WORKFLOWS_FOLDER = "workflows"


def is_module_file(path: str) -> bool:
    """Whether project path `path` is a Python file of the workflows folder."""
    return path.startswith(WORKFLOWS_FOLDER + "/") and path.endswith(".py")


def module_files(files: Mapping[str, str]) -> dict[str, str]:
    """Return {module name: project path} for the Python files under `workflows/`: `helpers` for
    `workflows/helpers.py`, `lib` for `workflows/lib/__init__.py`, `lib.util` for `workflows/lib/util.py`.
    Files whose path is not a valid dotted module name are left out (they can only be handlers)."""
    modules: dict[str, str] = {}
    prefix = WORKFLOWS_FOLDER + "/"
    for path in files:
        if not is_module_file(path):
            continue
        parts = path[len(prefix) : -len(".py")].split("/")
        if parts[-1] == "__init__":
            parts.pop()
        if parts and all(part.isidentifier() for part in parts):
            modules[".".join(parts)] = path
    return modules


def find_missing_imports(
    path: str, tree: ast.Module, modules: Mapping[str, str], parse: Callable[[str], ast.Module | None]
) -> Iterator[tuple[int, str]]:
    """Yield (line, message) for each import in file `path` that no project module or installed
    module answers; `modules` is `module_files` of the project, `parse` returns the tree of a project
    file (None when it does not parse, which is reported on its own)."""
    names = {module_path: name for name, module_path in modules.items()}
    own = names.get(path, "")
    package = own if path.endswith("/__init__.py") else own.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                problem = _check_absolute(alias.name, modules)
                if problem:
                    yield node.lineno, problem
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = ".".join(part for part in (base, node.module or "") if part)
            shown = "." * node.level + (node.module or "")
            if not target or target not in modules:
                yield node.lineno, f'imports "{shown}", which is not a module under workflows/'
                continue
        else:
            target = shown = node.module or ""
            problem = _check_absolute(target, modules)
            if problem:
                yield node.lineno, problem
                continue
            if target.partition(".")[0] not in modules:
                continue  # an installed module: its names are its own business
        bound = _top_level_names(parse(modules[target]))
        for alias in node.names:
            name = alias.name
            if name != "*" and bound is not None and name not in bound and f"{target}.{name}" not in modules:
                yield node.lineno, f'imports "{name}" from "{shown}", which defines no such name or module'


def _top_level_names(tree: ast.Module | None) -> set[str] | None:
    """Return the names a module binds at its top level; None when unknown (no tree, or `import *`)."""
    if tree is None:
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return None
            names.update((alias.asname or alias.name.partition(".")[0]) for alias in node.names)
        else:
            # Assignments, loops, with, try... bind what their Name targets store.
            names.update(
                child.id
                for child in ast.walk(node)
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
            )
    return names


def _check_absolute(name: str, modules: Mapping[str, str]) -> str | None:
    top = name.partition(".")[0]
    if top in modules:
        if name not in modules:
            return f'imports "{name}", which is not a module under workflows/'
        return None
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        found = None
    if found is None:
        return (
            f'imports "{name}", which is neither a file under workflows/ (workflows/{top}.py) nor an '
            "installed module"
        )
    return None
