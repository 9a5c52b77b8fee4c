"""epctl.runtime: what acts on a loaded project (routing verdicts, the WSGI app, servers, tokens)."""

from __future__ import annotations

from epctl.runtime.app import EpctlApp, build_app, create_app

__all__ = ["EpctlApp", "build_app", "create_app"]
