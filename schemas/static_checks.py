"""What `validate` checks about static files: routes the static mount hides, and asset names templates use.

The static files are served under `[settings] static_prefix` before any route is matched, so the mount
acts like a literal route `/static/{path*}` that no endpoint may share: a route whose leading literal
segments are the prefix's can never be reached (`route-conflict`). A route with a parameter or
wildcard there (`/{page}/...`, `/{any*}`) still serves every other path, as a literal beats a
parameter in the router, so it is no conflict. The mount exists only when the version has static
files. `static_url("name")` with a literal name is checked against the files (`unknown-asset`).
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from epctl.schemas.models import route_of
from epctl.schemas.problems import Code, Problem
from epctl.schemas.project import Project
from epctl.schemas.routing.syntax import LITERAL, Route
from epctl.schemas.static_files import STATIC_FOLDER, asset_path

HELPER = "static_url"


def find_static_conflicts(project: Project) -> list[Problem]:
    """Return a `route-conflict` for each endpoint whose route lies under the static prefix."""
    if not project.static:
        return []
    prefix = project.settings.static_prefix
    segments = tuple(prefix.strip("/").split("/"))
    declarations = project.declarations
    setting = declarations.locate("epctl.toml", "settings.static_prefix")
    related = (setting,) if setting.line is not None else ()
    files = len(project.static)
    problems = []
    for endpoint in project.endpoints:
        if not is_under(route_of(endpoint.route), segments):
            continue
        problems.append(
            Problem.error(
                Code.ROUTE_CONFLICT,
                f'{endpoint.method} {endpoint.route} (endpoint "{endpoint.id}") conflicts with the static '
                f"files served under {prefix} ({files} file{'' if files == 1 else 's'} in {STATIC_FOLDER}/): "
                f"requests under {prefix} are answered from {STATIC_FOLDER}/ and never reach this "
                "endpoint; change the route, or serve the files elsewhere with [settings] static_prefix",
                declarations.place("endpoint", endpoint.id, "route"),
                related,
            )
        )
    return problems


def is_under(route: Route, prefix: tuple[str, ...]) -> bool:
    """Return whether `route` starts with the literal segments `prefix` and goes on below them."""
    if len(route.segments) <= len(prefix):
        return False
    return all(
        segment.kind == LITERAL and segment.text == literal
        for segment, literal in zip(route.segments, prefix, strict=False)
    )


def find_asset_names(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    """Yield (template line, name) of each `static_url("literal")` call in a parsed template; a name
    built at render time (`static_url(name)`) cannot be checked here, and fails its render if unknown."""
    for call in tree.find_all(nodes.Call):
        if (
            isinstance(call.node, nodes.Name)
            and call.node.name == HELPER
            and call.args
            and isinstance(call.args[0], nodes.Const)
            and isinstance(call.args[0].value, str)
        ):
            yield call.lineno, call.args[0].value


def check_asset_name(project: Project, name: str) -> str | None:
    """Return why `static_url(name)` fails in `project`, None when static/ has that file."""
    if asset_path(name) in project.static:
        return None
    return f'template calls {HELPER}("{name}"), but {STATIC_FOLDER}/ has no file "{name}"'
