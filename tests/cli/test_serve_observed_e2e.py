"""End to end: `epctl serve --workers 2 --log-format json --admin-port 0` as a user runs it: every line
JSON, one access line per request with its fields and no secret, metrics summed over both workers,
health; and the werkzeug server observed the same way."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli.serving import (
    OPS_FILES,
    add_files,
    fetch,
    labels,
    scrape,
    scrape_counted,
    start_serve,
    wait_until_ready,
)
from tests.conftest import MintToken

pytestmark = pytest.mark.e2e

ACCESS_FIELDS = {
    "time",
    "level",
    "logger",
    "request_id",
    "method",
    "path",
    "route",
    "endpoint_id",
    "status",
    "duration_ms",
    "bytes",
    "version",
    "environment",
    "user",
    "outcome",
    "workflow_errors",
}
API_KEY = "sample-mobile-key"


def test_two_workers_json_lines_summed_metrics_and_health(
    sample: Path, secret: str, sample_token: MintToken, tmp_path: Path
) -> None:
    add_files(sample, OPS_FILES)
    token = sample_token("ann", ["admins"])
    server = start_serve(sample, tmp_path, "--workers", "2", "--log-format", "json", "--admin-port", "0")
    try:
        assert fetch(server.admin + "/livez")[::2] == (200, "ok\n")
        wait_until_ready(server.admin)
        assert fetch(server.admin + "/readyz")[::2] == (200, "ready\n")
        url = server.url

        # Rounds of slow requests at once until both workers have answered: a gthread worker can take
        # several connections, so which worker takes one is up to the kernel; 8 rounds of 8 make one
        # worker taking all of them as good as impossible.
        pids: set[int] = set()
        slow = 0
        with ThreadPoolExecutor(8) as pool:
            while len(pids) < 2 and slow < 64:
                answers = list(pool.map(lambda _: fetch(url + "/ops/pid?seconds=0.2"), range(8)))
                slow += 8
                assert all(status == 200 for status, _, _ in answers), answers
                pids |= {json.loads(body)["pid"] for _, _, body in answers}
        assert len(pids) == 2, pids
        status, headers, body = fetch(url + "/ops/version", {"X-Request-ID": "rid-page"})
        assert (status, headers["X-Request-ID"], body) == (
            200,
            "rid-page",
            "version=develop request=rid-page",
        )
        assert (
            fetch(url + "/api/me", {"Authorization": f"Bearer {token}", "X-Request-ID": "rid-me"})[0] == 200
        )
        assert fetch(f"{url}/api/me?authorization={token}", {"X-Request-ID": "rid-query"})[0] == 200
        assert fetch(f"{url}/api/devices?apikey={API_KEY}", {"X-Request-ID": "rid-key"})[0] == 200
        assert fetch(url + "/devices", {"Cookie": f"authorization={token}"})[0] == 200
        assert fetch(url + "/devices", {"X-Request-ID": "rid-refused"})[0] == 302  # unauthorized: to /login
        assert fetch(url + "/nowhere", {"X-Request-ID": "rid-404"})[0] == 404
        # The workers write their access lines in batches, and what they hold every tenth of a second.
        server.wait_for('"request_id":"rid-404"', seconds=10)
        assert fetch(url + "/", method="POST")[0] == 405
        assert fetch(url + "/ops/boom", {"X-Request-ID": "rid-boom"})[0] == 500
        sent = slow + 9

        samples = scrape_counted(server.admin, sent)
        requests = [
            (dict(found), value) for (name, found), value in samples.items() if name == "epctl_requests_total"
        ]
        assert sum(value for _, value in requests) == sent
        assert (
            samples[("epctl_requests_total", labels(endpoint="ops-pid", method="GET", status_class="2xx"))]
            == slow
        )
        assert samples[("epctl_not_found_total", frozenset())] == 1
        assert samples[("epctl_method_not_allowed_total", frozenset())] == 1
        assert samples[("epctl_unauthorized_total", labels(endpoint="device-list"))] == 1
        assert samples[("epctl_workflow_errors_total", labels(endpoint="ops-boom"))] == 1
        assert samples[("epctl_version_info", labels(version="develop", digest="", environment=""))] == 1
        assert not any("/" in found.get("endpoint", "") for found, _ in requests)  # ids, never paths
    finally:
        assert server.stop() == 0

    text = server.log_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    for secret_text in (token, API_KEY, secret):
        assert secret_text not in text
    access = [line for line in lines if line["logger"] == "epctl.access"]
    assert len(access) == sent  # one per request: gunicorn's own access line is off
    assert all(set(line) == ACCESS_FIELDS for line in access), access[0]
    by_id = {line["request_id"]: line for line in access}
    me = by_id["rid-me"]
    assert (me["endpoint_id"], me["route"], me["user"], me["status"]) == ("api-me", "/api/me", "ann", 200)
    assert (me["version"], me["method"], me["path"]) == ("develop", "GET", "/api/me")
    assert me["bytes"] > 0 and me["duration_ms"] >= 0
    assert by_id["rid-query"]["path"] == "/api/me?authorization=[redacted]"
    assert by_id["rid-key"]["path"] == "/api/devices?apikey=[redacted]"
    refused = by_id["rid-refused"]
    assert (refused["outcome"], refused["status"], refused["user"]) == ("unauthorized", 302, None)
    assert (by_id["rid-404"]["outcome"], by_id["rid-404"]["endpoint_id"]) == ("not-found", None)
    assert by_id["rid-boom"]["workflow_errors"] == 1
    (failure,) = [line for line in lines if line.get("exception") and "ops boom" in line["exception"]]
    assert (failure["request_id"], failure["endpoint_id"], failure["level"]) == (
        "rid-boom",
        "ops-boom",
        "ERROR",
    )
    assert failure["exception"].endswith("RuntimeError: ops boom")
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    assert any(line["logger"] == "epctl.serve" and "Serving" in line["message"] for line in lines)


def test_one_process_text_lines_and_its_admin_listener(sample: Path, secret: str, tmp_path: Path) -> None:
    """Without --workers: werkzeug's own request line gives way to the access line; metrics in-process."""
    add_files(sample, OPS_FILES)
    server = start_serve(sample, tmp_path, "--version", "v1.0.0", "--log-format", "text", "--admin-port", "0")
    try:
        wait_until_ready(server.admin)
        assert fetch(server.url + "/", {"X-Request-ID": "rid-home"})[0] == 200
        samples = scrape(server.admin)
        assert (
            samples[("epctl_requests_total", labels(endpoint="home", method="GET", status_class="2xx"))] == 1
        )
        info = labels(version="v1.0.0", digest=version_digest(sample), environment="")
        assert samples[("epctl_version_info", info)] == 1
        assert fetch(server.url + "/metrics")[0] == 404  # never on the site's own routes
    finally:
        server.stop()
    text = server.log_text()
    assert " GET / 200 " in text and "endpoint=home route=/ version=v1.0.0" in text
    assert "rid-home" in text
    assert '"GET / HTTP/1.1" 200' not in text  # werkzeug's own line is off
    assert "WARNING: This is a development server" in text and "\x1b[" not in text  # no colour codes
    # --port 0: epctl's line cannot know the port yet, and does not claim port 0; the server's says it.
    assert "v1.0.0 on http://127.0.0.1:(any free port)\n" in text
    assert f"Running on {server.url}" in text


def version_digest(project: Path) -> str:
    import tomllib

    with (project / "versions" / "v1.0.0.toml").open("rb") as file:
        digest = tomllib.load(file)["digest"]
    assert isinstance(digest, str)
    return digest
