"""`epctl users ...`: experience users and their groups, in the project's users database.

Every command reads only the `[users]` table of `epctl.toml`, so users can be managed while the
project's endpoints or pages have problems. Passwords come only from a hidden prompt or from stdin
(`--password-stdin`), never from the command line, and are never printed. Each command imports what
it uses when it runs (see cli/app.py): the CLI starts with typer alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from epctl.cli.app import app, get_state

users_app = typer.Typer(
    name="users",
    help="Experience users and their groups; passwords only from a prompt or stdin.",
    no_args_is_help=True,
)
app.add_typer(users_app)


def email_argument(value: str) -> str:
    from epctl.runtime.users import InvalidUserDataError
    from epctl.runtime.users.inputs import check_email

    try:
        return check_email(value)
    except InvalidUserDataError as err:
        raise typer.BadParameter(str(err)) from None


def groups_option(values: list[str] | None) -> list[str]:
    from epctl.runtime.users import InvalidUserDataError
    from epctl.runtime.users.inputs import check_groups

    try:
        return list(check_groups(values or []))
    except InvalidUserDataError as err:
        raise typer.BadParameter(str(err)) from None


EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email (any case).")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from stdin (one line) instead of prompting."),
]


# -- commands -------------------------------------------------------------------------------------
@users_app.command("add")
def add_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email.", callback=email_argument)],
    name: Annotated[str, typer.Option("--name", "-n", help="Display name.")] = "",
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="A group; repeat for more.", callback=groups_option),
    ] = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Add a user. Prompts for a password on a terminal; elsewhere, none unless --password-stdin."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.cli.users_support import open_store, read_password
    from epctl.runtime.users import DuplicateEmailError

    with open_store(ctx) as store:
        if store.find(email) is not None:  # before the prompt: do not ask for a password in vain
            raise DuplicateEmailError(email)
        password = read_password(password_stdin, required=False)
        user = store.create(email, password, name=name, groups=group or [])
    groups = f" in {', '.join(user.groups)}" if user.groups else ""
    hint = "" if user.has_password else f"; no password yet: `epctl users passwd {user.email}` sets one"
    stderr.print(f"Added {escape(user.email)}{escape(groups)}{escape(hint)}")


@users_app.command("list")
def list_command(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option("--group", "-g", help="Only the members of a group.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List users by email, with their groups and status."""
    from rich.markup import escape
    from rich.table import Table

    from epctl.cli.output import print_json, print_table, stderr
    from epctl.cli.users_support import describe_status, open_store

    with open_store(ctx) as store:
        users = store.list(group=group)
    if as_json:
        print_json([user.to_dict() for user in users])
        return
    if not users:
        stderr.print(
            f"No users in group {escape(group)}" if group else "No users yet: `epctl users add EMAIL`"
        )
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("EMAIL", "NAME", "GROUPS", "STATUS"):
        table.add_column(column, overflow="fold")
    for user in users:
        table.add_row(
            escape(user.email), escape(user.name), escape(",".join(user.groups)), describe_status(user)
        )
    print_table(table)


@users_app.command("show")
def show_command(
    ctx: typer.Context,
    email: EmailArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one user."""
    from epctl.cli.output import print_json, write_stdout
    from epctl.cli.users_support import describe_status, find_user, format_time, open_store

    with open_store(ctx) as store:
        user = find_user(store, email)
    if as_json:
        print_json(user.to_dict())
        return
    rows = [
        ("email", user.email),
        ("id", user.id),
        ("name", user.name),
        ("groups", ", ".join(user.groups)),
        ("status", describe_status(user)),
        ("created", format_time(user.created_at)),
        ("updated", format_time(user.updated_at)),
    ]
    if user.is_locked():
        rows.append(("locked until", format_time(user.locked_until)))
    for key, value in rows:
        write_stdout(f"{key:<13}{value}")


@users_app.command("set")
def set_command(
    ctx: typer.Context,
    email: EmailArgument,
    add_group: Annotated[
        list[str] | None,
        typer.Option("--add-group", help="Add to a group; repeat for more.", callback=groups_option),
    ] = None,
    remove_group: Annotated[
        list[str] | None,
        typer.Option("--remove-group", help="Remove from a group; repeat for more.", callback=groups_option),
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Let the user sign in, or not.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="New display name.")] = None,
    unlock: Annotated[bool, typer.Option("--unlock", help="End a lockout after failed sign-ins.")] = False,
) -> None:
    """Change a user's groups, name or status. Group changes and --disable end their sessions."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.cli.users_support import find_user, open_store

    if not (add_group or remove_group or enabled is not None or name is not None or unlock):
        raise typer.BadParameter(
            "nothing to change: give --add-group, --remove-group, --enable, --disable, --name or --unlock"
        )
    with open_store(ctx) as store:
        before = find_user(store, email)
        after = store.update(
            before,
            name=name,
            enabled=enabled,
            add_groups=add_group or [],
            remove_groups=remove_group or [],
            unlock=unlock,
        )
    changes = []
    added = [group for group in after.groups if group not in before.groups]
    removed = [group for group in before.groups if group not in after.groups]
    if added:
        changes.append(f"added to {', '.join(added)}")
    if removed:
        changes.append(f"removed from {', '.join(removed)}")
    if after.enabled != before.enabled:
        changes.append("enabled" if after.enabled else "disabled")
    if after.name != before.name:
        changes.append(f'name "{after.name}"')
    if unlock and before.is_locked():
        changes.append("unlocked")
    if not changes:
        stderr.print(f"{escape(after.email)} unchanged")
        return
    ended = "; their sessions end" if after.generation != before.generation else ""
    stderr.print(f"Updated {escape(after.email)}: {escape('; '.join(changes))}{ended}")


@users_app.command("passwd")
def passwd_command(
    ctx: typer.Context, email: EmailArgument, password_stdin: PasswordStdinOption = False
) -> None:
    """Set a user's password (prompted twice, or --password-stdin); their sessions end."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.cli.users_support import find_user, open_store, read_password

    with open_store(ctx) as store:
        user = find_user(store, email)
        password = read_password(password_stdin, required=True)
        assert password is not None
        store.set_password(user, password)
    stderr.print(f"Password set for {escape(user.email)}; their sessions end")


@users_app.command("remove")
def remove_command(ctx: typer.Context, email: EmailArgument) -> None:
    """Remove a user and their groups; their sessions end."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.cli.users_support import find_user, open_store

    with open_store(ctx) as store:
        store.remove(find_user(store, email))
    stderr.print(f"Removed {escape(email)}")


@users_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv", help="CSV with a header email,name,groups; groups separated by ;",
            exists=True, dir_okay=False, readable=True,
        ),
    ],
) -> None:  # fmt: skip
    """Add the users of a CSV file, all or none. Passwords are set later (`users passwd`)."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.cli.users_support import open_store
    from epctl.runtime.users import DuplicateEmailError, UsersError
    from epctl.runtime.users.importing import read_users_csv
    from epctl.runtime.users.inputs import email_key

    try:
        text = file.read_text(encoding="utf-8-sig")  # -sig: spreadsheets often start with a BOM
    except UnicodeDecodeError:
        raise UsersError(f"{file} is not UTF-8 text: save it as CSV UTF-8") from None
    rows = read_users_csv(text, str(file))
    with open_store(ctx) as store:
        try:
            store.create_many([account for _, account in rows])
        except DuplicateEmailError as err:
            line = next(
                number for number, account in rows if email_key(account.email) == email_key(err.email)
            )
            raise UsersError(f"{file} line {line}: {err}; nothing was imported") from None
    stderr.print(f"Imported {len(rows)} user{'' if len(rows) == 1 else 's'} from {escape(str(file))}")


@users_app.command("migrate")
def migrate_command(ctx: typer.Context) -> None:
    """Bring the users database to this epctl's schema (required before serving on PostgreSQL)."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.cli.users_support import load_users_config
    from epctl.runtime.users import migrate_project_database
    from epctl.runtime.users.database import describe_url
    from epctl.runtime.users.revisions import HEAD_REVISION

    project_dir = get_state(ctx).project_dir
    url, migration = migrate_project_database(project_dir, load_users_config(project_dir))
    where = describe_url(url)
    if migration.changed:
        was = f"migration {migration.before}" if migration.before else "empty"
        stderr.print(f"Users database {escape(where)}: migrated to {migration.after} (was {was})")
    else:
        stderr.print(f"Users database {escape(where)}: up to date (migration {HEAD_REVISION})")
