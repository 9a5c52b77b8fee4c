"""Two "hosts" (two gunicorn servers, two workers each) sharing one PostgreSQL database: a session
started on one is accepted on the other, and `epctl users passwd` ends it on both within the
documented delay."""

from __future__ import annotations

import http.client
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from epctl.runtime.sessions import GENERATION_CACHE_SECONDS
from tests.conftest import SECRET
from tests.signin.servers import PASSWORD, add_user, clean_environ, epctl_command, running_server, wait_for

pytestmark = pytest.mark.e2e
# PostgreSQL fixtures (a cluster per session, a database per test): see tests/postgres.py.
pytest_plugins = ["tests.postgres"]

NEW_PASSWORD = "a brand new password for ada"


def call(
    url: str, method: str, path: str, headers: dict[str, str], body: str = ""
) -> http.client.HTTPResponse:
    """Send one request (redirects are not followed) and return the response, its body read."""
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=15)
    connection.request(method, path, body=body.encode(), headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def sign_in(url: str) -> str:
    form = urlencode({"email": "ada@example.com", "password": PASSWORD})
    headers = {"Origin": url, "Content-Type": "application/x-www-form-urlencoded"}
    response = call(url, "POST", "/login", headers, form)
    assert response.status == 303, response.status
    cookie = response.getheader("Set-Cookie") or ""
    return cookie.split(";")[0]


def signed_in(url: str, cookie: str) -> bool:
    return call(url, "GET", "/welcome", {"Cookie": cookie}).status == 200


@pytest.mark.timeout(300)
def test_a_session_is_shared_by_two_hosts_and_ended_on_both(
    sample: Path, tmp_path: Path, postgres_url: str
) -> None:
    environ = clean_environ({"EPCTL_SECRET": SECRET, "EPCTL_DATABASE_URL": postgres_url})
    # Serving never migrates a PostgreSQL database by itself: `epctl users migrate` does, once.
    subprocess.run(epctl_command(sample, "users", "migrate"), env=environ, check=True, timeout=120)
    add_user(sample, "ada@example.com", environ, "--group", "admins")
    logs = [tmp_path / "host-a.log", tmp_path / "host-b.log"]
    with (
        running_server(sample, logs[0], environ, "--workers", "2") as host_a,
        running_server(sample, logs[1], environ, "--workers", "2") as host_b,
    ):
        cookie = sign_in(host_a)
        # Every worker of both hosts accepts it (a few requests reach both workers of each).
        for _ in range(4):
            assert signed_in(host_a, cookie) and signed_in(host_b, cookie)
        subprocess.run(
            epctl_command(sample, "users", "passwd", "ada@example.com", "--password-stdin"),
            input=NEW_PASSWORD + "\n",
            text=True,
            env=environ,
            check=True,
            capture_output=True,
            timeout=60,
        )
        changed = time.monotonic()
        delay = GENERATION_CACHE_SECONDS + 3  # the cache, plus slack for a loaded machine
        assert wait_for(lambda: not signed_in(host_a, cookie) and not signed_in(host_b, cookie), delay)
        assert time.monotonic() - changed <= delay
        # The first refusals may come from workers whose cache expired early; a worker that checked the
        # generation just before the change may accept the cookie until its entry is that old.
        time.sleep(max(0.0, changed + GENERATION_CACHE_SECONDS - time.monotonic()))
        for _ in range(4):  # and from then on it is refused on every worker
            assert not signed_in(host_a, cookie) and not signed_in(host_b, cookie)
        assert call(host_b, "GET", "/welcome", {"Cookie": cookie}).getheader("Location") == (
            "/login?next=/welcome"
        )
    for log in logs:
        text = log.read_text()
        assert "Listening at" in text
        for password in (PASSWORD, NEW_PASSWORD):
            assert password not in text and password.replace(" ", "+") not in text
