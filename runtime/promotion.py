"""Promotion without downtime: which version an environment's gunicorn workers build, chosen in the
master at start and again on each SIGHUP.

`serve --env E --workers N` does not build the app in gunicorn's master: each worker builds it when it
boots, so the workers a SIGHUP starts serve what `EnvironmentPlan.version` names then, while the old
workers finish their requests. On SIGHUP the master re-reads the environment in `epctl.toml`; a
version (or root) that changed is first built in a separate process, so a version that cannot be
served is refused (logged) before any worker is replaced, and the old workers keep serving. The
check runs apart so that the master does not import the handler code of every version it is HUPed
to, nor keep what a handler module does when it loads.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from epctl.runtime.app import build_version, find_environment
from epctl.schemas.problems import EpctlError

if TYPE_CHECKING:
    from epctl.runtime.app import EpctlApp

log = logging.getLogger("epctl.runtime")

# Building a version takes well under a second; a check that takes this long is refused, not waited for.
CHECK_SECONDS = 120
_CHECK_CODE = (
    "import sys\n"
    "from epctl.runtime.promotion import report_build\n"
    "sys.exit(report_build(sys.argv[1], sys.argv[2], sys.argv[3]))\n"
)


@dataclass
class EnvironmentPlan:
    """The version (and root) that environment `env` of the project in `project_dir` is served at.

    Changed only in gunicorn's master, by `refresh`; a worker forked after that builds what it names.
    """

    project_dir: Path
    env: str
    version: str
    root: str

    @classmethod
    def read(cls, project_dir: str | Path, env: str) -> EnvironmentPlan:
        """Return the plan of `env` as epctl.toml says now.

        Raises UnknownEnvironmentError for an undeclared environment, ProjectError for a bad epctl.toml.
        """
        root_dir = Path(project_dir).resolve()
        environment = find_environment(root_dir, env)
        return cls(root_dir, env, environment.version, environment.root)

    def build(self) -> EpctlApp:
        """Return the app of the planned version (what each worker does when it boots).

        Raises what `create_app` raises.
        """
        app = build_version(self.project_dir, self.version, mount=self.root)
        app.environment = self.env
        return app

    def refresh(self) -> bool:
        """Re-read the environment in epctl.toml before a reload (SIGHUP) and adopt what it points at
        when that builds. Returns True when the reload may go on (the same version, or a new one that
        builds), False when it is refused: the old workers then keep serving. Both are logged."""
        try:
            current = EnvironmentPlan.read(self.project_dir, self.env)
        except EpctlError as err:
            log.error(
                'reload refused: environment "%s" cannot be read (%s); still serving version "%s"',
                self.env,
                err,
                self.version,
            )
            return False
        if (current.version, current.root) == (self.version, self.root):
            log.info('reloading environment "%s": version "%s" again', self.env, self.version)
            return True
        failure = check_build(self.project_dir, current.version, current.root)
        if failure is not None:
            log.error(
                'reload refused: environment "%s" points at version "%s", which cannot be served: %s; '
                'still serving version "%s"',
                self.env,
                current.version,
                failure,
                self.version,
            )
            return False
        log.info(
            'promoting environment "%s" from version "%s" to "%s": new workers serve it, old ones finish '
            "their requests",
            self.env,
            self.version,
            current.version,
        )
        self.version, self.root = current.version, current.root
        return True


def check_build(project_dir: Path, version: str, root: str) -> str | None:
    """Build `version` mounted at `root` in a new Python process; return None when it builds, else
    what went wrong (one line, as `serve` would report it)."""
    command = [sys.executable, "-c", _CHECK_CODE, str(project_dir), version, root]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=CHECK_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return f"building it took over {CHECK_SECONDS} seconds"
    if result.returncode == 0:
        return None
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else f"the check exited with status {result.returncode}"


def report_build(project_dir: str, version: str, root: str) -> int:
    """Build `version` of the project in `project_dir` at `root`; return 0 when it builds, else print
    why on stderr (its last line says it in one line) and return 1. Run by `check_build`."""
    try:
        build_version(Path(project_dir).resolve(), version, mount=root)
    except EpctlError as err:
        print(err, file=sys.stderr)
        return 1
    except Exception as err:
        # A handler that raises something unexpected while it is loaded: said, not hidden.
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0
