"""Where the admin listener (`/metrics`, `/livez`, `/readyz`) listens, for `epctl serve --admin-port`
and the gunicorn configuration module alike.

Its address is not an option: it should rarely leave 127.0.0.1, since the metrics are not for the
public. Standard library only, so the command line can name it in its help when it starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ADMIN_HOST_ENV = "EPCTL_ADMIN_HOST"
DEFAULT_ADMIN_HOST = "127.0.0.1"


def read_admin_host(environ: Mapping[str, str] | None = None) -> str:
    """Return the admin listener's address: `EPCTL_ADMIN_HOST` when set and not blank, else 127.0.0.1."""
    environ = os.environ if environ is None else environ
    return environ.get(ADMIN_HOST_ENV, "").strip() or DEFAULT_ADMIN_HOST
