"""`epctl users ...` through typer's CliRunner, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import profiles
from typer.testing import CliRunner, Result

from epctl.cli.main import app
from epctl.runtime.users import Passwords, UserStore, open_user_store
from epctl.runtime.users.revisions import HEAD_REVISION
from epctl.schemas.users_config import UsersConfig

# PostgreSQL fixtures (a cluster per session, a database per test): see tests/postgres.py.
pytest_plugins = ["tests.postgres"]

PASSWORD = "correct horse battery"
USERS_TOML = '[project]\nname = "farm"\n\n[users]\n'

Run = Callable[..., Result]
OpenStore = Callable[[], UserStore]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "farm"
    root.mkdir()
    (root / "epctl.toml").write_text(USERS_TOML, encoding="utf-8")
    return root


@pytest.fixture
def environ(users_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The backend under test, in the environment the CLI reads (SQLite, or a migrated PostgreSQL)."""
    monkeypatch.delenv("EPCTL_DATABASE_URL", raising=False)
    for name, value in users_env.items():
        monkeypatch.setenv(name, value)
    return users_env


@pytest.fixture
def sqlite(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """SQLite only: for what does not depend on the database."""
    monkeypatch.delenv("EPCTL_DATABASE_URL", raising=False)
    return {}


@pytest.fixture
def run(runner: CliRunner, project: Path) -> Run:
    """Return a function running `epctl --project <project> users ARGS...` with optional stdin."""

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, ["--project", str(project), "users", *args], input=input)

    return invoke


@pytest.fixture
def open_store(project: Path) -> Iterator[OpenStore]:
    """Return a function opening the project's store as the server would, with the CLI's environment."""
    opened: list[UserStore] = []

    def open_() -> UserStore:
        store = open_user_store(project, UsersConfig(), passwords=Passwords(profiles.CHEAPEST))
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def test_add_with_password_stdin_makes_a_user_who_can_sign_in(
    run: Run, open_store: OpenStore, environ: dict[str, str]
) -> None:
    result = run("add", "Ada@Example.com", "--name", "Ada Lovelace", "-g", "admins", "--group", "ops",
                 "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "Added Ada@Example.com in admins, ops\n"
    user = open_store().authenticate("ada@example.com", PASSWORD)
    assert user is not None and (user.name, user.groups) == ("Ada Lovelace", ("admins", "ops"))


def test_add_without_a_terminal_or_stdin_makes_a_user_without_password(
    run: Run, open_store: OpenStore, sqlite: dict[str, str]
) -> None:
    result = run("add", "bob@example.com")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Added bob@example.com; no password yet: `epctl users passwd bob@example.com` sets one\n"
    )
    assert open_store().find("bob@example.com").has_password is False  # type: ignore[union-attr]


def test_password_stdin_drops_only_the_line_end(
    run: Run, open_store: OpenStore, sqlite: dict[str, str]
) -> None:
    assert run("add", "a@example.com", "--password-stdin", input="  spaced out  \r\n").exit_code == 0
    assert run("add", "b@example.com", "--password-stdin", input="no newline at all").exit_code == 0
    store = open_store()
    assert store.authenticate("a@example.com", "  spaced out  ") is not None
    assert store.authenticate("b@example.com", "no newline at all") is not None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--password-stdin"], "", "Error: no password on stdin: pipe one line in, e.g. "
         "`printf '%s\\n' \"$PASSWORD\" | epctl users passwd EMAIL --password-stdin`\n"),
        (["--password-stdin"], "short\n", "Error: a password needs at least 8 characters\n"),
    ],
)  # fmt: skip
def test_add_refuses_a_bad_password_and_adds_nobody(
    run: Run, open_store: OpenStore, sqlite: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    result = run("add", "ada@example.com", *args, input=stdin)
    assert result.exit_code == 1
    assert result.stderr == message
    assert open_store().list() == []


def test_a_password_is_never_an_argument(run: Run, sqlite: dict[str, str]) -> None:
    result = run("add", "ada@example.com", "--password", PASSWORD)
    assert result.exit_code == 2
    assert "No such option: --password" in result.stderr


def test_add_refuses_an_email_taken_in_any_case(run: Run, environ: dict[str, str]) -> None:
    assert run("add", "ada@example.com").exit_code == 0
    result = run("add", "ADA@example.com", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert result.stderr == "Error: a user with email ADA@example.com already exists\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email"], "Invalid value for 'EMAIL': \"not-an-email\" is not an email address"),
        (["ada@example.com", "-g", "site admins"], 'group "site admins" is not a valid group name'),
    ],
)
def test_add_usage_errors_exit_2_and_say_why(
    run: Run, sqlite: dict[str, str], args: list[str], message: str
) -> None:
    result = run("add", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.replace("│", " ").split())


def test_list_prints_a_table_or_json_and_filters_by_group(run: Run, environ: dict[str, str]) -> None:
    run("add", "carol@example.com", "-g", "admins", "--password-stdin", input=PASSWORD + "\n")
    run("add", "bob@example.com", "--name", "Bob")
    run("add", "ada@example.com", "-g", "admins", "-g", "ops", "--password-stdin", input=PASSWORD + "\n")
    run("set", "bob@example.com", "--disable")
    result = run("list")
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["EMAIL", "NAME", "GROUPS", "STATUS"],
        ["ada@example.com", "admins,ops", "active"],
        ["bob@example.com", "Bob", "disabled,", "no", "password"],
        ["carol@example.com", "admins", "active"],
    ]
    listed = json.loads(run("list", "--group", "admins", "--json").stdout)
    assert [(u["email"], u["groups"], u["enabled"], u["has_password"]) for u in listed] == [
        ("ada@example.com", ["admins", "ops"], True, True),
        ("carol@example.com", ["admins"], True, True),
    ]


def test_list_of_nobody(run: Run, sqlite: dict[str, str]) -> None:
    result = run("list")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        "No users yet: `epctl users add EMAIL`\n",
    )
    assert run("list", "--json").stdout == "[]\n"
    assert run("list", "-g", "admins").stderr == "No users in group admins\n"


def test_show_prints_one_user(run: Run, open_store: OpenStore, sqlite: dict[str, str]) -> None:
    run("add", "ada@example.com", "--name", "Ada", "-g", "admins")
    user = open_store().find("ada@example.com")
    assert user is not None
    result = run("show", "ADA@example.com")
    assert result.exit_code == 0, result.output
    created = user.created_at.isoformat(sep=" ", timespec="seconds").replace("+00:00", "Z")
    assert result.stdout.splitlines() == [
        "email        ada@example.com",
        f"id           {user.id}",
        "name         Ada",
        "groups       admins",
        "status       no password",
        f"created      {created}",
        f"updated      {created}",
    ]
    shown = json.loads(run("show", "ada@example.com", "--json").stdout)
    assert shown == user.to_dict()
    assert "password_hash" not in shown


def test_commands_on_an_unknown_email_say_how_to_find_users(run: Run, sqlite: dict[str, str]) -> None:
    for args in (["show", "x@example.com"], ["set", "x@example.com", "--disable"],
                 ["remove", "x@example.com"], ["passwd", "x@example.com", "--password-stdin"]):  # fmt: skip
        result = run(*args, input=PASSWORD + "\n")
        assert result.exit_code == 1, args
        assert (
            result.stderr == "Error: no user with email x@example.com; `epctl users list` shows every user\n"
        )


def test_set_changes_groups_name_and_status_and_says_sessions_end(
    run: Run, open_store: OpenStore, environ: dict[str, str]
) -> None:
    run("add", "ada@example.com", "-g", "ops")
    result = run("set", "ada@example.com", "--add-group", "admins", "--remove-group", "ops", "--disable",
                 "--name", "Ada")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Updated ada@example.com: added to admins; removed from ops; disabled; "
        'name "Ada"; their sessions end\n'
    )
    user = open_store().find("ada@example.com")
    assert user is not None and (user.groups, user.enabled, user.name, user.generation) == (
        ("admins",),
        False,
        "Ada",
        2,
    )
    assert (
        run("set", "ada@example.com", "--name", "Ada L").stderr == 'Updated ada@example.com: name "Ada L"\n'
    )
    assert run("set", "ada@example.com", "--add-group", "admins").stderr == "ada@example.com unchanged\n"


def test_set_without_a_change_or_with_a_contradiction_is_refused(run: Run, sqlite: dict[str, str]) -> None:
    run("add", "ada@example.com")
    result = run("set", "ada@example.com")
    assert result.exit_code == 2
    assert "nothing to change: give --add-group, --remove-group, --enable, --disable, --name or --unlock" in (
        " ".join(result.stderr.replace("│", " ").split())
    )
    result = run("set", "ada@example.com", "--add-group", "x", "--remove-group", "x")
    assert result.exit_code == 1
    assert result.stderr == 'Error: group "x" cannot be both added and removed\n'


def test_set_unlock_ends_a_lockout(run: Run, open_store: OpenStore, sqlite: dict[str, str]) -> None:
    run("add", "ada@example.com", "--password-stdin", input=PASSWORD + "\n")
    store = open_store()
    for _ in range(10):
        store.authenticate("ada@example.com", "wrong password")
    assert "locked" in run("show", "ada@example.com").stdout
    assert run("set", "ada@example.com", "--unlock").stderr == "Updated ada@example.com: unlocked\n"
    assert store.authenticate("ada@example.com", PASSWORD) is not None


def test_passwd_replaces_the_password_and_ends_sessions(
    run: Run, open_store: OpenStore, environ: dict[str, str]
) -> None:
    run("add", "ada@example.com", "--password-stdin", input=PASSWORD + "\n")
    result = run("passwd", "ada@example.com", "--password-stdin", input="a new password\n")
    assert result.exit_code == 0, result.output
    assert result.stderr == "Password set for ada@example.com; their sessions end\n"
    assert result.stdout == ""
    store = open_store()
    assert store.authenticate("ada@example.com", PASSWORD) is None
    user = store.authenticate("ada@example.com", "a new password")
    assert user is not None and user.generation == 2


def test_passwd_without_terminal_needs_password_stdin(run: Run, sqlite: dict[str, str]) -> None:
    run("add", "ada@example.com")
    result = run("passwd", "ada@example.com")
    assert result.exit_code == 2
    assert (
        "stdin is not a terminal, so there is nobody to prompt: pipe the password in with --password-stdin"
        in (" ".join(result.stderr.replace("│", " ").split()))
    )


def test_remove_deletes_the_user(run: Run, open_store: OpenStore, environ: dict[str, str]) -> None:
    run("add", "ada@example.com", "-g", "admins")
    result = run("remove", "ADA@example.com")
    assert (result.exit_code, result.stderr) == (0, "Removed ADA@example.com\n")
    assert open_store().list() == []


def test_import_adds_every_user_of_a_csv(
    run: Run, open_store: OpenStore, project: Path, environ: dict[str, str]
) -> None:
    csv_file = project / "people.csv"
    csv_file.write_text(
        "\ufeffemail,name,groups\n"
        "ada@example.com,Ada Lovelace,admins; ops\n"
        "\n"
        'bob@example.com,"Bob, the builder",\n'
        "carol@example.com,,installers\n",
        encoding="utf-8",
    )
    result = run("import", str(csv_file))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Imported 3 users from {csv_file}\n"
    assert [(u.email, u.name, u.groups, u.has_password) for u in open_store().list()] == [
        ("ada@example.com", "Ada Lovelace", ("admins", "ops"), False),
        ("bob@example.com", "Bob, the builder", (), False),
        ("carol@example.com", "", ("installers",), False),
    ]


def test_import_takes_columns_in_any_order_and_name_and_groups_optional(
    run: Run, open_store: OpenStore, project: Path, sqlite: dict[str, str]
) -> None:
    (project / "a.csv").write_text("groups,Email\nadmins,ada@example.com\n", encoding="utf-8")
    assert run("import", str(project / "a.csv")).exit_code == 0
    (project / "b.csv").write_text("email\nbob@example.com\n", encoding="utf-8")
    assert run("import", str(project / "b.csv")).exit_code == 0
    assert [(u.email, u.groups) for u in open_store().list()] == [
        ("ada@example.com", ("admins",)),
        ("bob@example.com", ()),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{file} is empty: its first line must be the header email,name,groups"),
        ("email,password\n", "{file} line 1: a CSV never holds passwords: remove the password column and set "
         "passwords with `epctl users passwd EMAIL`"),
        ("mail,name\n", '{file} line 1: unknown column "mail"; the header is email,name,groups '
         "(name and groups may be left out)"),
        ("name,groups\n", "{file} line 1: the header needs an email column: email,name,groups"),
        ("email,name,groups\nada@example.com,,\nnope,,\n",
         '{file} line 3: "nope" is not an email address: use name@domain, at most 254 characters'),
        ("email,name,groups\nada@example.com,,a b\n",
         '{file} line 2: group "a b" is not a valid group name: use 1-128 characters of A-Z a-z 0-9 . _ -'),
        ("email,name\nada@example.com,Ada,extra\n",
         "{file} line 2: 3 fields, but the header has 2 (quote a field that holds a comma)"),
        ("email\nada@example.com\n\nADA@example.com\n",
         "{file} line 4: ADA@example.com is already on line 2"),
        ("email\nbob@example.com\ntaken@example.com\n",
         "{file} line 3: a user with email taken@example.com already exists; nothing was imported"),
    ],
)  # fmt: skip
def test_import_errors_name_the_line_and_import_nothing(
    run: Run, open_store: OpenStore, project: Path, sqlite: dict[str, str], text: str, message: str
) -> None:
    run("add", "Taken@example.com")
    csv_file = project / "people.csv"
    csv_file.write_text(text, encoding="utf-8")
    result = run("import", str(csv_file))
    assert result.exit_code == 1
    assert result.stderr == "Error: " + message.format(file=csv_file) + "\n"
    assert [u.email for u in open_store().list()] == ["Taken@example.com"]


def test_import_refuses_a_file_that_is_not_utf8(run: Run, project: Path, sqlite: dict[str, str]) -> None:
    csv_file = project / "people.csv"
    csv_file.write_bytes("email,name\nada@example.com,Zoë\n".encode("latin-1"))
    result = run("import", str(csv_file))
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {csv_file} is not UTF-8 text: save it as CSV UTF-8\n",
    )


def test_migrate_on_sqlite(run: Run, project: Path, sqlite: dict[str, str]) -> None:
    database = project / ".epctl" / "users.db"
    result = run("migrate")
    assert (result.exit_code, result.stderr) == (
        0,
        f"Users database SQLite {database}: migrated to {HEAD_REVISION} (was empty)\n",
    )
    assert (
        run("migrate").stderr == f"Users database SQLite {database}: up to date (migration {HEAD_REVISION})\n"
    )


def test_postgresql_needs_migrate_before_any_command(
    run: Run, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPCTL_DATABASE_URL", postgres_url)
    shown = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    result = run("list")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the users database ({shown}) has no epctl users tables yet: run `epctl users migrate` "
        "(epctl never migrates a PostgreSQL database by itself)\n"
    )
    result = run("migrate")
    assert (result.exit_code, result.stderr) == (
        0,
        f"Users database {shown}: migrated to {HEAD_REVISION} (was empty)\n",
    )
    assert run("list").exit_code == 0


def test_a_database_url_with_a_password_is_never_printed(
    run: Run, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_password = postgres_url.replace("postgres@", "postgres:s3cret-db-pass@")
    monkeypatch.setenv("EPCTL_DATABASE_URL", with_password)
    result = run("migrate")  # trust authentication: the password is accepted and ignored
    assert result.exit_code == 0, result.output
    assert "s3cret-db-pass" not in result.output
    assert "postgres:***@" in result.stderr


def test_a_project_without_users_table_says_how_to_turn_users_on(
    run: Run, project: Path, sqlite: dict[str, str]
) -> None:
    (project / "epctl.toml").write_text('[project]\nname = "farm"\n', encoding="utf-8")
    result = run("list")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: epctl.toml has no [users] table, so this project has no experience users; "
        "add a line `[users]` to it to turn them on\n"
    )
    assert not (project / ".epctl").exists()


def test_an_invalid_users_table_names_the_key(run: Run, project: Path, sqlite: dict[str, str]) -> None:
    (project / "epctl.toml").write_text(USERS_TOML + "lockout_threshold = 50\n", encoding="utf-8")
    result = run("list")
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: epctl.toml [users]: "lockout_threshold" must be from 1 to 10 failed sign-ins in a row, '
        "not 50\n"
    )
