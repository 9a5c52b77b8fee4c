"""Writes into a project: inside it, atomic, one epctl writer at a time, editors' saves kept."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from epctl.runtime.project_writes import (
    ConcurrentEditError,
    WriteRefusedError,
    project_lock,
    rewrite,
    write_replace,
)
from epctl.runtime.version_store import (
    UnknownEnvironmentError,
    freeze_version,
    list_version_names,
    promote_version,
)
from epctl.schemas.problems import EpctlError


def test_promote_refuses_an_unknown_environment_naming_the_known_ones(sample: Path) -> None:
    config = sample / "epctl.toml"
    before = config.read_text()
    with pytest.raises(UnknownEnvironmentError) as raised:
        promote_version(sample, "v1.0.0", "qa")
    assert str(raised.value) == (
        'no environment "qa" in epctl.toml (known: production); check the name, or pass --create to add it'
    )
    assert config.read_text() == before


def test_promote_with_create_adds_the_environment(sample: Path) -> None:
    assert promote_version(sample, "v1.0.0", "qa", create=True) is None
    assert '[environments.qa]\nversion = "v1.0.0"\n' in (sample / "epctl.toml").read_text()


@pytest.mark.parametrize("env", ["", "qa\nroot", "a b", "x" * 129])
def test_promote_refuses_an_environment_name_outside_the_name_rule(sample: Path, env: str) -> None:
    before = (sample / "epctl.toml").read_text()
    with pytest.raises(Exception, match="is not a valid environment name: use 1-128 characters of"):
        promote_version(sample, "v1.0.0", env, create=True)
    assert (sample / "epctl.toml").read_text() == before


@pytest.mark.timeout(60)
def test_concurrent_promotes_lose_no_environment(sample: Path) -> None:
    """Each promote re-reads epctl.toml under the project lock: eight at once keep all eight changes."""
    errors: list[BaseException] = []

    def promote(index: int) -> None:
        try:
            # test=False: the cases are not what is tested here, and eight threads compiling templates
            # at once can trip a CPython 3.11 race ("SystemError: AST constructor recursion depth mismatch").
            promote_version(sample, "v1.0.0", f"env{index}", create=True, test=False)
        except BaseException as err:  # reported below: a thread's exception would vanish otherwise
            errors.append(err)

    threads = [threading.Thread(target=promote, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    text = (sample / "epctl.toml").read_text()
    assert [f"[environments.env{i}]" in text for i in range(8)] == [True] * 8


def test_an_edit_saved_while_epctl_rewrites_the_file_is_kept(sample: Path) -> None:
    """An editor saves epctl.toml after epctl read it and before epctl's rename: the change is made
    again from the saved text, so the edit survives (it was lost 30 times in 808 before)."""
    config = sample / "epctl.toml"
    seen: list[str] = []

    def change(text: str) -> str:
        seen.append(text)
        if len(seen) == 1:  # an editor saves while epctl is changing what it read
            write_replace(config, text + "# saved by an editor\n")
        return text.replace('version = "v1.0.0"', 'version = "v2"')

    rewrite(config, config.read_text, change)
    assert len(seen) == 2
    text = config.read_text()
    assert text.endswith("# saved by an editor\n")
    assert 'version = "v2"' in text


def test_a_file_that_keeps_changing_is_left_as_it_is(sample: Path) -> None:
    config = sample / "epctl.toml"
    saves = iter(range(100))

    def change(text: str) -> str:
        write_replace(config, text + f"# save {next(saves)}\n")
        return "lost = true\n"

    with pytest.raises(ConcurrentEditError) as raised:
        rewrite(config, config.read_text, change)
    assert str(raised.value) == (
        "epctl.toml changed 5 times while epctl was rewriting it; nothing was written: save your edits "
        "and try again"
    )
    assert config.read_text().endswith("# save 4\n")


def test_a_killed_snapshots_temporary_is_removed_by_the_next_and_never_listed(sample: Path) -> None:
    stale = sample / "versions" / ".v2.toml.k1ll3d_x.tmp"
    stale.write_text("half a version")
    assert list_version_names(sample) == ["v1.0.0"]
    freeze_version(sample, "v3")
    assert not stale.exists()
    assert sorted(os.listdir(sample / "versions")) == ["v1.0.0.toml", "v3.toml"]


def test_snapshot_never_writes_through_a_versions_symlink(sample: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (sample / "versions" / "v1.0.0.toml").rename(elsewhere / "v1.0.0.toml")
    (sample / "versions").rmdir()
    (sample / "versions").symlink_to(elsewhere)
    with pytest.raises(WriteRefusedError) as raised:
        freeze_version(sample, "v2")
    assert str(raised.value) == (
        f"path-escape: versions/v2.toml would be written to {elsewhere}/v2.toml, outside the project "
        "(versions leads there); nothing was written"
    )
    assert sorted(os.listdir(elsewhere)) == ["v1.0.0.toml"]


def test_promote_never_writes_through_a_symlinked_config(sample: Path) -> None:
    """Even a symlink to a file inside the project: the rename would replace the link, not the file."""
    real = sample / "config" / "real.toml"
    real.parent.mkdir()
    (sample / "epctl.toml").rename(real)
    (sample / "epctl.toml").symlink_to(real)
    before = real.read_text()
    with pytest.raises(WriteRefusedError) as raised:
        promote_version(sample, "v1.0.0", "production")
    assert str(raised.value) == (
        "not-a-file: epctl.toml is a symlink; epctl writes only regular files; nothing was written"
    )
    assert real.read_text() == before


@pytest.mark.timeout(30)
def test_a_held_lock_times_out_with_a_clear_error(sample: Path) -> None:
    with project_lock(sample), pytest.raises(Exception) as raised, project_lock(sample, timeout=0.2):
        pass
    assert str(raised.value) == (
        "another epctl command is writing this project (.epctl/lock is locked for more than 0 s); "
        "wait for it to finish and try again"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[project\n", "epctl.toml:1: TOML syntax error: Expected ']'"),
        ('environments = "x"\n[project]\nname = "t"\n', "epctl.toml: [environments.production] is not a"),
        ('[project]\nname = "t"\n[environments]\nproduction = "v1"\n', "[environments.production] is not a"),
    ],
)
def test_promote_into_a_broken_config_is_an_error_not_a_traceback(
    sample: Path, config: str, message: str
) -> None:
    (sample / "epctl.toml").write_text(config)
    with pytest.raises(EpctlError, match=re.escape(message)):
        promote_version(sample, "v1.0.0", "production", create=True)
    assert (sample / "epctl.toml").read_text() == config
