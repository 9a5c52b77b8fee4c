"""Pages, layouts and components as sandboxed Jinja templates, compiled once per app.

Templates come from `Project.template_source`, never from disk, so develop and a frozen version render
the same way. Components are found by their plain name (`{% include "footer" %}`); pages and layouts
live under names with a character no declared name may hold, so a user's include can never reach
them by accident.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from epctl.runtime.answers import json_default
from epctl.runtime.request import EndpointInfo, Request
from epctl.schemas.models import CONTENT_BLOCK, Endpoint, Page, Reply, Templated
from epctl.schemas.problems import Code, EpctlError, Place, Problem, ProjectError
from epctl.schemas.project import Project

PAGE_PREFIX = "@page/"
LAYOUT_PREFIX = "@layout/"


class UnknownPageError(EpctlError):
    """A workflow asked for a page the version does not declare."""


class _Sandbox(SandboxedEnvironment):
    """The sandbox, strict about unsafe attributes.

    Jinja's sandbox turns `{{ ''.__class__ }}` into an undefined value that prints as ''. A template
    reaching for internals is an attack or a bug either way, so it fails the render (500, logged).
    """

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Templates read `request.params`, `request.query`... on every render. A Request's public
        # attributes are plain values (no function, type, frame or `str.format`), so the sandbox's
        # checks always let them through: they are given here without running those checks.
        if type(obj) is Request and attribute in _REQUEST_ATTRIBUTES:
            return getattr(obj, attribute)
        # Named, not super(): this runs for every attribute a template reads.
        return SandboxedEnvironment.getattr(self, obj, attribute)


# The names `request.<name>` reads straight from a Request (its slots and properties).
_REQUEST_ATTRIBUTES = frozenset(name for name in dir(Request) if not name.startswith("_"))


class _ProjectLoader(jinja2.BaseLoader):
    """Serves template sources from memory: {internal name: (source, filename for tracebacks)}."""

    def __init__(self, sources: dict[str, tuple[str, str | None]]) -> None:
        self.sources = sources

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool]]:
        found = self.sources.get(template)
        if found is None:
            raise jinja2.TemplateNotFound(template)
        source, filename = found
        return source, filename, lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self.sources)


class Renderer:
    """Every page, layout, component and redirect target of one version, compiled at construction.

    Raises ProjectError (code `template-syntax`) when a template does not compile.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.pages: dict[str, Page] = dict(project.pages)
        sources: dict[str, tuple[str, str | None]] = {}
        html_names: set[str] = set()
        for name, layout in project.layouts.items():
            sources[LAYOUT_PREFIX + name] = self._source(project, "layout", name, layout)
            html_names.add(LAYOUT_PREFIX + name)
        # A plain name is a component first; the checker also accepts including a layout by its name.
        for name in project.layouts:
            sources[name] = sources[LAYOUT_PREFIX + name]
            html_names.add(name)
        for name, component in project.components.items():
            sources[name] = self._source(project, "component", name, component)
            html_names.add(name)
        loader = _ProjectLoader(sources)
        # Whether each template is autoescaped, decided once every template is known (below): jinja
        # asks at every render of each one (a page, its layout, each component it includes). Any
        # other name (a redirect target compiled from its text has none) is not escaped.
        escapes: dict[str | None, bool] = {}
        self.env = _Sandbox(
            loader=loader,
            autoescape=lambda template: escapes.get(template, False),
            # Every template is compiled once below and kept: never evicted, never checked for changes.
            cache_size=-1,
            auto_reload=False,
        )
        # JSON pages: every `{{ ... }}` is written as the content of a JSON string (quotes, backslashes
        # and control characters escaped), so `{"q": "{{ request.query.q }}"}` stays valid JSON for any
        # input. A value already marked safe (`|tojson`, `|safe`) is written as it is.
        self.json_env = _Sandbox(
            loader=loader, autoescape=False, finalize=json_string_content, cache_size=-1, auto_reload=False
        )
        for env in (self.env, self.json_env):
            # `tojson` serialises every value of the render context: read-only mappings, dates, the request.
            env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": template_json_default}
        for name, page in project.pages.items():
            source, filename = self._source(project, "page", name, page)
            if page.layout is not None:
                source = self._as_child(source, page.layout, filename)
            sources[PAGE_PREFIX + name] = (source, filename)
        escapes.update((name, name in html_names or self._page_is_markup(name)) for name in sources)
        self.templates: dict[str, jinja2.Template] = {}
        for internal in sources:
            env = self.json_env if self._page_is_json(internal) else self.env
            self.templates[internal] = self._compile(env, internal, sources[internal][1])
        self.locations: dict[str, jinja2.Template] = {}
        for reply in _redirect_replies(project):
            assert reply.to is not None
            if reply.to not in self.locations:
                self.locations[reply.to] = self._compile_string(reply.to)

    def render_page(
        self, name: str, context: Mapping[str, Any], data: Mapping[str, Any] | None = None
    ) -> tuple[str, str]:
        """Return (text, content type) of page `name` rendered with the request `context` and `data`.

        Raises UnknownPageError for an undeclared page, and whatever the template raises (jinja2
        errors, SecurityError from the sandbox, errors of the values it touches).
        """
        page = self.pages.get(name)
        if page is None:
            raise UnknownPageError(f'no page named "{name}" in this version')
        text = self.templates[PAGE_PREFIX + name].render(with_page(context, page, data or {}))
        return text, page.content_type

    def render_location(self, to: str, context: Mapping[str, Any]) -> str:
        """Return the redirect target `to` of a reply table rendered with `context`.

        Raises KeyError for a `to` that no reply table of the project holds (all were compiled at
        construction, so a request never compiles a template).
        """
        return self.locations[to].render(context)

    def _page_content_type(self, template: str | None) -> str | None:
        if template is None or not template.startswith(PAGE_PREFIX):
            return None  # redirect targets: URLs are not HTML, the `urlencode` filter escapes them
        page = self.pages.get(template.removeprefix(PAGE_PREFIX))
        return None if page is None else page.content_type

    def _page_is_markup(self, template: str | None) -> bool:
        """Return whether a page is autoescaped as markup: HTML, XHTML, XML and SVG content types."""
        content_type = self._page_content_type(template)
        return content_type is not None and is_markup_type(content_type)

    def _page_is_json(self, template: str | None) -> bool:
        content_type = self._page_content_type(template)
        return content_type is not None and is_json_type(content_type)

    def _as_child(self, source: str, layout: str, filename: str | None) -> str:
        """Return the page source as a child of its layout.

        A page that defines blocks fills them as written (`content` plus any other block the layout
        has, like Losant sections); any other page is wrapped whole as the `content` block. The
        prefix goes on the page's first line so template line numbers stay the page's own.
        """
        extends = '{% extends "' + LAYOUT_PREFIX + layout + '" %}'
        try:
            tree = self.env.parse(source, filename=filename)
        except jinja2.TemplateSyntaxError as err:
            raise _syntax_error(err, filename, self.project) from None
        if tree.find(nodes.Block) is not None:
            return extends + source
        return extends + "{% block " + CONTENT_BLOCK + " %}" + source + "{% endblock %}"

    def _compile(self, env: jinja2.Environment, internal: str, filename: str | None) -> jinja2.Template:
        try:
            return env.get_template(internal)
        except jinja2.TemplateSyntaxError as err:
            raise _syntax_error(err, filename, self.project) from None

    def _compile_string(self, source: str) -> jinja2.Template:
        try:
            return self.env.from_string(source)
        except jinja2.TemplateSyntaxError as err:
            problem = Problem.error(
                Code.TEMPLATE_SYNTAX,
                f'redirect target "{source}" is not a valid template: {err.message}',
                Place(file="epctl.toml"),
            )
            raise ProjectError([problem]) from None

    @staticmethod
    def _source(project: Project, kind: str, name: str, table: Templated) -> tuple[str, str | None]:
        if table.template is not None:
            filename = project.source_name(table.template)
        elif (kind, name) in project.declarations.keys:
            # An inline body: name the TOML file that holds it (no line scan: that is for errors only).
            filename = project.source_name(project.declarations.keys[(kind, name)][0])
        else:
            filename = None
        return project.template_source(table), filename


def make_context(
    project: Project,
    *,
    request: Request,
    endpoint: Endpoint | None,
    static_url: Callable[[str], str],
) -> dict[str, Any]:
    """Return the render context of a request (Losant's static reply context) with no page yet;
    `static_url(name)` gives the URL of a file of static/ (root and content hash included).

    `Renderer.render_page` adds `experience.page`, `experience.layout` and `data` for one page.
    """
    return {
        "time": request.time,
        "application": {"name": project.name},
        "experience": {
            "user": request.user,
            "endpoint": None
            if endpoint is None
            else {"id": endpoint.id, "route": endpoint.route, "tags": dict(endpoint.tags)},
            "page": None,
            "layout": None,
            "version": project.version,
        },
        "globals": request.globals,
        "request": request,
        "data": {},
        # The environment root ("" for none) and the site path of an app path, for links in bodies.
        "root": request.root,
        "url": request.url,
        "static_url": static_url,
    }


def with_page(context: Mapping[str, Any], page: Page, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of `context` naming `page` (and its layout) and holding `data`."""
    experience = dict(context["experience"])
    experience["page"] = {"name": page.name}
    experience["layout"] = None if page.layout is None else {"name": page.layout}
    return {**context, "experience": experience, "data": data}


def is_markup_type(content_type: str) -> bool:
    """Return whether a content type is markup autoescaped as HTML: html, xhtml, xml and svg types."""
    mimetype = content_type.partition(";")[0].strip().lower()
    return "html" in mimetype or "xml" in mimetype or "svg" in mimetype


def is_json_type(content_type: str) -> bool:
    """Return whether a content type is JSON (`application/json`, `*/*+json`)."""
    mimetype = content_type.partition(";")[0].strip().lower()
    return mimetype == "application/json" or mimetype.endswith("+json")


def json_string_content(value: Any) -> Any:
    """Return what a JSON page writes for `{{ value }}`: the text escaped as JSON string content,
    or a value marked safe (`|tojson`, `|safe`) as it is."""
    if isinstance(value, Markup):
        return value
    return json.dumps(str(value), ensure_ascii=False)[1:-1]


def template_json_default(value: Any) -> Any:
    """Return a JSON value for what `tojson` meets in the render context beyond JSON's own types.

    Raises TypeError for anything else (the render fails: 500, logged).
    """
    if isinstance(value, Request):
        return {
            "method": value.method,
            "path": value.path,
            "params": value.params,
            "query": value.query,
            "headers": dict(value.headers),
            "cookies": value.cookies,
        }
    if isinstance(value, EndpointInfo):
        return {"id": value.id, "route": value.route, "tags": dict(value.tags)}
    if isinstance(value, jinja2.Undefined):
        return None
    return json_default(value)


def _redirect_replies(project: Project) -> list[Reply]:
    replies = [project.settings.not_found_reply, project.settings.unauthorized_reply]
    for endpoint in project.endpoints:
        replies += [endpoint.reply, endpoint.unauthorized_reply]
    return [reply for reply in replies if reply is not None and reply.type == "redirect"]


def _syntax_error(err: jinja2.TemplateSyntaxError, filename: str | None, project: Project) -> ProjectError:
    file = filename or "pages"
    root = str(project.root)
    if file.startswith(root):
        file = file[len(root) :].lstrip("/\\")
    return ProjectError(
        [
            Problem.error(
                Code.TEMPLATE_SYNTAX,
                f"template syntax error: {err.message}",
                Place(file, err.lineno),
            )
        ]
    )
