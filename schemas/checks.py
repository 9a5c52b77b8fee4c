"""Checks that span tables: references, templates, handlers and routes.

They run on a loaded `Project`, so develop and frozen versions are held to exactly the same rules.
Every check returns problems; none raises for what a user wrote.
"""

from __future__ import annotations

import ast
from collections.abc import Container, Iterable

import jinja2
from jinja2 import meta, nodes

from epctl.schemas.handler_files import find_missing_imports, module_files
from epctl.schemas.json_schemas import check_schemas
from epctl.schemas.models import CONTENT_BLOCK, Endpoint, Page, Reply, Templated, route_of
from epctl.schemas.positions import find_failing_line
from epctl.schemas.problems import Code, Place, Problem, Severity, Suggester, WorkBudget, did_you_mean
from epctl.schemas.project import Declarations, Project
from epctl.schemas.routing import RouteConflictError, Router
from epctl.schemas.static_checks import check_asset_name, find_asset_names, find_static_conflicts
from epctl.schemas.static_files import asset_name
from epctl.schemas.string_lines import find_string_line

TOO_DEEP_FOR_JINJA = "expressions or blocks nested too deeply for the template parser; split them up"
TOO_DEEP_FOR_PYTHON = "expressions nested too deeply for Python's parser; split them up"
ANY_NAME = "*"  # in `invalid_ids`: any name of that kind may exist (its file did not parse)
_PARSER = jinja2.Environment()


def _too_deep_for_jinja(source: str) -> bool:
    try:
        _PARSER.parse(source)
    except RecursionError:
        return True
    except jinja2.TemplateSyntaxError:
        return False
    return False


def _too_deep_for_python(source: str) -> bool:
    try:
        ast.parse(source)
    except (RecursionError, MemoryError):
        return True
    except SyntaxError:
        return False
    return False


def check_project(project: Project, invalid_ids: set[tuple[str, str]] | None = None) -> list[Problem]:
    """Return every cross-table problem of `project` but its routes' (see `build_router`).

    `invalid_ids` names tables that were declared but failed their own validation, and static files
    (kind "asset") that could not be read: references to them are not reported again.
    """
    checker = _Checker(project, invalid_ids or set())
    checker.check_endpoints()
    checker.check_templates()
    checker.check_workflows()
    checker.check_api_keys()
    checker.check_cases()
    return checker.problems + check_schemas(project) + find_static_conflicts(project)


def build_router(
    endpoints: Iterable[Endpoint], declarations: Declarations, *, cors: bool
) -> tuple[Router[Endpoint], list[Problem]]:
    """Return the router of `endpoints` and their `route-conflict` problems.

    Every route is valid (an invalid one was refused with its table). Endpoints are added in
    declaration order (files sorted by path), so the endpoint reported as conflicting is always the
    later one, as the router itself would reject it.
    """
    router: Router[Endpoint] = Router(cors=cors)
    problems: list[Problem] = []
    for endpoint in endpoints:
        try:
            router.add(endpoint.method, route_of(endpoint.route), endpoint, enabled=endpoint.enabled)
        except RouteConflictError as err:
            other: Endpoint = err.existing
            other_place = declarations.place("endpoint", other.id, "route")
            problems.append(
                Problem.error(
                    Code.ROUTE_CONFLICT,
                    f'{endpoint.method} {endpoint.route} (endpoint "{endpoint.id}") conflicts with '
                    f'{other.method} {other.route} (endpoint "{other.id}", '
                    f"{other_place.file}:{other_place.line}): both would match the same requests ({err}); "
                    "change one route or method",
                    declarations.place("endpoint", endpoint.id, "route"),
                    (other_place,),
                )
            )
    return router, problems


class _Checker:
    def __init__(self, project: Project, invalid_ids: set[tuple[str, str]]) -> None:
        self.project = project
        self.invalid = invalid_ids
        self.problems: list[Problem] = []
        self.budget = WorkBudget()
        self.suggesters: dict[str, Suggester] = {}

    def add(
        self,
        code: Code,
        message: str,
        kind: str,
        name: str,
        subkey: str = "",
        severity: Severity = Severity.ERROR,
    ) -> None:
        place = self.project.declarations.place(kind, name, subkey)
        self.problems.append(Problem(severity, code, message, place))

    def known(self, kind: str, name: str, declared: Container[str]) -> bool:
        invalid = self.invalid
        return name in declared or (kind, name) in invalid or (kind, ANY_NAME) in invalid

    def suggest(self, kind: str, name: str, declared: Iterable[str]) -> str:
        """Return a did-you-mean among declared names, counting declared-but-invalid tables too.

        `declared` is read once per kind: one suggester per kind serves the whole run, within one
        work budget, so thousands of unknown references stay linear.
        """
        suggester = self.suggesters.get(kind)
        if suggester is None:
            invalid = sorted(n for k, n in self.invalid if k == kind and n != ANY_NAME)
            suggester = self.suggesters[kind] = Suggester([*declared, *invalid], self.budget)
        return did_you_mean(name, suggester)

    def check_reply(
        self, reply: Reply | None, label: str, file: str, key: str, id: str | None = None
    ) -> None:
        """Report every problem of a reply at once: a page that is not declared, a status out of
        range. `label` names the reply in the message (`reply`, `settings.not_found_reply`); the
        reply is table `key` of `file`, in the table named `id`."""
        if reply is None:
            return

        def locate(subkey: str) -> Place:
            return self.project.declarations.locate(file, f"{key}.{subkey}", id)

        if (
            reply.type == "page"
            and reply.page is not None
            and not self.known("page", reply.page, self.project.pages)
        ):
            self.problems.append(
                Problem.error(
                    Code.UNKNOWN_PAGE,
                    f'{label} names page "{reply.page}", which is not declared in pages/'
                    + self.suggest("page", reply.page, self.project.pages),
                    locate("page"),
                )
            )
        status = reply.status
        if status is None:
            return
        if reply.type == "page" and not 100 <= status <= 599:
            message = f"status {status} is not an HTTP status (100-599)"
        elif reply.type == "redirect" and not 300 <= status <= 399:
            message = f"a redirect needs a status from 300 to 399, not {status}"
        else:
            return
        self.problems.append(Problem.error(Code.INVALID_STATUS, message, locate("status")))

    def check_endpoints(self) -> None:
        settings = self.project.settings
        where = self.project.declarations
        for reply_key in ("not_found_reply", "unauthorized_reply"):
            label = f"settings.{reply_key}"
            self.check_reply(getattr(settings, reply_key), label, "epctl.toml", label)
        triggered = {e for w in self.project.workflows.values() for e in w.endpoints}
        for endpoint in self.project.endpoints:
            eid = endpoint.id
            # The table's file and key only: its line is found when a problem needs it (a file scan).
            file, key = where.keys[("endpoint", eid)]
            for reply_key in ("reply", "unauthorized_reply"):
                self.check_reply(getattr(endpoint, reply_key), reply_key, file, f"{key}.{reply_key}", eid)
            if endpoint.access == "groups" and not endpoint.groups:
                self.add(
                    Code.MISSING_GROUPS,
                    'access = "groups" needs the groups allowed in: add groups = ["<group>", ...]',
                    "endpoint",
                    eid,
                    "access",
                )
            elif endpoint.access != "groups" and endpoint.groups:
                self.add(
                    Code.UNUSED_GROUPS,
                    f'groups are ignored because access = "{endpoint.access}"; '
                    'set access = "groups" to restrict by group',
                    "endpoint",
                    eid,
                    "groups",
                    Severity.WARNING,
                )
            if endpoint.reply is None and eid not in triggered:
                self.add(
                    Code.NO_REPLY,
                    "no reply and no workflow triggered by this endpoint: it will answer "
                    "500; add a reply table or a workflow with this endpoint id",
                    "endpoint",
                    eid,
                    severity=Severity.WARNING,
                )

    def check_templates(self) -> None:
        project = self.project
        for kind, tables in (
            ("page", project.pages),
            ("layout", project.layouts),
            ("component", project.components),
        ):
            for name, table in tables.items():
                tree = self.parse_template(kind, name, table)
                if tree is None:
                    continue
                for included in meta.find_referenced_templates(tree):
                    if (
                        included is not None
                        and not self.known("component", included, project.components)
                        and included not in project.layouts
                    ):
                        self.add(
                            Code.UNKNOWN_COMPONENT,
                            f'template includes "{included}", which is not a '
                            "declared component" + self.suggest("component", included, project.components),
                            kind,
                            name,
                            "template" if table.template else "body",
                        )
                self.check_assets(kind, name, table, tree)
                if kind == "layout":
                    slots = [b for b in tree.find_all(nodes.Block) if b.name == CONTENT_BLOCK]
                    if len(slots) != 1:
                        self.add(
                            Code.LAYOUT_SLOT,
                            "a layout needs exactly one page slot "
                            "`{% block content %}{% endblock %}`, found " + str(len(slots)),
                            kind,
                            name,
                            "template" if table.template else "body",
                        )
                if (
                    isinstance(table, Page)
                    and table.layout is not None
                    and not self.known("layout", table.layout, project.layouts)
                ):
                    self.add(
                        Code.UNKNOWN_LAYOUT,
                        f'page names layout "{table.layout}", which is not declared'
                        + self.suggest("layout", table.layout, project.layouts),
                        kind,
                        name,
                        "layout",
                    )

    def parse_template(self, kind: str, name: str, table: Templated) -> nodes.Template | None:
        source = self.project.template_source(table)
        try:
            try:
                return _PARSER.parse(source)
            except RecursionError:
                raise jinja2.TemplateSyntaxError(
                    TOO_DEEP_FOR_JINJA, find_failing_line(source, _too_deep_for_jinja)
                ) from None
        except jinja2.TemplateSyntaxError as err:
            self.problems.append(
                Problem.error(
                    Code.TEMPLATE_SYNTAX,
                    f'template syntax error in {kind} "{name}": {err.message}',
                    self.template_place(kind, name, table, err.lineno),
                )
            )
            return None

    def template_place(self, kind: str, name: str, table: Templated, line: int) -> Place:
        """Return the place of line `line` of a template: its file's line, or the TOML file's line of
        an inline body."""
        if table.template is not None:
            return Place(file=table.template, line=line, id=name)
        # The file line of template line N depends on how the string is written (one line,
        # a newline after the opening quotes, escapes): see schemas/string_lines.py.
        body = self.project.declarations.place(kind, name, "body")
        texts = self.project.declarations.texts.get(body.file)
        found = body.line
        if texts is not None and body.line is not None:
            found = find_string_line(texts.text, body.line, line) or body.line
        return Place(file=body.file, line=found, key=body.key, id=name)

    def check_assets(self, kind: str, name: str, table: Templated, tree: nodes.Template) -> None:
        """Report each `static_url("name")` of a template that names no file of static/."""
        for line, asset in find_asset_names(tree):
            message = check_asset_name(self.project, asset)
            if message is not None and not self.known("asset", asset, ()):
                names = [asset_name(path) for path in self.project.static]
                self.problems.append(
                    Problem.error(
                        Code.UNKNOWN_ASSET,
                        message + did_you_mean(asset, names, budget=self.budget),
                        self.template_place(kind, name, table, line),
                    )
                )

    def check_workflows(self) -> None:
        project = self.project
        endpoint_ids = [e.id for e in project.endpoints]
        known_ids = set(endpoint_ids)
        parsed: dict[str, ast.Module | None] = {}
        for name, workflow in project.workflows.items():
            path = workflow.handler_file
            if path not in parsed:
                parsed[path] = self.parse_handler(name, path)
            module = parsed[path]
            function = workflow.handler_function
            binding = None if module is None else _last_binding(module, function)
            if module is not None and binding is None:
                self.add(
                    Code.UNKNOWN_HANDLER,
                    f'{path} defines no function "{function}"; define '
                    f"`def {function}(request):` at the top level of that file",
                    "workflow",
                    name,
                    "handler",
                )
            elif binding is not None and not _may_be_function(binding):
                self.add(
                    Code.UNKNOWN_HANDLER,
                    f'{path} binds "{function}" to a value that is not a function (line {binding.lineno}); '
                    f"the last top-level `{function}` must be `def {function}(request):`",
                    "workflow",
                    name,
                    "handler",
                )
            for endpoint_id in workflow.endpoints:
                if not self.known("endpoint", endpoint_id, known_ids):
                    self.add(
                        Code.UNKNOWN_ENDPOINT,
                        f'workflow is triggered by endpoint "{endpoint_id}", which '
                        "is not declared" + self.suggest("endpoint", endpoint_id, endpoint_ids),
                        "workflow",
                        name,
                        "endpoints",
                    )
        self.check_imports(parsed)

    def check_imports(self, parsed: dict[str, ast.Module | None]) -> None:
        """Report imports of project modules that do not exist, in every Python file under workflows/."""
        modules = module_files(self.project.files)

        def parse(path: str) -> ast.Module | None:
            if path not in parsed:
                parsed[path] = self.parse_handler(None, path)
            return parsed[path]

        for path in sorted(set(modules.values()) | set(parsed)):
            tree = parse(path)
            if tree is None:
                continue
            for line, message in find_missing_imports(path, tree, modules, parse):
                self.problems.append(
                    Problem.error(Code.UNKNOWN_MODULE, f"{path} {message}", Place(path, line))
                )

    def parse_handler(self, name: str | None, path: str) -> ast.Module | None:
        source = self.project.files[path]
        try:
            try:
                return ast.parse(source, filename=path)
            except (RecursionError, MemoryError):
                # CPython's parser runs out of stack on deep nesting (a MemoryError, not memory).
                too_deep = SyntaxError(TOO_DEEP_FOR_PYTHON)
                too_deep.lineno = find_failing_line(source, _too_deep_for_python)
                raise too_deep from None
        except SyntaxError as err:
            self.problems.append(
                Problem.error(
                    Code.HANDLER_SYNTAX,
                    f"Python syntax error: {err.msg}",
                    Place(file=path, line=err.lineno, id=name),
                )
            )
            return None

    def check_api_keys(self) -> None:
        ids = {e.id for e in self.project.endpoints}
        for index, api_key in enumerate(self.project.api_keys):
            for endpoint_id in api_key.endpoints:
                if endpoint_id != "*" and not self.known("endpoint", endpoint_id, ids):
                    place = self.project.declarations.locate(
                        "epctl.toml", f"api_key[{index}].endpoints", api_key.name
                    )
                    self.problems.append(
                        Problem.error(
                            Code.UNKNOWN_ENDPOINT,
                            f'API key "{api_key.name}" names endpoint "{endpoint_id}", which is not declared'
                            + self.suggest("endpoint", endpoint_id, sorted(ids)),
                            place,
                        )
                    )

    def check_cases(self) -> None:
        """Report request cases that sign in with an API key the project does not declare."""
        names = [api_key.name for api_key in self.project.api_keys]
        for case in self.project.cases.values():
            if case.api_key is not None and case.api_key not in names:
                self.add(
                    Code.UNKNOWN_API_KEY,
                    f'case calls with API key "{case.api_key}", which is not declared: api_key names an '
                    "[[api_key]] of epctl.toml" + did_you_mean(case.api_key, names),
                    "case",
                    case.name,
                    "api_key",
                )


# A top-level statement that binds a name: where a handler's function comes from.
Binding = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom | ast.Assign


def _last_binding(module: ast.Module, name: str) -> Binding | None:
    """Return the last top-level statement of `module` that binds `name` (the one a caller sees)."""
    found: Binding | None = None
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                found = node
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any((alias.asname or alias.name.partition(".")[0]) == name for alias in node.names):
                found = node
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            found = node
    return found


def _may_be_function(binding: Binding) -> bool:
    """Whether what `binding` binds can be a callable: a def or an import, or an assignment of a
    lambda, a call, a name or an attribute (`h = make_handler()`); not a literal such as `h = None`."""
    if isinstance(binding, ast.Assign):
        return isinstance(binding.value, ast.Lambda | ast.Call | ast.Name | ast.Attribute)
    return not isinstance(binding, ast.ClassDef)
