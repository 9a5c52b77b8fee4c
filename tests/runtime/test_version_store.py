"""Versions: frozen, self-contained, verifiable; served from their file alone; diffed, promoted, restored."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomli
import tomli_w
from werkzeug.test import Client

from epctl.runtime import create_app
from epctl.runtime.diff import diff_contents
from epctl.runtime.hosts import build_host_app, host_name
from epctl.runtime.restore import ForgedVersionError, RestoreConflictError, restore_version
from epctl.runtime.version_store import (
    VersionExistsError,
    format_sources,
    freeze_version,
    promote_version,
    read_content,
)
from epctl.schemas.problems import ProjectError
from epctl.schemas.version_file import (
    VersionError,
    VersionIntegrityError,
    VersionNotFoundError,
    compute_digest,
    read_version,
)

API_KEY = {"Authorization": "sample-mobile-key"}


def test_a_version_is_served_from_its_file_alone(sample: Path, secret: str) -> None:
    """Snapshot, then edit a page and delete a workflow in develop: the version still has both."""
    freeze_version(sample, "v1")
    home = sample / "pages" / "templates" / "home.html"
    home.write_text("<h1>Brand new home</h1>\n")
    workflows = sample / "workflows"
    (workflows / "api.toml").unlink()
    (workflows / "api.py").unlink()

    frozen = Client(create_app(sample, "v1"))
    assert "Welcome to smart-farm" in frozen.get("/").text
    assert frozen.get("/api/exports/readings.json").json == {"export": "readings", "rows": [[1, 70], [2, 71]]}

    develop = Client(create_app(sample))
    assert "Brand new home" in develop.get("/").text
    assert develop.get("/api/exports/readings.json").status_code == 500  # no workflow replies any more


def test_a_version_survives_deleting_develop_entirely(sample: Path, secret: str) -> None:
    freeze_version(sample, "v1")
    for folder in ("endpoints", "pages", "workflows"):
        shutil.rmtree(sample / folder)
    client = Client(create_app(sample, "v1"))
    assert client.get("/api/devices", headers=API_KEY).json["devices"][0]["id"] == "tank-1"
    assert client.get("/").headers["X-Frame-Options"] == "DENY"


def test_the_render_context_names_the_version(sample: Path, secret: str) -> None:
    freeze_version(sample, "v1.2.0")
    assert "v1.2.0 · rendered" in Client(create_app(sample, "v1.2.0")).get("/").text
    assert "develop · rendered" in Client(create_app(sample)).get("/").text


def test_a_version_handler_traceback_names_the_version_file(
    write_project, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = write_project(
        {
            "endpoints/e.toml": '[[endpoint]]\nid = "boom"\nmethod = "GET"\nroute = "/boom"\n',
            "workflows/w.toml": '[[workflow]]\nname = "w"\nhandler = "w.py:run"\nendpoints = ["boom"]\n',
            "workflows/w.py": "def run(request):\n    raise RuntimeError('frozen failure')\n",
        }
    )
    freeze_version(root, "v1")
    (root / "workflows" / "w.py").unlink()
    with caplog.at_level(logging.ERROR, logger="epctl.runtime"):
        response = Client(create_app(root, "v1")).get("/boom")
    assert response.status_code == 500
    assert "frozen failure" not in response.text
    assert f'File "{root / "versions" / "v1.toml"}[workflows/w.py]", line 2, in run' in caplog.text
    assert "raise RuntimeError('frozen failure')" in caplog.text


def test_version_file_is_reviewable_toml_with_sources_and_digest(sample: Path) -> None:
    freeze_version(sample, "v1", "first release")
    path = sample / "versions" / "v1.toml"
    text = path.read_text()
    document = tomli.loads(text)
    assert (document["format"], document["name"], document["description"]) == (1, "v1", "first release")
    assert document["digest"].startswith("sha256:")
    assert document["files"]["workflows/devices.py"] == (sample / "workflows" / "devices.py").read_text()
    # Sources are plain multi-line strings, so a git diff of a version reads like the code itself.
    assert "def show_device(request):\n" in text
    assert "[environments" not in text
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("develop", '"develop" is the live, editable version'),
        ("v1/../../x", "is not a valid version name"),
        ("", "is not a valid version name"),
        ("x" * 256, "is not a valid version name"),
        # versions and verify skip hidden files, and 246-255 characters overflowed the file name limit
        (".hidden", r'"\.hidden" is not a valid version name: use .*, not starting with a dot'),
        ("x" * 246, "it has 246 characters, and a version name has at most 128"),
        ("x" * 255, "it has 255 characters, and a version name has at most 128"),
    ],
)
def test_bad_version_names_are_refused(sample: Path, name: str, message: str) -> None:
    with pytest.raises(VersionError, match=message):
        freeze_version(sample, name)
    assert [p.name for p in (sample / "versions").iterdir()] == ["v1.0.0.toml"]


def test_an_existing_version_is_never_overwritten(sample: Path) -> None:
    freeze_version(sample, "v1")
    path = sample / "versions" / "v1.toml"
    before = path.read_bytes()
    (sample / "pages" / "templates" / "home.html").write_text("changed")
    with pytest.raises(VersionExistsError, match='version "v1" already exists'):
        freeze_version(sample, "v1")
    assert path.read_bytes() == before


def test_an_invalid_develop_is_never_frozen(sample: Path) -> None:
    (sample / "endpoints" / "bad.toml").write_text('[[endpoint]]\nid = "x"\nmethod = "GET"\nroute = "nope"\n')
    with pytest.raises(ProjectError):
        freeze_version(sample, "v1")
    assert [p.name for p in (sample / "versions").iterdir()] == ["v1.0.0.toml"]


def test_four_concurrent_snapshots_of_one_name_leave_exactly_one_valid_file(sample: Path) -> None:
    command = [sys.executable, "-m", "epctl.cli.main", "--project", str(sample), "snapshot", "v9"]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in processes if p.stderr]
    assert sorted(code for code, _ in results) == [0, 1, 1, 1]
    for code, stderr in results:
        if code:
            assert 'version "v9"' in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in (sample / "versions").iterdir()) == ["v1.0.0.toml", "v9.toml"]
    read_version(sample, "v9")  # verifies


def test_a_hand_edited_version_is_refused(sample: Path, secret: str) -> None:
    freeze_version(sample, "v1")
    path = sample / "versions" / "v1.toml"
    path.write_text(path.read_text().replace("Welcome to", "Pwned by"))
    with pytest.raises(VersionIntegrityError, match=r"versions/v1\.toml does not match its digest"):
        create_app(sample, "v1")


def test_an_unknown_version_is_refused(sample: Path) -> None:
    with pytest.raises(VersionNotFoundError, match='no version "v7"'):
        read_version(sample, "v7")


def test_diff_lists_changes_and_flags_widened_access(sample: Path) -> None:
    freeze_version(sample, "v1")
    api = sample / "endpoints" / "api.toml"
    api.write_text(api.read_text().replace('access = "authenticated"', 'access = "public"'))
    (sample / "pages" / "templates" / "home.html").write_text("<h1>new</h1>\n")
    result = diff_contents(read_content(sample, "v1"), read_content(sample, "develop"))
    assert [(c.section, c.name, c.kind) for c in result.changes] == [
        ("endpoint", "api-me", "changed"),
        ("file", "pages/templates/home.html", "changed"),
    ]
    assert result.changes[0].fields == {"access": ("authenticated", "public")}
    assert result.access_widened == ["endpoint api-me: access authenticated → public"]


def test_diff_of_equal_versions_is_empty(sample: Path) -> None:
    freeze_version(sample, "v1")
    assert diff_contents(read_content(sample, "v1"), read_content(sample, "develop")).equal


def test_diff_flags_dropped_api_key_new_wildcard_and_wider_cors(sample: Path) -> None:
    before = read_content(sample, "develop")
    api = sample / "endpoints" / "api.toml"
    api.write_text(
        api.read_text().replace("api_key = true", "api_key = false", 1)
        + '\n[[endpoint]]\nid = "files"\nmethod = "GET"\nroute = "/files/{path*}"\n'
        'reply = { type = "redirect", to = "/" }\n'
    )
    config = sample / "epctl.toml"
    config.write_text(
        config.read_text().replace(
            '"http://localhost:3000"]', '"http://localhost:3000", "https://evil.example"]'
        )
    )
    result = diff_contents(before, read_content(sample, "develop"))
    assert result.access_widened == [
        "endpoint api-devices: API key no longer required",
        "endpoint files: new wildcard route GET /files/{path*}",
        "settings: CORS origins widened: https://evil.example",
    ]


def test_promote_moves_only_the_pointer_and_keeps_comments(sample: Path) -> None:
    freeze_version(sample, "v2")
    config = sample / "epctl.toml"
    before = config.read_text()
    assert promote_version(sample, "v2", "production") == "v1.0.0"
    after = config.read_text()
    assert after == before.replace('version = "v1.0.0"', 'version = "v2"')
    assert "# The signing secret lives in this environment variable" in after


def test_promote_refuses_an_unknown_version(sample: Path) -> None:
    config = sample / "epctl.toml"
    before = config.read_text()
    with pytest.raises(VersionNotFoundError):
        promote_version(sample, "v404", "production")
    assert config.read_text() == before


def test_serve_all_answers_each_host_with_its_version(sample: Path, secret: str) -> None:
    (sample / "pages" / "templates" / "home.html").write_text("<h1>develop home</h1>\n")
    app, mounted, notes = build_host_app(sample)
    client = Client(app)
    assert [(m.env, m.version, m.root) for m in mounted] == [("production", "v1.0.0", "/farm")]
    assert notes == []
    production = client.get("/farm/", headers={"Host": "farm.example.com:443"})
    assert "Welcome to smart-farm" in production.text
    assert client.get("/", headers={"Host": "farm.example.com"}).status_code == 404  # outside /farm
    assert "develop home" in client.get("/", headers={"Host": "localhost:8080"}).text


def test_serve_all_signs_in_to_a_frozen_environment_with_the_projects_users(
    sample: Path, secret: str
) -> None:
    """[users] is not part of a version: `serve --all` serves a frozen one with epctl.toml's table, as
    `serve --env` does (before, its sign-in workflow found no users store and answered 500)."""
    freeze_version(sample, "v2")  # develop signs in; v1.0.0 predates it
    promote_version(sample, "v2", "production", test=False)
    app, _, _ = build_host_app(sample)
    form = {"email": "nobody@example.com", "password": "not-it", "next": "/welcome"}
    response = Client(app).post("/farm/login", data=form, headers={"Host": "farm.example.com"})
    assert response.status_code == 401  # the store answered: no such account
    assert "nobody@example.com" in response.text  # the login page again, the email kept


def test_serve_all_leaves_out_an_environment_whose_version_is_not_frozen(sample: Path, secret: str) -> None:
    (sample / "versions" / "v1.0.0.toml").unlink()
    _, mounted, notes = build_host_app(sample)
    assert mounted == []
    assert notes == ['environment "production" is not served: version "v1.0.0" is not frozen yet']


@pytest.mark.parametrize(
    ("header", "host"),
    [("Farm.Example.com:8080", "farm.example.com"), ("[::1]:8080", "[::1]"), ("localhost", "localhost")],
)
def test_host_names_ignore_port_and_case(header: str, host: str) -> None:
    assert host_name(header) == host


def test_restore_gives_back_develop_file_for_file(sample: Path) -> None:
    originals = {p: p.read_bytes() for p in sample.rglob("*") if p.is_file()}
    freeze_version(sample, "v1")
    (sample / "pages" / "templates" / "home.html").write_text("changed\n")
    (sample / "endpoints" / "extra.toml").write_text(
        '[[endpoint]]\nid = "extra"\nmethod = "GET"\nroute = "/extra"\n'
        'reply = { type = "redirect", to = "/" }\n'
    )
    with pytest.raises(
        RestoreConflictError, match=r"pages/templates/home\.html, endpoints/extra\.toml \(removed\)"
    ):
        restore_version(sample, "v1")
    assert (sample / "pages" / "templates" / "home.html").read_text() == "changed\n"

    _, backup = restore_version(sample, "v1", force=True)
    assert backup is not None and backup.startswith(".epctl/backups/")
    assert (sample / backup / "pages" / "templates" / "home.html").read_text() == "changed\n"
    assert (sample / backup / "endpoints" / "extra.toml").exists()
    for path, data in originals.items():
        assert path.read_bytes() == data, path
    assert not (sample / "endpoints" / "extra.toml").exists()


def test_restore_into_matching_develop_needs_no_force(sample: Path) -> None:
    freeze_version(sample, "v1")
    plan, backup = restore_version(sample, "v1")
    assert (plan.changed, plan.created, plan.remove, backup) == ([], [], [], None)


@pytest.mark.parametrize(
    "text",
    ["x = '\\\\d'\n", "ends with quote'", "has ''' inside\n", "ctl \x01 char\n", "", "no newline", "\ttab\n"],
)
def test_sources_read_back_exactly_whatever_they_hold(text: str) -> None:
    """Sources use literal strings when they can and escaped ones when they must; both read back."""
    assert tomli.loads(format_sources("files", {"w.py": text}))["files"] == {"w.py": text}


def test_handler_code_is_written_without_escapes(sample: Path) -> None:
    (sample / "workflows" / "api.py").write_text(
        (sample / "workflows" / "api.py").read_text() + '\nPATTERN = r"\\d+"  # a "regex"\n'
    )
    freeze_version(sample, "v1")
    assert 'PATTERN = r"\\d+"  # a "regex"' in (sample / "versions" / "v1.toml").read_text()


def test_restore_never_writes_outside_the_project(sample: Path, tmp_path: Path) -> None:
    """A crafted version (its digest recomputed) naming ../ paths is refused before anything is written."""
    freeze_version(sample, "v1")
    path = sample / "versions" / "v1.toml"
    document = tomli.loads(path.read_text())
    document["files"]["../outside.txt"] = "pwned"
    document["digest"] = compute_digest(document)
    path.write_text(tomli_w.dumps(document))
    with pytest.raises(ForgedVersionError, match=r"holds files no version can own: \.\./outside\.txt\."):
        restore_version(sample, "v1", force=True)
    assert not (tmp_path / "outside.txt").exists()


def test_an_environment_serves_its_version_under_its_root(sample: Path, secret: str) -> None:
    """create_app(env=...) reads only epctl.toml's pointer and the version: a broken develop is fine."""
    (sample / "endpoints" / "site.toml").write_text("[[endpoint]\nbroken")
    client = Client(create_app(sample, env="production"))
    assert "v1.0.0 · rendered" in client.get("/farm/").text
    assert client.get("/farm/api/devices", headers=API_KEY).status_code == 200
    assert client.get("/").status_code == 404


def test_diff_flags_another_secret_a_dropped_issuer_and_replaced_or_added_key_hashes(sample: Path) -> None:
    before = read_content(sample, "develop")
    config = sample / "epctl.toml"
    text = config.read_text()
    text = text.replace('secret_env = "EPCTL_SECRET"', 'secret_env = "OTHER_SECRET"')
    text = text.replace('issuer = "smart-farm"\n', "")
    text = text.replace("7158cc5bb3cd849bc28105ea52ce733d393e8aad6d7a718351efaa639684ad89", "b" * 64)
    text += f'\n[[api_key]]\nname = "partner"\nsha256 = "{"c" * 64}"\nendpoints = ["api-devices"]\n'
    config.write_text(text)
    result = diff_contents(before, read_content(sample, "develop"))
    assert result.access_widened == [
        "auth: secret_env EPCTL_SECRET → OTHER_SECRET (tokens signed with another secret are accepted)",
        "auth: issuer smart-farm removed (tokens of any issuer are accepted)",
        "API key mobile-app: hash replaced (another key is accepted)",
        "API key partner: new key",
    ]
