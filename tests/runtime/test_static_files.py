"""Static files through the real app (werkzeug's test client): served from develop and from a version
file alone, ETag and Last-Modified, 304, hash-keyed caching, HEAD, traversal refused, `static_url`."""

from __future__ import annotations

import hashlib
import logging
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from werkzeug.http import http_date, parse_date
from werkzeug.test import Client

from epctl.runtime import create_app
from epctl.runtime.version_store import freeze_version
from epctl.schemas.problems import ProjectError
from tests.conftest import MakeClient, WriteProject

CSS = "body { color: #222; }\n"
# Bytes no text encoding reads, a NUL and a CR LF among them: what base64 is for.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" + bytes(range(256))
ENDPOINT = """\
[[endpoint]]
id = "home"
method = "GET"
route = "/"
reply = { type = "page", page = "home" }
"""
PAGE = """\
[[page]]
name = "home"
body = '<link rel="stylesheet" href="{{ static_url("css/site.css") }}"><a href="{{ url("/") }}">home</a>'
"""


def short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@pytest.fixture
def site(write_project: WriteProject) -> Path:
    """A project with a page linking a stylesheet, and a binary image."""
    root = write_project(
        {"endpoints/site.toml": ENDPOINT, "pages/site.toml": PAGE, "static/css/site.css": CSS}
    )
    (root / "static" / "img").mkdir()
    (root / "static" / "img" / "logo.png").write_bytes(PNG)
    return root


def test_develop_serves_a_file_with_its_type_etag_and_last_modified(
    site: Path, make_client: MakeClient
) -> None:
    response = make_client(site).get("/static/css/site.css")
    assert response.status_code == 200
    assert response.data == CSS.encode()
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert response.headers["ETag"] == f'"{short_hash(CSS.encode())}"'
    mtime = (site / "static" / "css" / "site.css").stat().st_mtime
    assert response.headers["Last-Modified"] == http_date(int(mtime))
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Content-Length"] == str(len(CSS))

    image = make_client(site).get("/static/img/logo.png")
    assert (image.status_code, image.data, image.mimetype) == (200, PNG, "image/png")


def test_a_matching_if_none_match_answers_304_and_another_etag_the_file(
    site: Path, make_client: MakeClient
) -> None:
    client = make_client(site)
    etag = client.get("/static/css/site.css").headers["ETag"]
    cached = client.get("/static/css/site.css", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.data == b""
    assert cached.headers["ETag"] == etag
    assert cached.headers["Cache-Control"] == "no-cache"
    assert "Content-Type" not in cached.headers
    stale = client.get("/static/css/site.css", headers={"If-None-Match": '"0000000000000000"'})
    assert (stale.status_code, stale.data) == (200, CSS.encode())


def test_if_modified_since_answers_304_until_the_file_is_newer(site: Path, make_client: MakeClient) -> None:
    client = make_client(site)
    last_modified = client.get("/static/css/site.css").headers["Last-Modified"]
    assert client.get("/static/css/site.css", headers={"If-Modified-Since": last_modified}).status_code == 304
    modified = parse_date(last_modified)
    assert modified is not None
    earlier = http_date(modified.timestamp() - 60)
    assert client.get("/static/css/site.css", headers={"If-Modified-Since": earlier}).status_code == 200


def test_head_sends_the_headers_without_the_body(site: Path, make_client: MakeClient) -> None:
    response = make_client(site).head("/static/img/logo.png")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str(len(PNG))
    assert response.headers["ETag"] == f'"{short_hash(PNG)}"'


def test_the_content_hash_in_the_url_gets_a_long_immutable_cache(site: Path, make_client: MakeClient) -> None:
    client = make_client(site)
    current = client.get(f"/static/css/site.css?v={short_hash(CSS.encode())}")
    assert current.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # A hash of an older content must not pin today's file for a year.
    older = client.get("/static/css/site.css?v=0123456789abcdef")
    assert (older.status_code, older.headers["Cache-Control"]) == (200, "no-cache")


@pytest.mark.parametrize(
    "path",
    [
        "/static/../epctl.toml",
        "/static/%2e%2e/epctl.toml",
        "/static/css/..%2F..%2Fepctl.toml",
        "/static/css%2Fsite.css",
        "/static/css%5Csite.css",
        "/static//etc/passwd",
        "/static/%2Fetc/passwd",
        "/static/./css/site.css",
        "/static/.secret.css",
        "/static/css/missing.css",
        "/static/",
        "/static/%ff.css",
    ],
)
def test_paths_that_leave_the_folder_or_name_no_file_are_not_found(
    site: Path, make_client: MakeClient, path: str
) -> None:
    (site / "static" / ".secret.css").write_text("hidden")
    response = make_client(site).get(path)
    assert response.status_code == 404
    assert response.json == {"error": "Not found"}


def test_a_symlink_leaving_the_project_is_refused_when_the_project_loads(
    site: Path, tmp_path: Path, write_project: WriteProject
) -> None:
    outside = tmp_path / "outside.css"
    outside.write_text("secret")
    (site / "static" / "leak.css").symlink_to(outside)
    with pytest.raises(ProjectError, match=r"static/leak\.css leads outside the project"):
        create_app(site)


def test_other_methods_are_405_with_allow(site: Path, make_client: MakeClient) -> None:
    response = make_client(site).post("/static/css/site.css")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_a_frozen_version_serves_its_files_from_its_file_alone(site: Path) -> None:
    info = freeze_version(site, "v1")
    shutil.rmtree(site / "static")
    client = Client(create_app(site, "v1"))
    image = client.get("/static/img/logo.png")
    assert (image.status_code, image.data) == (200, PNG)
    created = datetime.fromisoformat(info.created).timestamp()
    assert image.headers["Last-Modified"] == http_date(int(created))
    etag = image.headers["ETag"]
    assert client.get("/static/img/logo.png", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/static/css/site.css").data == CSS.encode()
    page = client.get("/")
    assert f'href="/static/css/site.css?v={short_hash(CSS.encode())}"' in page.text


def test_static_url_and_the_files_carry_the_environment_root(site: Path, make_client: MakeClient) -> None:
    client = make_client(site, root="/fleet")
    page = client.get("/fleet/")
    assert page.status_code == 200
    assert page.text == (
        f'<link rel="stylesheet" href="/fleet/static/css/site.css?v={short_hash(CSS.encode())}">'
        '<a href="/fleet/">home</a>'
    )
    assert client.get("/fleet/static/css/site.css").data == CSS.encode()
    assert client.get("/static/css/site.css").status_code == 404  # outside the root


def test_an_asset_name_computed_at_render_time_that_names_no_file_fails_that_render(
    write_project: WriteProject, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    root = write_project(
        {
            "endpoints/site.toml": ENDPOINT,
            "pages/site.toml": PAGE.replace('static_url("css/site.css")', "static_url(request.query.f)"),
            "static/css/site.css": CSS,
        }
    )
    client = make_client(root)
    assert client.get("/?f=css/site.css").status_code == 200
    with caplog.at_level(logging.ERROR, logger="epctl.runtime"):
        assert client.get("/?f=nope.css").status_code == 500
    assert 'static_url("nope.css"): this version has no file static/nope.css' in caplog.text


def test_a_configured_prefix_moves_the_files_and_frees_static(
    write_project: WriteProject, make_client: MakeClient
) -> None:
    root = write_project(
        {
            "epctl.toml": '[project]\nname = "t"\n\n[settings]\nstatic_prefix = "/assets/v2/"\n',
            "pages/site.toml": PAGE,
            "endpoints/site.toml": ENDPOINT
            + '\n[[endpoint]]\nid = "old"\nmethod = "GET"\nroute = "/static/{file*}"\n'
            'reply = { type = "redirect", to = "/" }\n',
            "static/css/site.css": CSS,
        }
    )
    client = make_client(root)
    assert client.get("/assets/v2/css/site.css").data == CSS.encode()
    assert client.get("/static/css/site.css").status_code == 301  # the route, no longer shadowed
    assert f'href="/assets/v2/css/site.css?v={short_hash(CSS.encode())}"' in client.get("/").text


def test_without_static_files_the_prefix_is_an_ordinary_path(
    write_project: WriteProject, make_client: MakeClient
) -> None:
    root = write_project(
        {
            "endpoints/site.toml": '[[endpoint]]\nid = "files"\nmethod = "GET"\nroute = "/static/{file*}"\n'
            'reply = { type = "redirect", to = "/" }\n'
        }
    )
    assert make_client(root).get("/static/app.css").status_code == 301
