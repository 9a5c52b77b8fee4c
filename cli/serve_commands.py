"""Commands that serve: serve (werkzeug or gunicorn) and token (mint a user token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from epctl.cli.app import DEVELOP, ProblemFormat, app, get_state
from epctl.cli.completion import complete_environments, complete_versions
from epctl.runtime.observability.admin_address import ADMIN_HOST_ENV, DEFAULT_ADMIN_HOST, read_admin_host

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed.wsgi import WSGIApplication

    from epctl.runtime.observability.logs import LogFormat
    from epctl.runtime.observability.metrics import MetricsDirectory
    from epctl.runtime.observed_apps import Observation
    from epctl.runtime.promotion import EnvironmentPlan
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
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="Access and error lines as text or json (default: text on a terminal, json otherwise).",
        ),
    ] = None,
    admin_port: Annotated[
        int | None,
        typer.Option(
            "--admin-port",
            help="Serve /metrics, /livez and /readyz on this port (0: any free one); "
            f"address from {ADMIN_HOST_ENV}, default {DEFAULT_ADMIN_HOST}.",
            min=0,
            max=65535,
        ),
    ] = None,
) -> None:
    """Serve develop (live, reloading), a frozen --version, an --env, or --all by Host."""
    # Imported here, not at the top: the app, werkzeug's server and gunicorn are only needed to serve,
    # and every other command (validate in CI above all) starts faster without them.
    import sys

    from epctl.cli.output import count_problems, print_problems, stderr
    from epctl.runtime.observability.logs import InvalidLogFormatError, choose_log_format, parse_log_format
    from epctl.runtime.observed_apps import Observation

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
    try:
        chosen_format = (
            parse_log_format(log_format) if log_format is not None else choose_log_format(sys.stderr)
        )
    except InvalidLogFormatError as err:
        raise typer.BadParameter(str(err), param_hint="--log-format") from None
    # Under --workers, gunicorn's workers write what they hold as they exit: their lines are batched.
    observation = Observation(chosen_format, admin_port, read_admin_host(), buffered=workers > 1)
    metrics_directory = None
    if workers > 1 and admin_port is not None:
        # Before anything imports prometheus_client: the workers' values must go to files that one
        # scrape sums (see runtime/observability/metrics.py).
        from epctl.runtime.observability.metrics import prepare_metrics_directory

        metrics_directory = prepare_metrics_directory()

    from epctl.runtime.app import create_app
    from epctl.runtime.hosts import build_host_app
    from epctl.runtime.observed_apps import observe_app
    from epctl.runtime.servers import (
        allow_development_secret,
        check_users_database,
        configure_logging,
        serve_app,
        serve_develop,
    )

    configure_logging(chosen_format)
    say = create_say(chosen_format)
    project_dir = get_state(ctx).project_dir
    # With --port 0 the system picks the port when the server listens: the server's own line says which.
    url = f"http://{host}:{port}" if port else f"http://{host}:(any free port)"
    # `built`: what this process built (the apps whose deadline and users database count); `load`
    # returns what is served, in this process or, for an --env under --workers, in each worker.
    built: WSGIApplication
    load: Callable[[], WSGIApplication]
    plan: EnvironmentPlan | None = None
    if serve_all:
        host_app, mounted, notes = build_host_app(
            project_dir, wrap=lambda one, name: observe_app(one, observation, name)
        )
        built = host_app
        load = lambda: host_app  # noqa: E731
        for note in notes:
            say(note, warning=True)
        say(f"Serving {project_dir} on {url}: develop for any other host")
        for item in mounted:
            say(
                f"  {item.env}: {item.version} at {item.root or '/'} for "
                f"{', '.join(item.hosts) or 'no hosts'}"
            )
    elif env is not None and workers > 1:
        from epctl.runtime.promotion import EnvironmentPlan

        plan = EnvironmentPlan.read(project_dir, env)
        # Built here so that a version that cannot be served is reported before start; each worker
        # builds its own, so that after a SIGHUP it serves the version epctl.toml names then.
        built = checked = plan.build()
        say(f"Serving {project_dir} environment {env} ({plan.version}) on {url}{checked.root}")
        load = lambda: observe_app(plan.build(), observation, env)  # noqa: E731
    elif version is not None or env is not None:
        served = create_app(project_dir, version or DEVELOP, env=env)
        what = f"environment {env} ({served.project.version})" if env else served.project.version
        say(f"Serving {project_dir} {what} on {url}{served.root}")
        observed = built = observe_app(served, observation, env or "")
        load = lambda: observed  # noqa: E731
    elif workers > 1:
        observed = built = observe_app(create_app(project_dir), observation)
        load = lambda: observed  # noqa: E731
        say(f"Serving {project_dir} (develop) on {url}")
    else:

        def show_problems(err: ProjectError) -> None:
            print_problems(err.problems, ProblemFormat.TEXT, count_problems(err.problems))
            stderr.print("[yellow]Still serving the last valid develop; fix the problems above to reload.[/]")

        reloading = reload is not False

        def show_serving() -> None:
            # Said only once the app is built: a project that cannot be served never claims to be.
            say(f"Serving {project_dir} (develop) on {url}" + (", reloading on changes" if reloading else ""))

        with allow_development_secret(project_dir, host) as secret_name:
            if secret_name is not None:
                say(
                    f"{secret_name} is not set: signing sessions with a random secret of this process "
                    "(they end when it stops; set the variable to keep them)"
                )
            serve_develop(
                project_dir,
                host,
                port,
                reload=reloading,
                on_problems=show_problems,
                on_ready=show_serving,
                observation=observation,
            )
        return
    check_users_database(built)
    if workers > 1:
        hup = " (SIGHUP: serve the version epctl.toml then names)" if plan is not None else ""
        say(f"with {workers} gunicorn workers{hup}")
        serve_workers(load, built, host, port, workers, observation, metrics_directory, plan)
    else:
        serve_app(built, host, port, observation)


def serve_workers(
    load: Callable[[], WSGIApplication],
    built: WSGIApplication,
    host: str,
    port: int,
    workers: int,
    observation: Observation,
    metrics_directory: MetricsDirectory | None,
    plan: EnvironmentPlan | None,
) -> None:
    """Serve what `load` returns under gunicorn with `workers` workers, observed as `observation` says;
    `built` is what this process built of it, `plan` the environment a SIGHUP re-reads."""
    from epctl.runtime.gunicorn_server import serve_gunicorn
    from epctl.runtime.observability.gunicorn_hooks import ObservedServer, versions_announced
    from epctl.runtime.readiness import create_readiness, users_database_answers
    from epctl.runtime.servers import served_apps

    apps = served_apps(built)
    ready = None
    if observation.admin_port is not None:
        directory = metrics_directory.path if metrics_directory is not None else None
        ready = create_readiness(versions_announced(directory), users_database_answers(apps))
    server = ObservedServer(
        metrics_directory=metrics_directory,
        admin_port=observation.admin_port,
        admin_host=observation.admin_host,
        log_format=observation.log_format,
        ready=ready,
    )
    serve_gunicorn(
        load,
        host,
        port,
        workers,
        observed=server,
        preload=plan is None,
        refresh=plan.refresh if plan is not None else None,
        # The app's own deadline (a host app of `--all` serves several: the longest counts).
        request_timeout=max((app.deadline for app in apps), default=30.0),
    )


def create_say(log_format: LogFormat) -> Callable[..., None]:
    """Return how `serve` says what it does: in JSON a log line like every other one on stderr, in
    text rich's look."""
    import logging

    from rich.markup import escape

    from epctl.cli.output import stderr

    serve_log = logging.getLogger("epctl.serve")

    def say(message: str, *, warning: bool = False) -> None:
        if log_format == "json":
            serve_log.log(logging.WARNING if warning else logging.INFO, message)
        else:
            stderr.print(("[yellow]warning:[/] " if warning else "") + escape(message), highlight=False)

    return say


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
    from epctl.cli.output import write_stdout
    from epctl.runtime.tokens import mint_token, parse_ttl
    from epctl.schemas.loader import load_project

    project = load_project(get_state(ctx).project_dir)
    write_stdout(mint_token(project, sub, group or [], parse_ttl(ttl)))
