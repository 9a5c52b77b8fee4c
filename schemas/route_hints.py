"""What to say about an invalid route: the parser's message, and the route the user likely meant.

Routes copied from other tools fail in two common ways: Losant's own document prints a wildcard as
`{*any}` (the grammar's form is `{any*}`), and Altogic writes paths without the leading `/`.
"""

from __future__ import annotations

import re

from epctl.schemas.routing import RouteSyntaxError, parse_route

# `{*name}` as Losant's document prints it, and `{*name*}` half-corrected.
_STAR_FIRST_RE = re.compile(r"\{\*([A-Za-z0-9_]+)\*?\}")


def describe_invalid_route(path: str, err: RouteSyntaxError) -> str:
    """Return the `invalid-route` message for `path`: the parser's reason, plus the valid route the
    user probably meant and why, when one fix (or both) of the common mistakes makes it parse."""
    message = f'route "{path}" is invalid: {err}'
    fixed, reasons = path, []
    if _STAR_FIRST_RE.search(fixed):
        fixed = _STAR_FIRST_RE.sub(r"{\1*}", fixed)
        reasons.append("a wildcard is written {name*}")
    if not fixed.startswith("/"):
        fixed = "/" + fixed
        reasons.append('a route starts with "/"')
    if not reasons:
        return message
    try:
        parse_route(fixed)
    except RouteSyntaxError:
        return message
    return f'{message}; did you mean "{fixed}"? ({", ".join(reasons)})'
