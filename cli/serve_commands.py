"""Commands that serve: serve (werkzeug or gunicorn) and token (mint a user token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from epctl.cli.app import DEVELOP, ProblemFormat, app, get_state
from epctl.cli.completion import complete_environments, complete_versions

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from epctl.schemas.problems import ProjectError


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    version: Annotated[
        str | None,
        typer.Option("--version", "-V", help="Serve a frozen version.", autocompletion=complete_versions),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", "-e", help="Serve an environment's version.", autocompletion=complete_environments
        ),
    ] = None,
    serve_all: Annotated[
        bool, typer.Option("--all", help="Develop plus every environment, by Host.")
    ] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(help="N > 1 runs N gunicorn worker processes.", min=1)] = 1,
    reload: Annotated[
        bool | None,
        typer.Option(
            "--reload/--no-reload",
            help="Rebuild develop when its files change (the default for develop in one process).",
        ),
    ] = None,
) -> None:
    """Serve develop (live, reloading), a frozen --version, an --env, or --all by Host."""
    # Imported here, not at the top: the app, werkzeug's server and gunicorn are only needed to serve,
    # and every other command (validate in CI above all) starts faster without them.
    from rich.markup import escape

    from epctl.cli.output import count_problems, print_problems, stderr
    from epctl.runtime.app import create_app
    from epctl.runtime.hosts import build_host_app
    from epctl.runtime.servers import (
        allow_development_secret,
        check_users_database,
        serve_app,
        serve_develop,
        serve_gunicorn,
        served_apps,
    )

    if sum((version is not None, env is not None, serve_all)) > 1:
        raise typer.BadParameter(
            "choose one of --version, --env and --all", param_hint="--version/--env/--all"
        )
    if reload and (workers > 1 or version is not None or env is not None or serve_all):
        raise typer.BadParameter(
            "--reload serves develop in one process; with --workers, --version, --env or --all the "
            "app is built once at start: restart the server to serve changes",
            param_hint="--reload",
        )
    project_dir = get_state(ctx).project_dir
    url = f"http://{host}:{port}"
    app_: WSGIApplication
    if serve_all:
        app_, mounted, notes = build_host_app(project_dir)
        for note in notes:
            stderr.print(f"[yellow]warning:[/] {escape(note)}")
        stderr.print(f"Serving {escape(str(project_dir))} on {url}: develop for any other host")
        for item in mounted:
            stderr.print(
                f"  {escape(item.env)}: {escape(item.version)} at {escape(item.root or '/')} for "
                f"{escape(', '.join(item.hosts) or 'no hosts')}"
            )
    elif version is not None or env is not None:
        served = create_app(project_dir, version or DEVELOP, env=env)
        what = f"environment {env} ({served.project.version})" if env else served.project.version
        stderr.print(f"Serving {escape(str(project_dir))} {escape(what)} on {url}{escape(served.root)}")
        app_ = served
    elif workers > 1:
        app_ = create_app(project_dir)
        stderr.print(f"Serving {escape(str(project_dir))} (develop) on {url}")
    else:

        def show_problems(err: ProjectError) -> None:
            print_problems(err.problems, ProblemFormat.TEXT, count_problems(err.problems))
            stderr.print("[yellow]Still serving the last valid develop; fix the problems above to reload.[/]")

        reloading = reload is not False

        def show_serving() -> None:
            # Said only once the app is built: a project that cannot be served never claims to be.
            stderr.print(
                f"Serving {escape(str(project_dir))} (develop) on {url}"
                + (", reloading on changes" if reloading else "")
            )

        with allow_development_secret(project_dir, host) as secret_name:
            if secret_name is not None:
                stderr.print(
                    f"{secret_name} is not set: signing sessions with a random secret of this process "
                    "(they end when it stops; set the variable to keep them)",
                    highlight=False,
                )
            serve_develop(
                project_dir, host, port, reload=reloading, on_problems=show_problems, on_ready=show_serving
            )
        return
    check_users_database(app_)
    if workers > 1:
        stderr.print(f"with {workers} gunicorn workers")
        # The app's own deadline (a host app of `--all` serves several: the longest counts).
        timeout = max((served.deadline for served in served_apps(app_)), default=30.0)
        serve_gunicorn(app_, host, port, workers, request_timeout=timeout)
    else:
        serve_app(app_, host, port)


@app.command("token")
def token_command(
    ctx: typer.Context,
    sub: Annotated[str, typer.Option("--sub", help="The user id (the token's `sub` claim).")],
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="A group; repeat for more.")
    ] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime: 45s, 30m, 1h, 7d.")] = "1h",
) -> None:
    """Mint a user token signed with the project secret; prints only the token."""
    if not sub.strip():
        # A token naming nobody would be accepted as user "": the server refuses such tokens too.
        raise typer.BadParameter("a token names its user: give a user id, e.g. --sub ada", param_hint="--sub")
    from epctl.cli.output import stdout
    from epctl.runtime.tokens import mint_token, parse_ttl
    from epctl.schemas.loader import load_project

    project = load_project(get_state(ctx).project_dir)
    stdout.out(mint_token(project, sub, group or [], parse_ttl(ttl)), highlight=False)
