"""Commands that write a project for its author: schema (editor support), new, remove."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from epctl.cli.app import app, get_state
from epctl.cli.output import print_json, stderr
from epctl.runtime.editor_files import TAPLO_CONFIG, render_taplo_config, write_schemas
from epctl.schemas.json_schema import build_schemas


@app.command("schema")
def schema_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write one .schema.json per file kind into DIR.")
    ] = None,
    taplo: Annotated[
        bool,
        typer.Option(
            "--taplo", help=f"Also write the project's {TAPLO_CONFIG} pointing at DIR, if it has none."
        ),
    ] = False,
) -> None:
    """JSON Schema of epctl.toml and of each folder's TOML files, for editors and check-jsonschema."""
    if out is None:
        if taplo:
            raise typer.BadParameter(
                "--taplo needs --out DIR: the schemas it points at", param_hint="--taplo"
            )
        print_json(build_schemas())
        return
    for path in write_schemas(out):
        stderr.print(f"  [green]wrote[/] {escape(str(path))}")
    if taplo:
        root = get_state(ctx).project_dir
        config = root / TAPLO_CONFIG
        if config.exists():
            stderr.print(
                f"  [yellow]kept[/] {escape(str(config))} (it exists; edit its schema paths by hand)"
            )
            return
        folder = out.resolve()
        relative = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else folder.as_posix()
        config.write_text(render_taplo_config(relative), encoding="utf-8")
        stderr.print(f"  [green]wrote[/] {escape(str(config))}")
