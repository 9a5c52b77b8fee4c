"""Route syntax, conflicts and matching: hapi's rules with the differences README's "Routes" section lists.

Pure: standard library only, no IO, no werkzeug. `validate`, `routes`, `match` and `serve` all use this
one model, so what CI accepts is exactly what the server does. Section letters in comments name the
parts of those rules: (a) syntax, (b) conflicts, (c) matching.

Modules, as werkzeug splits its `routing` package:
- `syntax`: methods, the route grammar, `parse_route`, `Route` and its `Segment`s (a);
- `mixed`: the linear-time matcher of one mixed segment such as `{name}.{ext}` (c);
- `paths`: request path normalisation and param percent-decoding (c);
- `tree`: the search tree and its depth-first walk, the matcher (c);
- `compiled`: the search tree written out as Python code, the matcher requests use (c);
- `table`: `RouteTable`, per-method tables with the conflict rules (b), `Match` and `Candidate`;
- `explain`: why one matching route beats another;
- `router`: `Router`, the one entry callers use, and its outcome values.

Import the public names from this package; the modules' other names are internal.
"""

from __future__ import annotations

from epctl.schemas.routing.explain import explain_precedence
from epctl.schemas.routing.paths import decode_param, normalize_path
from epctl.schemas.routing.router import (
    BadEncoding,
    Disabled,
    Matched,
    MethodNotAllowed,
    NotFound,
    Outcome,
    Preflight,
    Router,
)
from epctl.schemas.routing.syntax import (
    MAX_MULTI_SEGMENTS,
    METHODS,
    Method,
    Route,
    RouteSyntaxError,
    Segment,
    lookup_method,
    parse_route,
)
from epctl.schemas.routing.table import Candidate, Match, RouteConflictError, RouteTable

__all__ = [
    "MAX_MULTI_SEGMENTS",
    "METHODS",
    "BadEncoding",
    "Candidate",
    "Disabled",
    "Match",
    "Matched",
    "Method",
    "MethodNotAllowed",
    "NotFound",
    "Outcome",
    "Preflight",
    "Route",
    "RouteConflictError",
    "RouteSyntaxError",
    "RouteTable",
    "Router",
    "Segment",
    "decode_param",
    "explain_precedence",
    "lookup_method",
    "normalize_path",
    "parse_route",
]
