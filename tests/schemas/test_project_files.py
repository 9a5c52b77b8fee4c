"""Every file epctl reads resolves inside the project, is a regular file and has a bounded size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from epctl.runtime.version_store import freeze_version
from epctl.schemas.loader import read_project
from epctl.schemas.problems import Problem, ProjectError
from epctl.schemas.project_files import ProjectFileError
from epctl.schemas.version_file import load_version
from tests.conftest import WriteProject

ENDPOINT = '[[endpoint]]\nid = "a"\nmethod = "GET"\nroute = "/a"\nreply = { type = "page", page = "p" }\n'


def errors_of(root: Path) -> list[tuple[str, str, str]]:
    _, problems = read_project(root)
    return [(p.code, p.file, p.message) for p in problems if p.severity == "error"]


def only(problems: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    assert len(problems) == 1, problems
    return problems[0]


def test_a_toml_file_symlinked_outside_is_a_path_escape_and_never_frozen(
    write_project: WriteProject, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.toml"
    secret.write_text('# private notes\n[[endpoint]]\nid = "leak"\nmethod = "GET"\nroute = "/leak"\n')
    root = write_project({"endpoints/a.toml": ""})
    (root / "endpoints" / "linked.toml").symlink_to(secret)
    assert only(errors_of(root)) == (
        "path-escape",
        "endpoints/linked.toml",
        f"endpoints/linked.toml leads outside the project (to {secret}); epctl reads only files inside "
        "the project folder: replace the symlink with the file itself",
    )
    with pytest.raises(ProjectError):
        freeze_version(root, "v1")
    assert not (root / "versions" / "v1.toml").exists()


def test_a_toml_file_linked_to_dev_zero_is_refused_without_reading(write_project: WriteProject) -> None:
    root = write_project({})
    (root / "endpoints").mkdir()
    (root / "endpoints" / "z.toml").symlink_to("/dev/zero")
    code, file, _ = only(errors_of(root))
    assert (code, file) == ("path-escape", "endpoints/z.toml")


@pytest.mark.timeout(10)
def test_a_fifo_or_a_folder_where_a_file_belongs_is_not_a_file(write_project: WriteProject) -> None:
    root = write_project({"endpoints/a.toml": ENDPOINT, "pages/p.toml": '[[page]]\nname = "p"\nbody = "x"\n'})
    os.mkfifo(root / "endpoints" / "fifo.toml")  # opening it for reading would wait for a writer
    (root / "endpoints" / "folder.toml").mkdir()
    assert errors_of(root) == [
        (
            "not-a-file",
            "endpoints/fifo.toml",
            "endpoints/fifo.toml is a device, FIFO or socket, not a regular file; epctl reads only "
            "regular files",
        ),
        (
            "not-a-file",
            "endpoints/folder.toml",
            "endpoints/folder.toml is a folder, not a regular file; epctl reads only regular files",
        ),
    ]


def test_a_file_over_16_mib_is_too_large(write_project: WriteProject) -> None:
    root = write_project({"endpoints/a.toml": ENDPOINT, "pages/p.toml": '[[page]]\nname = "p"\nbody = "x"\n'})
    with (root / "endpoints" / "big.toml").open("wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)  # sparse: costs no disk, and is never read
    assert only(errors_of(root)) == (
        "file-too-large",
        "endpoints/big.toml",
        "endpoints/big.toml is 16,777,217 bytes; a project file may hold at most 16 MiB (16,777,216 bytes)",
    )


@pytest.mark.timeout(10)
def test_templates_and_handlers_are_held_to_the_same_rules(
    write_project: WriteProject, tmp_path: Path
) -> None:
    (tmp_path / "outside.html").write_text("<p>outside</p>")
    root = write_project(
        {
            "endpoints/a.toml": ENDPOINT,
            "pages/p.toml": '[[page]]\nname = "p"\ntemplate = "p.html"\n'
            '[[component]]\nname = "c"\ntemplate = "c.html"\n',
            "workflows/w.toml": '[[workflow]]\nname = "w"\nhandler = "w.py:run"\nendpoints = ["a"]\n',
        }
    )
    (root / "pages" / "p.html").symlink_to(tmp_path / "outside.html")
    os.mkfifo(root / "pages" / "c.html")
    with (root / "workflows" / "w.py").open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    problems: list[Problem] = read_project(root)[1]
    assert sorted((p.code, p.place.key) for p in problems) == [
        ("file-too-large", "workflow[0].handler"),
        ("not-a-file", "component[0].template"),
        ("path-escape", "page[0].template"),
    ]


def test_a_version_is_never_read_through_a_versions_symlink(sample: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (sample / "versions").rename(elsewhere)
    (sample / "versions").symlink_to(elsewhere)
    with pytest.raises(ProjectFileError) as raised:
        load_version(sample, "v1.0.0")
    assert raised.value.code == "path-escape"
    assert str(raised.value).startswith(f"versions/v1.0.0.toml leads outside the project (to {elsewhere}/")
