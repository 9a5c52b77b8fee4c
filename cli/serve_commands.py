"""Commands that serve: serve (werkzeug or gunicorn) and token (mint a user token)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from epctl.cli.app import app, get_state
from epctl.cli.output import ProblemFormat, count_problems, print_problems, stderr, stdout
from epctl.runtime import create_app
from epctl.runtime.servers import serve_develop, serve_gunicorn
from epctl.runtime.tokens import mint_token, parse_ttl
from epctl.schemas.loader import load_project
from epctl.schemas.problems import ProjectError


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(help="N > 1 runs N gunicorn worker processes.", min=1)] = 1,
    reload: Annotated[
        bool, typer.Option("--reload/--no-reload", help="Rebuild develop when its files change.")
    ] = True,
) -> None:
    """Serve develop: the embedded werkzeug server, or gunicorn with --workers N > 1."""
    project_dir = get_state(ctx).project_dir
    if workers > 1:
        app_ = create_app(project_dir)
        stderr.print(
            f"Serving {escape(str(project_dir))} (develop) on http://{host}:{port} "
            f"with {workers} gunicorn workers"
        )
        serve_gunicorn(app_, host, port, workers)
        return

    def show_problems(err: ProjectError) -> None:
        print_problems(err.problems, ProblemFormat.TEXT, count_problems(err.problems))
        stderr.print("[yellow]Still serving the last valid develop; fix the problems above to reload.[/]")

    stderr.print(
        f"Serving {escape(str(project_dir))} (develop) on http://{host}:{port}"
        + (", reloading on changes" if reload else "")
    )
    serve_develop(project_dir, host, port, reload=reload, on_problems=show_problems)


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
    project = load_project(get_state(ctx).project_dir)
    stdout.out(mint_token(project, sub, group or [], parse_ttl(ttl)), highlight=False)
