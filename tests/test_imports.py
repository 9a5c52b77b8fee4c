"""What each entry point imports: the CLI starts with typer alone, a server never loads the CLI.

Each check runs in a new interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from epctl.cli.app import DEVELOP as CLI_DEVELOP
from epctl.cli.main import find_invoked_name
from epctl.schemas.project import DEVELOP

SAMPLE = Path(__file__).resolve().parent.parent / "sample-project"
# What makes `epctl --version` slow to answer when imported for nothing.
HEAVY = ("pydantic", "rich", "jinja2", "werkzeug", "gunicorn", "tomlkit", "jwt")


def imported_after(code: str) -> set[str]:
    """Return the top-level names of the modules loaded by a new interpreter after running `code`."""
    script = (
        "import json, sys\n"
        f"{code}\n"
        "sys.stdout.flush()\n"
        "print('\\nMODULES=' + json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    line = result.stdout.rsplit("MODULES=", 1)[1]
    return set(json.loads(line))


def run_cli(*args: str) -> str:
    return (
        "from epctl.cli.main import main\n"
        f"sys.argv = ['epctl', *{list(args)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
    )


def test_importing_the_cli_loads_nothing_heavy() -> None:
    assert imported_after("import epctl.cli.main").isdisjoint((*HEAVY, "typer"))


def test_the_commands_load_nothing_heavy() -> None:
    """Building the typer app registers every command without importing what the commands use."""
    assert imported_after("from epctl.cli.main import app").isdisjoint(HEAVY)


def test_version_loads_not_even_typer() -> None:
    assert imported_after(run_cli("--version")).isdisjoint((*HEAVY, "typer"))


def test_version_with_other_options_goes_through_typer_and_prints_the_same(tmp_path: Path) -> None:
    alone = subprocess.run(
        [sys.executable, "-m", "epctl.cli.main", "--version"], capture_output=True, text=True, timeout=60
    )
    with_project = subprocess.run(
        [sys.executable, "-m", "epctl.cli.main", "--project", str(tmp_path), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == with_project.returncode == 0
    assert alone.stdout == with_project.stdout
    assert alone.stdout.startswith("epctl ")


def test_help_loads_only_what_typer_formats_help_with() -> None:
    """typer draws `--help` with rich; nothing that reads or serves a project is loaded."""
    loaded = imported_after(run_cli("--help"))
    assert loaded.isdisjoint(set(HEAVY) - {"rich"})


def test_a_command_still_loads_what_it_uses() -> None:
    """The other side of the coin: `validate` does import the loader when it runs."""
    loaded = imported_after(run_cli("--project", str(SAMPLE), "validate"))
    assert {"pydantic", "rich"} <= loaded


def test_a_server_never_loads_the_cli() -> None:
    loaded = imported_after("import epctl.runtime.app")
    assert loaded.isdisjoint({"typer", "rich"})


def test_reply_helpers_import_only_the_standard_library() -> None:
    """Workflow handlers import epctl.runtime.replies: it stays that cheap."""
    assert imported_after("import epctl.runtime.replies").isdisjoint((*HEAVY, "typer"))


def test_the_cli_names_develop_as_the_schemas_do() -> None:
    assert CLI_DEVELOP == DEVELOP


def test_the_cli_spells_the_wizard_kinds_as_the_runtime_does() -> None:
    from epctl.cli.authoring_commands import KindOption
    from epctl.runtime.scaffold_endpoint import EndpointKind

    assert [str(kind) for kind in KindOption] == [str(kind) for kind in EndpointKind]


def run_console_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "epctl.cli.main", *args], capture_output=True, text=True, timeout=60
    )


def test_the_console_script_builds_only_the_command_it_runs() -> None:
    """typer builds every registered command before running one; `main` registers only the one asked
    for. Seen from outside: the command runs as it does on the full app, and a mistyped name still
    gets click's suggestion from every command."""
    assert find_invoked_name(["--project", "x", "validate", "--strict"]) == "validate"
    assert find_invoked_name(["-p", "x", "users", "list"]) == "users"
    assert find_invoked_name(["--project=x", "routes"]) == "routes"
    assert find_invoked_name(["--project", "x", "--help"]) is None
    assert find_invoked_name([]) is None
    ran = run_console_script("--project", str(SAMPLE), "validate")
    assert (ran.returncode, ran.stderr.splitlines()[-1]) == (
        0,
        "✓ smart-farm: 16 endpoints, 8 pages, 12 workflows; no problems",
    )
    group = run_console_script("--project", str(SAMPLE), "users", "--help")
    assert group.returncode == 0 and "migrate" in group.stdout
    typo = run_console_script("valdate")
    assert typo.returncode == 2 and "Did you mean 'validate'?" in typo.stderr
