"""epctl.runtime: what acts on a loaded project (routing verdicts, the WSGI app, servers, versions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from epctl.runtime.app import EpctlApp, build_app, create_app

__all__ = ["EpctlApp", "build_app", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy: `epctl validate` imports runtime modules but never the app, werkzeug or Jinja's sandbox.
    if name in __all__:
        from epctl.runtime import app

        return getattr(app, name)
    raise AttributeError(f"module 'epctl.runtime' has no attribute {name!r}")
