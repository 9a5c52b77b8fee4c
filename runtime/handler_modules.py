"""Handler code as modules of one version: `workflows/**/*.py` importable by each other, never shared.

Handler files come from `Project.files`, not from disk, so develop and a frozen version run the very
same text. Each app gets its own `ModuleSpace`: `import helpers` in `workflows/devices.py` finds
`workflows/helpers.py` of the same version (names are relative to the workflows folder, packages are
folders with `__init__.py`), and two versions served by one process (`serve --all`) each import their
own copy. Any other import goes to Python's import system as usual.

How: every project module gets its own `__builtins__` whose `__import__` looks in the space first.
The `import` statement calls the `__import__` of the module that runs it, so nothing global is
patched and no import hook is installed.
"""

from __future__ import annotations

import builtins
import linecache
import re
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from epctl.schemas.handler_files import module_files

_MODULE_CHARS = re.compile(r"[^A-Za-z0-9_]")

ImportFunction = Callable[..., types.ModuleType]


class ModuleSpace:
    """The modules of one version's workflows folder, each run at most once, on first import.

    `filename(path)` names a project file in tracebacks; `prefix` makes the names under which modules
    are registered in `sys.modules` unique to this project and version (dataclasses, pickling and
    `typing.get_type_hints` in user code look modules up there).
    """

    def __init__(self, files: Mapping[str, str], *, prefix: str, filename: Callable[[str], str]) -> None:
        self.files = files
        self.by_name = module_files(files)
        self.names = {path: name for name, path in self.by_name.items()}
        self.prefix = "epctl_handlers." + _MODULE_CHARS.sub("_", prefix)
        self.filename = filename
        self.modules: dict[str, types.ModuleType] = {}
        self.builtins = {**vars(builtins), "__import__": self.import_module}

    def run_file(self, path: str) -> types.ModuleType:
        """Return the module of project file `path` (a handler file), running it on first use.

        Raises whatever running the file raises; the module is then forgotten, so a later call runs
        it again.
        """
        name = self.names.get(path)
        if name is not None:
            return self.load(name)
        # A handler file whose path is no module name (`workflows/my-flows.py`) still runs once, here.
        key = "/" + path
        if key not in self.modules:
            self.modules[key] = self.execute(path, _MODULE_CHARS.sub("_", path.removesuffix(".py")), "")
        return self.modules[key]

    def load(self, name: str) -> types.ModuleType:
        """Return project module `name`, running it (and its parent packages) on first use."""
        module = self.modules.get(name)
        if module is not None:
            return module
        parent, _, child = name.rpartition(".")
        if parent:
            self.load(parent)
            module = self.modules.get(name)  # the parent's code may have imported it already
            if module is not None:
                return module
        path = self.by_name[name]
        is_package = path.endswith("/__init__.py")
        module = self.execute(path, name, name if is_package else parent)
        if parent:
            setattr(self.modules[parent], child, module)
        return module

    def execute(self, path: str, name: str, package: str) -> types.ModuleType:
        source = self.files[path]
        filename = self.filename(path)
        code = compile(source, filename, "exec")
        # Tracebacks show the lines that actually ran, even for a version whose code is in no file of
        # its own, or a develop file edited since (mtime None: linecache.checkcache keeps such entries).
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        registered = f"{self.prefix}.{name}"
        module = types.ModuleType(registered)
        module.__file__ = filename
        module.__package__ = package
        module.__builtins__ = self.builtins  # type: ignore[attr-defined]
        if path.endswith("/__init__.py"):
            module.__path__ = []
        # Registered before it runs, as Python does, so that a circular import finds it half-made.
        self.modules[name] = module
        sys.modules[registered] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            del self.modules[name]
            sys.modules.pop(registered, None)
            raise
        return module

    def import_module(
        self,
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> types.ModuleType:
        """`__import__` for project modules: the version's own modules first, then Python's."""
        if level:
            package = str((globals or {}).get("__package__") or "")
            base = package.rsplit(".", level - 1)[0] if level > 1 else package
            absolute = f"{base}.{name}" if name and base else (name or base)
            if not base or absolute not in self.by_name:
                raise ImportError(
                    f"attempted relative import of {name!r} that is not a module under workflows/"
                )
            return self.import_project(absolute, fromlist, relative=True)
        top = name.partition(".")[0]
        if top in self.by_name:
            return self.import_project(name, fromlist, relative=False)
        return builtins.__import__(name, globals, locals, fromlist or (), level)

    def import_project(
        self, name: str, fromlist: Sequence[str] | None, *, relative: bool
    ) -> types.ModuleType:
        if name not in self.by_name:
            raise ModuleNotFoundError(f"No module named {name!r} under workflows/", name=name)
        module = self.load(name)
        for item in fromlist or ():
            submodule = f"{name}.{item}"
            if not hasattr(module, item) and submodule in self.by_name:
                self.load(submodule)
        if fromlist or relative:
            return module
        # `import a.b` binds `a`: return the top-level package, as Python does.
        return self.modules[name.partition(".")[0]]
