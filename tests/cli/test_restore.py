"""`epctl restore`: only what a version owns, epctl.toml included and [environments] never rolled
back, every replaced file backed up, a forged version refused before anything is written."""

from __future__ import annotations

import stat
from pathlib import Path

import tomli
import tomli_w
from typer.testing import CliRunner

from epctl.cli.main import app
from epctl.schemas.version_file import compute_digest
from tests.conftest import run


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def forge(root: Path, name: str, files: dict[str, str]) -> None:
    """Add `files` to version `name` and recompute its digest, as anyone editing a pull request can."""
    path = root / "versions" / f"{name}.toml"
    document = tomli.loads(path.read_text())
    document["files"].update(files)
    document["digest"] = compute_digest(document)
    path.write_text(tomli_w.dumps(document))


def test_the_fleet_scenario_epctl_toml_is_protected_restored_as_written_environments_kept(
    runner: CliRunner, tmp_path: Path
) -> None:
    root = tmp_path / "r1"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    assert run(runner, root, "snapshot", "v1").exit_code == 0
    frozen = (root / "epctl.toml").read_text()
    assert run(runner, root, "promote", "v1", "--env", "qa", "--create").exit_code == 0
    with_qa = (root / "epctl.toml").read_text()
    (root / "epctl.toml").write_text(with_qa.replace('greeting = "Hello"', 'greeting = "Howdy"'))

    refused = run(runner, root, "restore", "v1")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "Error: restoring v1 would change develop files that differ from it: epctl.toml; rerun with "
        "--force to copy them into .epctl/backups/ first"
    )
    assert 'greeting = "Howdy"' in (root / "epctl.toml").read_text()

    forced = run(runner, root, "restore", "v1", "--force")
    assert forced.exit_code == 0, forced.output
    [backup] = (root / ".epctl" / "backups").iterdir()
    assert 'greeting = "Howdy"' in (backup / "epctl.toml").read_text()
    restored = (root / "epctl.toml").read_text()
    assert restored == with_qa  # as written: inline tables, comments, and develop's [environments]
    assert restored.startswith(frozen)
    assert '[environments.qa]\nversion = "v1"' in restored


def test_a_template_added_after_the_snapshot_is_kept_and_listed(runner: CliRunner, sample: Path) -> None:
    run(runner, sample, "snapshot", "v1")
    (sample / "pages" / "templates" / "new.html").write_text("<p>new</p>\n")
    result = run(runner, sample, "restore", "v1")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Restored v1 into develop: 0 files written (develop already matched it)",
        "Kept 1 develop file the version does not have: pages/templates/new.html",
    ]
    assert (sample / "pages" / "templates" / "new.html").read_text() == "<p>new</p>\n"


def test_a_forged_version_naming_other_files_is_refused_and_nothing_is_written(
    runner: CliRunner, sample: Path
) -> None:
    run(runner, sample, "snapshot", "v1")
    forge(
        sample,
        "v1",
        {
            "conftest.py": "import os; os.system('curl evil')\n",
            ".github/workflows/x.yml": "on: push\n",
            ".git/hooks/pre-commit": "#!/bin/sh\n",
            ".ci/run": "#!/bin/sh\n",
            "tests/conftest.py": "pwned = True\n",
            "pages/templates/home.html": "defaced\n",
        },
    )
    assert run(runner, sample, "verify").exit_code == 0  # the digest is anyone's to recompute
    before = tree(sample)
    result = run(runner, sample, "restore", "v1", "--force")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        'Error: version "v1" holds files no version can own: .ci/run, .git/hooks/pre-commit, '
        ".github/workflows/x.yml, conftest.py, tests/conftest.py. A version holds only epctl.toml and "
        "files under endpoints/, pages/, workflows/, static/, tests/ (by suffix), so this one was made or "
        "edited by hand; nothing was restored"
    )
    assert tree(sample) == before


def test_restore_never_sets_an_executable_bit(runner: CliRunner, sample: Path) -> None:
    run(runner, sample, "snapshot", "v1")
    handler = sample / "workflows" / "api.py"
    handler.write_text("# edited\n")
    handler.chmod(0o755)
    assert run(runner, sample, "restore", "v1", "--force").exit_code == 0
    assert handler.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH) == 0
    assert handler.read_text() != "# edited\n"


def test_the_backup_holds_every_file_replaced_byte_for_byte(runner: CliRunner, sample: Path) -> None:
    run(runner, sample, "snapshot", "v1")
    edits = {
        "epctl.toml": (sample / "epctl.toml").read_text().replace("cors = true", "cors = true  # edited"),
        "pages/templates/home.html": "<p>edited</p>\r\n",
        "workflows/api.py": "def broken(:\n",
        "endpoints/extra.toml": '[[endpoint]]\nid = "x"\nmethod = "GET"\nroute = "/x"\n',
    }
    for relative, text in edits.items():
        (sample / relative).write_bytes(text.encode())
    result = run(runner, sample, "restore", "v1", "--force")
    assert result.exit_code == 0, result.output
    [backup] = (sample / ".epctl" / "backups").iterdir()
    assert tree(backup) == {relative: text.encode() for relative, text in sorted(edits.items())}
    assert "Restored v1 into develop: 3 files written, 1 removed" in result.stderr


def test_restore_never_writes_through_a_symlink(runner: CliRunner, sample: Path, tmp_path: Path) -> None:
    run(runner, sample, "snapshot", "v1")
    outside = tmp_path / "outside.html"
    outside.write_text("outside\n")
    home = sample / "pages" / "templates" / "home.html"
    home.unlink()
    home.symlink_to(outside)
    result = run(runner, sample, "restore", "v1", "--force")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: not-a-file: pages/templates/home.html is a symlink; epctl writes only regular files; "
        "nothing was written"
    )
    assert outside.read_text() == "outside\n"
