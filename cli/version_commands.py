"""Commands on versions: snapshot, versions, diff, verify, promote, restore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from epctl.cli.app import ExitCode, app, get_state
from epctl.cli.completion import complete_environments, complete_versions, complete_versions_or_develop

if TYPE_CHECKING:
    from epctl.runtime.diff import Change

# Each command imports what it uses when it runs (see cli/app.py): the CLI starts with typer alone.

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Version name, e.g. v1.2.0.")]
VersionArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="A version's name.", autocompletion=complete_versions)
]


@app.command("snapshot")
def snapshot_command(
    ctx: typer.Context,
    name: NameArgument,
    description: Annotated[str, typer.Option("--description", "-d", help="What this version is.")] = "",
    sign: Annotated[
        Path | None,
        typer.Option("--sign", metavar="KEY", help="Sign with this Ed25519 private key (PKCS#8 PEM file)."),
    ] = None,
) -> None:
    """Validate develop and freeze it into versions/NAME.toml (never overwrites)."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.cli.progress import progress_after
    from epctl.runtime.version_store import freeze_version

    with progress_after(f"Freezing develop as {name}"):
        frozen = freeze_version(get_state(ctx).project_dir, name, description, sign=sign)
    signed = f", {frozen.signature}" if sign is not None else ""
    stderr.print(
        f"[green]Froze develop as {escape(name)}[/]: versions/{escape(name)}.toml "
        f"({frozen.endpoints} endpoints, {frozen.digest[:19]}…{escape(signed)})"
    )


@app.command("versions")
def versions_command(
    ctx: typer.Context,
    action: Annotated[
        str | None, typer.Argument(metavar="[show]", help="`show NAME` prints one version.")
    ] = None,
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", autocompletion=complete_versions)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List versions (name, created, digest, endpoints), or `versions show NAME` for one."""
    from rich.markup import escape
    from rich.table import Table

    from epctl.cli.output import print_json, print_table, stderr
    from epctl.runtime.version_store import describe_versions

    root = get_state(ctx).project_dir
    if action is not None:
        if action != "show" or name is None:
            raise typer.BadParameter(
                "use `epctl versions` or `epctl versions show NAME`", param_hint="ACTION"
            )
        show_version(root, name, as_json)
        return
    infos = describe_versions(root)
    if as_json:
        print_json(
            [
                {
                    "name": i.name,
                    "created": i.created,
                    "description": i.description,
                    "digest": i.digest,
                    "endpoints": i.endpoints,
                    "verified": i.verified,
                    "signature": i.signature,
                }
                for i in infos
            ]
        )
        return
    if not infos:
        stderr.print("No versions yet: `epctl snapshot v1.0.0` freezes develop.")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("NAME", "CREATED", "ENDPOINTS", "DIGEST", "DESCRIPTION"):
        table.add_column(column)
    for info in infos:
        digest = info.digest[:19] if info.verified else "[red]does not verify[/]"
        table.add_row(escape(info.name), info.created, str(info.endpoints), digest, escape(info.description))
    print_table(table)


def show_version(root: Path, name: str, as_json: bool) -> None:
    from rich.markup import escape

    from epctl.cli.output import print_json, stdout
    from epctl.schemas.version_file import check_version_name, read_version_document

    check_version_name(name)
    document = read_version_document(root, name)
    summary = {
        "name": document["name"],
        "description": document.get("description", ""),
        "created": document.get("created"),
        "digest": document["digest"],
        "endpoints": [f"{e['method']} {e['route']} ({e['id']})" for e in document.get("endpoint", [])],
        "pages": [p["name"] for p in document.get("page", [])],
        "workflows": [w["name"] for w in document.get("workflow", [])],
        "files": sorted(document.get("files", {})),
    }
    if as_json:
        print_json(summary)
        return
    stdout.print(f"[bold]{escape(name)}[/]  created {summary['created']}  {summary['digest']}")
    if summary["description"]:
        stdout.print(f"  {escape(summary['description'])}")
    for key in ("endpoints", "pages", "workflows", "files"):
        stdout.print(f"{key} ({len(summary[key])}):")
        for item in summary[key]:
            stdout.print(f"  {escape(item)}")


def describe_change(change: Change) -> str:
    sign = {"added": "+", "removed": "-", "changed": "~"}[change.kind]
    # settings and auth are one table each: their change is named by the section alone.
    named = "" if change.name == change.section else f" {change.name}"
    text = f"  {sign} {change.section}{named}"
    if change.fields:
        text += ": " + "; ".join(
            f"{k} {json.dumps(a, ensure_ascii=False)} → {json.dumps(b, ensure_ascii=False)}"
            for k, (a, b) in change.fields.items()
            if k not in ("body",)
        )
        if "body" in change.fields:
            text += ("; " if len(change.fields) > 1 else "") + "body changed"
    return text


@app.command("diff")
def diff_command(
    ctx: typer.Context,
    a: Annotated[
        str,
        typer.Argument(
            metavar="A", help="A version name, or develop.", autocompletion=complete_versions_or_develop
        ),
    ],
    b: Annotated[
        str,
        typer.Argument(
            metavar="B", help="A version name, or develop.", autocompletion=complete_versions_or_develop
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What changed from A to B, and which changes widen access; exit 0 equal, 1 different."""
    from rich.markup import escape

    from epctl.cli.output import plural, print_json, stderr, stdout
    from epctl.cli.progress import progress_after
    from epctl.runtime.diff import diff_contents
    from epctl.runtime.version_store import read_content

    root = get_state(ctx).project_dir
    with progress_after(f"Comparing {a} and {b}"):
        result = diff_contents(read_content(root, a), read_content(root, b))
    if as_json:
        print_json(
            {
                "a": a,
                "b": b,
                "equal": result.equal,
                "changes": [c.to_dict() for c in result.changes],
                "access_widened": result.access_widened,
            }
        )
    elif result.equal:
        stderr.print(f"{escape(a)} and {escape(b)} are the same")
    else:
        stdout.print(f"[bold]{escape(a)} → {escape(b)}[/]: {plural(len(result.changes), 'change')}")
        for change in result.changes:
            colour = {"added": "green", "removed": "red", "changed": "yellow"}[change.kind]
            stdout.print(f"[{colour}]{escape(describe_change(change))}[/]")
        if result.access_widened:
            stdout.print("[bold red]access widened:[/]")
            for line in result.access_widened:
                stdout.print(f"  [red]![/] {escape(line)}")
    raise typer.Exit(ExitCode.OK if result.equal else ExitCode.PROBLEMS)


@app.command("verify")
def verify_command(ctx: typer.Context) -> None:
    """Check every version's digest and signature; exit 1 naming any that fails."""
    passed = report_verification(get_state(ctx).project_dir)
    raise typer.Exit(ExitCode.OK if passed else ExitCode.PROBLEMS)


def report_verification(root: Path) -> bool:
    """Check every version of the project in `root`, print each verdict; return whether all passed."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.runtime.version_store import describe_versions

    infos = describe_versions(root)
    for info in infos:
        if info.verified:
            stderr.print(
                f"[green]ok[/]      {escape(info.name)}  {info.digest[:19]}…  {escape(info.signature)}"
            )
        else:
            stderr.print(f"[red]FAILED[/]  {escape(info.name)}: {escape(info.problem)}")
    if not infos:
        stderr.print("No versions to verify.")
    return all(info.verified for info in infos)


@app.command("promote")
def promote_command(
    ctx: typer.Context,
    version: Annotated[
        str,
        typer.Argument(metavar="VERSION", help="The version to point at.", autocompletion=complete_versions),
    ],
    env: Annotated[
        str,
        typer.Option("--env", "-e", help="The environment to move.", autocompletion=complete_environments),
    ],
    no_test: Annotated[
        bool, typer.Option("--no-test", help="Promote without running the version's request cases first.")
    ] = False,
    create: Annotated[
        bool, typer.Option("--create", help="Add the environment when epctl.toml does not declare it.")
    ] = False,
) -> None:
    """Run the version's request cases, then point an environment at it in epctl.toml, keeping the
    file's comments."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.runtime.version_store import promote_version

    previous = promote_version(get_state(ctx).project_dir, version, env, test=not no_test, create=create)
    was = f" (was {escape(previous)})" if previous else " (new environment)"
    stderr.print(f"[green]{escape(env)} → {escape(version)}[/]{was}")


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    name: VersionArgument,
    force: Annotated[bool, typer.Option("--force", help="Overwrite differing files after a backup.")] = False,
) -> None:
    """Copy a version back into develop (Losant's copy-to-develop)."""
    from rich.markup import escape

    from epctl.cli.output import plural, stderr
    from epctl.runtime.restore import restore_version

    plan, backup = restore_version(get_state(ctx).project_dir, name, force=force)
    replaced = len(plan.changed) + len(plan.remove)
    if backup:
        stderr.print(
            f"Copied the {plural(replaced, 'develop file')} it replaces into [bold]{escape(backup)}/[/]"
        )
    written = len(plan.changed) + len(plan.created)
    stderr.print(
        f"[green]Restored {escape(name)} into develop[/]: {plural(written, 'file')} written"
        + (f", {len(plan.remove)} removed" if plan.remove else "")
        + (" (develop already matched it)" if not written and not plan.remove else "")
    )
    if plan.kept:
        stderr.print(
            f"Kept {plural(len(plan.kept), 'develop file')} the version does not have: "
            f"{escape(', '.join(plan.kept))}"
        )
