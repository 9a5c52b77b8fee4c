"""Static files through the CLI: what `validate` reports, how `routes` and `match` show the mount,
`init`'s stylesheet, and versions that freeze, diff and restore static files byte for byte."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import tomli
import tomli_w
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from epctl.cli.main import app
from epctl.runtime.version_store import VersionTooLargeError, freeze_version
from epctl.schemas.project_files import VERSION_LIMIT, ProjectFileError
from epctl.schemas.static_files import freeze_assets, frozen_size, make_asset
from epctl.schemas.version_file import VersionIntegrityError, compute_digest, load_version
from tests.conftest import WriteProject, run

CSS = "body { color: #222; }\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" + bytes(range(256))
ENDPOINTS = """\
[[endpoint]]
id = "home"
method = "GET"
route = "/"
reply = { type = "page", page = "home" }

[[endpoint]]
id = "old-css"
method = "GET"
route = "/static/site.css"
reply = { type = "redirect", to = "/" }
"""
PAGES = """\
[[page]]
name = "home"
body = '''
<h1>Home</h1>
<link rel="stylesheet" href="{{ static_url("site.cs") }}">'''
"""


def validate_json(runner: CliRunner, root: Path) -> list[dict[str, object]]:
    result = run(runner, root, "validate", "--format", "json")
    problems: list[dict[str, object]] = json.loads(result.stdout)["problems"]
    return problems


def test_a_route_under_the_static_prefix_is_a_route_conflict(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(
        {
            "epctl.toml": '[project]\nname = "t"\n\n[settings]\nstatic_prefix = "/static/"\n',
            "endpoints/site.toml": ENDPOINTS,
            "static/site.css": CSS,
        }
    )
    [conflict] = [p for p in validate_json(runner, root) if p["code"] == "route-conflict"]
    assert conflict == {
        "severity": "error",
        "code": "route-conflict",
        "message": 'GET /static/site.css (endpoint "old-css") conflicts with the static files served under '
        "/static/ (1 file in static/): requests under /static/ are answered from static/ and never "
        "reach this endpoint; change the route, or serve the files elsewhere with [settings] "
        "static_prefix",
        "file": "endpoints/site.toml",
        "line": 10,
        "key": "endpoint[1].route",
        "id": "old-css",
        "related": [{"file": "epctl.toml", "line": 5, "key": "settings.static_prefix", "id": None}],
    }


@pytest.mark.parametrize(
    ("route", "conflicts"),
    [
        ("/static/{file*}", True),
        ("/static/{name?}", True),
        ("/static/css/{name}.css", True),
        ("/static", False),  # not under /static/
        ("/{page}/site.css", False),  # a literal beats a parameter: the page still serves /x/site.css
        ("/{any*}", False),
        ("/statics/{file}", False),
    ],
)
def test_which_routes_the_static_mount_hides(
    runner: CliRunner, write_project: WriteProject, route: str, conflicts: bool
) -> None:
    root = write_project(
        {
            "endpoints/site.toml": f'[[endpoint]]\nid = "e"\nmethod = "GET"\nroute = "{route}"\n'
            'reply = { type = "redirect", to = "/" }\n',
            "static/site.css": CSS,
        }
    )
    codes = [p["code"] for p in validate_json(runner, root)]
    assert ("route-conflict" in codes) is conflicts


def test_a_static_url_naming_no_file_is_reported_with_its_line_and_a_suggestion(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(
        {
            "endpoints/site.toml": ENDPOINTS.split("\n\n")[0] + "\n",
            "pages/site.toml": PAGES,
            "static/site.css": CSS,
        }
    )
    result = run(runner, root, "validate")
    assert result.exit_code == 1
    assert "5  error   unknown-asset  template calls static_url" in " ".join(result.stderr.split("\n"))
    [problem] = validate_json(runner, root)
    assert (problem["code"], problem["file"], problem["line"], problem["id"]) == (
        "unknown-asset",
        "pages/site.toml",
        5,
        "home",
    )
    assert problem["message"] == (
        'template calls static_url("site.cs"), but static/ has no file "site.cs"; did you mean "site.css"?'
    )


def test_files_of_other_types_are_a_warning_and_dotfiles_are_skipped(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project({"static/tool.exe": "MZ", "static/.DS_Store": "x", "static/.git/config": "x"})
    [warning] = validate_json(runner, root)
    assert (warning["severity"], warning["code"], warning["file"]) == (
        "warning",
        "unserved-static-file",
        "static/tool.exe",
    )
    assert str(warning["message"]).startswith("static/tool.exe is not served nor frozen: static/ serves only")


def test_a_static_prefix_must_start_and_end_with_a_slash(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project({"epctl.toml": '[project]\nname = "t"\n\n[settings]\nstatic_prefix = "/assets"\n'})
    [problem] = validate_json(runner, root)
    assert (problem["code"], problem["line"], problem["key"]) == (
        "invalid-value",
        5,
        "settings.static_prefix",
    )
    assert problem["message"] == (
        '"static_prefix" must be a path that starts and ends with "/", such as "/static/" or "/assets/v2/", '
        "not '/assets'"
    )


def test_routes_lists_the_mount_first_and_match_names_the_file(runner: CliRunner, sample: Path) -> None:
    table = run(runner, sample, "routes").stdout.splitlines()
    assert table[1].split() == [
        "GET",
        "/static/{file*}",
        "(static",
        "files)",
        "public",
        "static/",
        "(2",
        "files)",
        "yes",
    ]
    assert "/static/" not in run(runner, sample, "routes", "--method", "POST").stdout
    assert all(row["endpoint"] for row in json.loads(run(runner, sample, "routes", "--json").stdout))

    found = json.loads(run(runner, sample, "match", "GET", "/static/site.css", "--json").stdout)
    assert (found["status"], found["endpoint"], found["static"]) == (200, None, "static/site.css")
    missing = json.loads(run(runner, sample, "match", "GET", "/static/nope.css", "--json").stdout)
    assert (missing["status"], missing["static"]) == (404, None)
    posted = json.loads(run(runner, sample, "match", "POST", "/static/site.css", "--json").stdout)
    assert (posted["status"], posted["allowed"]) == (405, ["GET", "HEAD"])
    text = run(runner, sample, "match", "GET", "/static/site.css").stdout
    assert text.splitlines()[0] == "GET /static/site.css → 200 static/site.css"


def test_init_scaffolds_a_stylesheet_its_layout_links(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "site"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    assert (root / "static" / "site.css").is_file()
    assert "static_url('site.css')" in (root / "pages" / "main.html").read_text()
    assert run(runner, root, "validate").exit_code == 0


def test_a_version_holds_text_as_strings_and_binaries_as_base64_and_restores_them_byte_for_byte(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project({"static/site.css": CSS})
    (root / "static" / "img").mkdir()
    (root / "static" / "img" / "logo.png").write_bytes(PNG)
    (root / "static" / "img" / "logo.png").chmod(0o755)  # an executable bit never comes back
    assert run(runner, root, "snapshot", "v1").exit_code == 0
    text = (root / "versions" / "v1.toml").read_text()
    document = tomli.loads(text)
    assert document["static"] == {"static/site.css": CSS}
    assert "[static]\n\"static/site.css\" = '''\nbody { color: #222; }\n'''" in text  # reviewable
    assert set(document["static_base64"]) == {"static/img/logo.png"}

    (root / "static" / "img" / "logo.png").unlink()
    (root / "static" / "site.css").write_text("changed\n")
    refused = run(runner, root, "restore", "v1")
    assert refused.exit_code == 1
    assert "static/site.css" in refused.stderr
    restored = run(runner, root, "restore", "v1", "--force")
    assert restored.exit_code == 0, restored.output
    assert (root / "static" / "img" / "logo.png").read_bytes() == PNG
    assert (root / "static" / "site.css").read_bytes() == CSS.encode()
    assert not (root / "static" / "img" / "logo.png").stat().st_mode & (
        stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    )
    assert "Restored v1 into develop: 2 files written" in restored.stderr


def test_restore_counts_one_file_in_the_singular(runner: CliRunner, write_project: WriteProject) -> None:
    root = write_project({"static/site.css": CSS})
    assert run(runner, root, "snapshot", "v1").exit_code == 0
    (root / "static" / "site.css").unlink()
    result = run(runner, root, "restore", "v1")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["Restored v1 into develop: 1 file written"]


def test_the_digest_covers_static_files_and_diff_lists_them(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project({"static/site.css": CSS})
    (root / "static" / "logo.png").write_bytes(PNG)
    assert run(runner, root, "snapshot", "v1").exit_code == 0
    (root / "static" / "logo.png").write_bytes(PNG + b"\x00")
    (root / "static" / "new.js").write_text("export {};\n")
    diff = run(runner, root, "diff", "v1", "develop", "--json")
    assert diff.exit_code == 1
    changes = {(c["section"], c["name"], c["change"]) for c in json.loads(diff.stdout)["changes"]}
    assert changes == {("file", "static/logo.png", "changed"), ("file", "static/new.js", "added")}

    path = root / "versions" / "v1.toml"
    path.write_text(path.read_text().replace("color: #222", "color: #f00"))
    with pytest.raises(VersionIntegrityError, match="does not match its digest"):
        load_version(root, "v1")


def test_a_snapshot_larger_than_a_version_file_may_be_is_refused(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project({"static/site.css": CSS})
    monkeypatch.setattr("epctl.runtime.version_store.VERSION_LIMIT", VERSION_LIMIT._replace(bytes=100))
    with pytest.raises(
        VersionTooLargeError, match=r"a version file may hold at most 64 MiB; move large files"
    ):
        freeze_version(root, "v1")
    assert not (root / "versions" / "v1.toml").exists()


def test_a_version_file_may_hold_more_than_a_project_file(write_project: WriteProject) -> None:
    """100,000 endpoints make a version of about 23 MB: over the 16 MiB of a project file, within 64 MiB."""
    root = write_project({"static/site.css": CSS})
    freeze_version(root, "v1")
    path = root / "versions" / "v1.toml"
    with path.open("a") as handle:
        handle.write(("# " + "x" * 1022 + "\n") * 17 * 1024)  # 17 MiB of comment: not in the digest
    assert load_version(root, "v1").version == "v1"
    with path.open("ab") as handle:
        handle.truncate(64 * 1024 * 1024 + 1)
    with pytest.raises(
        ProjectFileError, match=r"a version file may hold at most 64 MiB \(67,108,864 bytes\)"
    ):
        load_version(root, "v1")


def test_static_files_a_version_cannot_hold_are_an_error_of_validate_and_nothing_after_is_read(
    runner: CliRunner, write_project: WriteProject
) -> None:
    """Four PDFs of 16,000,000 bytes take 21,614,038 bytes each in a version (base64 in lines of
    76): three fit in a version file's 64 MiB, the fourth does not. validate says so, where snapshot
    would have refused after building the whole version."""
    page = '[[page]]\nname = "home"\nbody = \'<link href="{{ static_url("site.css") }}">\'\n'
    root = write_project({"pages/site.toml": page, "static/site.css": CSS})
    for name in "abc":
        with (root / "static" / f"{name}.pdf").open("wb") as handle:
            handle.truncate(16_000_000)
    assert validate_json(runner, root) == []
    assert run(runner, root, "snapshot", "v1").exit_code == 0  # 64.8 MB: the estimate agrees

    with (root / "static" / "d.pdf").open("wb") as handle:
        handle.truncate(16_000_000)
    (root / "static" / "e.exe").write_text("MZ")  # after d.pdf: not even listed
    # site.css comes after d.pdf too: not read, and the page's static_url("site.css") is not reported.
    [problem] = validate_json(runner, root)
    assert (problem["code"], problem["severity"], problem["file"]) == (
        "static-too-large",
        "error",
        "static/d.pdf",
    )
    assert problem["message"] == (
        "static/ holds more than a version can: up to static/d.pdf, its files would take 86,456,152 "
        "bytes of a version file (binary files are base64-encoded), and a version file may hold at most "
        "64 MiB; move large files out of static/ (a CDN serves them better). The files after it were "
        "not read"
    )
    result = run(runner, root, "snapshot", "v2")
    assert result.exit_code == 1
    assert "static-too-large" in result.stderr
    assert not (root / "versions" / "v2.toml").exists()


def test_a_static_file_that_cannot_be_read_is_reported_once_not_again_where_a_template_links_it(
    runner: CliRunner, write_project: WriteProject
) -> None:
    page = '[[page]]\nname = "home"\nbody = \'<img src="{{ static_url("big.png") }}">\'\n'
    root = write_project({"pages/site.toml": page})
    (root / "static").mkdir()
    with (root / "static" / "big.png").open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    assert [(p["code"], p["file"]) for p in validate_json(runner, root)] == [
        ("file-too-large", "static/big.png")
    ]


@given(st.binary(max_size=400), st.sampled_from(["static/a.png", "static/a.css", "static/a.svg"]))
def test_the_frozen_size_of_an_asset_is_what_a_version_writes(data: bytes, path: str) -> None:
    texts, binaries = freeze_assets({path: make_asset(data)})
    written = [text.encode() for text in [*texts.values(), *binaries.values()]]
    assert frozen_size(path, data) == sum(map(len, written))


def test_a_hand_made_static_table_is_refused_by_validate_and_restore(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project({"static/site.css": CSS})
    assert run(runner, root, "snapshot", "v1").exit_code == 0
    path = root / "versions" / "v1.toml"
    document = tomli.loads(path.read_text())
    document["static_base64"] = {"static/logo.png": "not base64!", "conftest.py": "cHJpbnQoKQ=="}
    document["digest"] = compute_digest(document)
    path.write_text(tomli_w.dumps(document))

    problems = validate_json_version(runner, root, "v1")
    assert {(p["code"], p["key"] or p["message"]) for p in problems} == {
        ("invalid-value", "static_base64.static/logo.png"),
        (
            "invalid-value",
            '"conftest.py" is not a file of static/ that a version can hold; the version was made by hand',
        ),
    }
    result = run(runner, root, "restore", "v1", "--force")
    assert result.exit_code == 1
    assert 'version "v1" holds files no version can own: conftest.py' in result.stderr


def validate_json_version(runner: CliRunner, root: Path, version: str) -> list[dict[str, object]]:
    result = run(runner, root, "validate", "--version", version, "--format", "json")
    problems: list[dict[str, object]] = json.loads(result.stdout)["problems"]
    return problems
