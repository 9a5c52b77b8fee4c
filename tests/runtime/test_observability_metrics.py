"""Prometheus metrics: what a request counts, the multiprocess directory, and the admin listener."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from epctl.runtime.observability.access_log import AccessRecord, Outcome
from epctl.runtime.observability.admin import AdminServerError, create_admin_app, start_admin_server
from epctl.runtime.observability.metrics import (
    MAX_RAW_LABELS,
    Metrics,
    MetricsDirectory,
    create_registry,
    served_versions,
)

SUBPROCESS_SECONDS = 60

# Each argument of a worker's script: method, endpoint id ("" for none), status, outcome, workflow errors.
WORKER = """
import sys
from epctl.runtime.observability.access_log import AccessRecord, Outcome
from epctl.runtime.observability.metrics import Metrics

metrics = Metrics("v1.0.0", "sha256:abc", "production")
for line in sys.argv[1:]:
    method, endpoint, status, outcome, errors = line.split(",")
    metrics.observe(AccessRecord(
        0.0, "r", method, "/p", "", int(status), 0.002, endpoint_id=endpoint or None,
        outcome=Outcome(outcome) if outcome else None, workflow_errors=int(errors),
    ))
print("done", flush=True)
"""


def run_worker(directory: Path, requests: list[str]) -> subprocess.Popen[str]:
    """Start a process that counts `requests` (see WORKER) into the multiprocess `directory`."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, *requests], stdout=subprocess.PIPE, text=True, env=env
    )


def scrape(client: Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Return {(sample name, labels): value} of the admin app's /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def record(**fields: object) -> AccessRecord:
    base: dict[str, object] = {
        "time": 0.0,
        "request_id": "r",
        "method": "GET",
        "path": "/p",
        "query": "",
        "status": 200,
        "duration": 0.003,
    }
    base.update(fields)
    return AccessRecord(**base)  # type: ignore[arg-type]  # the test passes the right types


# -- two processes, one scrape ---------------------------------------------------------------------
def test_counts_of_two_processes_are_summed_in_one_scrape(tmp_path: Path) -> None:
    first = run_worker(
        tmp_path,
        ["GET,device,200,,0"] * 3 + ["GET,,404,not-found,0", "DELETE,device,405,method-not-allowed,0"],
    )
    second = run_worker(
        tmp_path,
        ["GET,device,200,,0"] * 2
        + ["GET,me,401,unauthorized,0", "GET,admin,403,forbidden,0", "POST,upload,413,body-too-large,0"]
        + ["POST,device,500,,2", "BREW,,404,not-found,0"],
    )
    for process in (first, second):
        out, _ = process.communicate(timeout=SUBPROCESS_SECONDS)
        assert (process.returncode, out) == (0, "done\n")

    samples = scrape(Client(create_admin_app(lambda: True, metrics_directory=tmp_path)))
    total = "epctl_requests_total"
    assert value(samples, total, endpoint="device", method="GET", status_class="2xx") == 5
    assert value(samples, total, endpoint="", method="GET", status_class="4xx") == 1
    assert value(samples, total, endpoint="", method="other", status_class="4xx") == 1  # BREW
    assert value(samples, total, endpoint="device", method="POST", status_class="5xx") == 1
    assert sum(v for (name, _), v in samples.items() if name == total) == 12
    assert value(samples, "epctl_request_duration_seconds_count", endpoint="device", method="GET") == 5
    assert (
        value(samples, "epctl_request_duration_seconds_bucket", endpoint="device", method="GET", le="0.001")
        == 0
    )
    assert (
        value(samples, "epctl_request_duration_seconds_bucket", endpoint="device", method="GET", le="0.0025")
        == 5
    )
    assert value(samples, "epctl_not_found_total") == 2
    assert value(samples, "epctl_method_not_allowed_total") == 1
    assert value(samples, "epctl_unauthorized_total", endpoint="me") == 1
    assert value(samples, "epctl_forbidden_total", endpoint="admin") == 1
    assert value(samples, "epctl_body_too_large_total", endpoint="upload") == 1
    assert value(samples, "epctl_workflow_errors_total", endpoint="device") == 2
    info = {"version": "v1.0.0", "digest": "sha256:abc", "environment": "production"}
    assert value(samples, "epctl_version_info", **info) == 1


def test_a_scrape_passes_over_a_metric_file_not_yet_sized(tmp_path: Path) -> None:
    # A worker creates its file empty and sizes it a moment later; one killed in between leaves it
    # empty for good. prometheus_client's own collector fails every scrape on it (struct.error).
    process = run_worker(tmp_path, ["GET,device,200,,0"])
    process.communicate(timeout=SUBPROCESS_SECONDS)
    (tmp_path / "counter_999999.db").touch()

    samples = scrape(Client(create_admin_app(lambda: True, metrics_directory=tmp_path)))

    assert value(samples, "epctl_requests_total", endpoint="device", method="GET", status_class="2xx") == 1


def test_an_exited_process_leaves_its_counts_and_takes_its_version_along(tmp_path: Path) -> None:
    process = run_worker(tmp_path, ["GET,device,200,,0"])
    process.communicate(timeout=SUBPROCESS_SECONDS)
    directory = MetricsDirectory(tmp_path, owned=False)
    registry = create_registry(tmp_path)
    assert served_versions(registry) == [
        {"version": "v1.0.0", "digest": "sha256:abc", "environment": "production"}
    ]

    directory.mark_process_dead(process.pid)  # what gunicorn's child_exit hook does

    assert served_versions(registry) == []
    samples = scrape(Client(create_admin_app(lambda: True, metrics_directory=tmp_path)))
    assert value(samples, "epctl_requests_total", endpoint="device", method="GET", status_class="2xx") == 1


# -- several processes: counted in memory, written every tenth of a second ---------------------------
STAY = """
import sys
from epctl.runtime.observability.access_log import AccessRecord
from epctl.runtime.observability.metrics import Metrics

metrics = Metrics("v1.0.0")
for _ in range(3):
    metrics.observe(AccessRecord(0.0, "r", "GET", "/p", "", 200, 0.002, endpoint_id="device"))
print("counted", flush=True)
sys.stdin.read()  # a worker that serves on: no exit writes its counts
"""


def test_a_worker_that_serves_on_has_its_counts_in_the_next_scrapes(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-c", STAY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "counted\n"
        client = Client(create_admin_app(lambda: True, metrics_directory=tmp_path))
        deadline = time.monotonic() + SUBPROCESS_SECONDS
        counts, sums = [], []
        while time.monotonic() < deadline:
            samples = scrape(client)
            counts.append(
                value(samples, "epctl_requests_total", endpoint="device", method="GET", status_class="2xx")
            )
            sums.append(value(samples, "epctl_request_duration_seconds_sum", endpoint="device", method="GET"))
            # The count and the sum are two values, written one after the other: a scrape may fall
            # between them.
            if counts[-1] == 3 and sums[-1] == pytest.approx(0.006):
                break
            time.sleep(0.02)
        assert counts[-1] == 3 and set(counts) <= {0, 3}, counts  # the three requests written at once
        assert sums[-1] == pytest.approx(0.006) and len(set(sums)) <= 2, sums
    finally:
        process.communicate(timeout=SUBPROCESS_SECONDS)


def test_a_forked_worker_writes_its_own_requests_not_those_its_parent_had_tallied(tmp_path: Path) -> None:
    result = run_python(
        """
        import os, sys
        from epctl.runtime.observability.access_log import AccessRecord
        from epctl.runtime.observability.metrics import Metrics

        metrics = Metrics("v1.0.0")
        def serve(endpoint):
            metrics.observe(AccessRecord(0.0, "r", "GET", "/p", "", 200, 0.002, endpoint_id=endpoint))

        for _ in range(3):
            serve("parent")  # tallied, not yet written
        worker = os.fork()
        if worker == 0:
            serve("child")
            sys.exit(0)  # a worker stopping: what it tallied is written as it exits
        os.waitpid(worker, 0)
        """,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    samples = scrape(Client(create_admin_app(lambda: True, metrics_directory=tmp_path)))
    requests = {
        dict(labels)["endpoint"]: count
        for (name, labels), count in samples.items()
        if name == "epctl_requests_total"
    }
    assert requests == {"parent": 3, "child": 1}


# -- preparing the directory -----------------------------------------------------------------------
def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=SUBPROCESS_SECONDS,
    )


def test_a_launcher_without_a_directory_gets_a_temporary_one_for_its_workers() -> None:
    result = run_python("""
        import os
        from epctl.runtime.observability.metrics import Metrics, prepare_metrics_directory

        directory = prepare_metrics_directory()
        assert directory.owned and os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory.path)
        worker = os.fork()
        if worker == 0:  # a worker inherits the variable and writes files of its own
            Metrics("v1")
            os._exit(0)
        os.wait()
        print(sorted(p.name.replace(str(worker), "PID") for p in directory.path.iterdir()))
        directory.remove()
        print(directory.path.exists())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['counter_PID.db', 'gauge_livemax_PID.db']", "False"]


def test_a_named_directory_is_emptied_of_metric_files_only_at_start(tmp_path: Path) -> None:
    named = tmp_path / "metrics"
    named.mkdir()
    (named / "counter_1.db").write_bytes(b"stale")
    (named / "notes.txt").write_text("mine")
    result = run_python(
        """
        from epctl.runtime.observability.metrics import prepare_metrics_directory

        directory = prepare_metrics_directory()
        print(directory.owned, sorted(p.name for p in directory.path.iterdir()))
        (directory.path / "counter_2.db").write_bytes(b"")  # what a worker of this run wrote
        directory.remove()
        """,
        PROMETHEUS_MULTIPROC_DIR=str(named),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False ['notes.txt']\n"
    # Stopping leaves a named directory as it is: the next start empties it.
    assert sorted(p.name for p in named.iterdir()) == ["counter_2.db", "notes.txt"]


def test_preparing_after_prometheus_client_was_imported_is_refused() -> None:
    result = run_python("""
        import prometheus_client
        from epctl.runtime.observability.metrics import MetricsSetupError, prepare_metrics_directory

        try:
            prepare_metrics_directory()
        except MetricsSetupError as err:
            print(err)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set, so each worker would "
        "count alone: prepare the metrics directory before importing it (or set the variable before "
        "starting the server)\n"
    )


def test_an_unusable_named_directory_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_python(
        """
        from epctl.runtime.observability.metrics import MetricsSetupError, prepare_metrics_directory

        try:
            prepare_metrics_directory()
        except MetricsSetupError as err:
            print(err)
        """,
        PROMETHEUS_MULTIPROC_DIR=str(blocker / "metrics"),
    )
    assert result.stdout == (
        f"cannot use {blocker}/metrics as the metrics directory (Not a directory): "
        "set PROMETHEUS_MULTIPROC_DIR to a writable directory\n"
    )


# -- one process ------------------------------------------------------------------------------------
def test_one_process_counts_into_its_own_registry() -> None:
    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    labels = {"endpoint": "single.device", "method": "GET", "status_class": "2xx"}
    before = count("epctl_requests_total", **labels)
    metrics = Metrics("v9", "sha256:single", "staging")
    metrics.observe(record(endpoint_id="single.device"))
    metrics.observe(record(endpoint_id="single.device"))
    metrics.observe(record(endpoint_id="single.me", status=401, outcome=Outcome.UNAUTHORIZED))
    assert count("epctl_requests_total", **labels) == before + 2
    assert count("epctl_unauthorized_total", endpoint="single.me") >= 1
    info = {"version": "v9", "digest": "sha256:single", "environment": "staging"}
    assert count("epctl_version_info", **info) == 1
    assert info in served_versions(create_registry())

    metrics.retire()  # develop rebuilt: the old digest is no longer served

    assert info not in served_versions(create_registry())


def test_durations_land_in_the_buckets_histogram_observe_would_choose() -> None:
    """`Metrics` writes the histogram's values directly; a bound is inclusive, past the last is +Inf."""
    from prometheus_client import CollectorRegistry, Histogram

    from epctl.runtime.observability.metrics import DURATION_BUCKETS

    durations = [0.0, 0.0005, 0.001, 0.0010001, 0.7, 30.0, 31.0, 0.001, 2.5]
    reference = Histogram("reference", "", buckets=DURATION_BUCKETS, registry=CollectorRegistry())
    metrics = Metrics("v9")
    for duration in durations:
        reference.observe(duration)
        metrics.observe(record(endpoint_id="bucket.check", duration=duration))

    def ours(suffix: str, **labels: str) -> float:
        found = {"endpoint": "bucket.check", "method": "GET", **labels}
        return REGISTRY.get_sample_value(f"epctl_request_duration_seconds{suffix}", found) or 0.0

    compared = [sample for sample in reference.collect()[0].samples if sample.name != "reference_created"]
    assert len(compared) == len(DURATION_BUCKETS) + 3  # each bucket, +Inf, _count, _sum
    for sample in compared:
        extra = {"le": sample.labels["le"]} if "le" in sample.labels else {}
        assert ours(sample.name.removeprefix("reference"), **extra) == sample.value, sample


def test_a_made_up_status_is_counted_as_other() -> None:
    labels = {"endpoint": "odd.status", "method": "GET", "status_class": "other"}
    before = REGISTRY.get_sample_value("epctl_requests_total", labels) or 0.0
    Metrics("v9").observe(record(endpoint_id="odd.status", status=999))
    assert REGISTRY.get_sample_value("epctl_requests_total", labels) == before + 1


def test_made_up_methods_past_the_remembered_label_sets_are_each_counted_as_other() -> None:
    labels = {"endpoint": "odd.method", "method": "other", "status_class": "4xx"}
    before = REGISTRY.get_sample_value("epctl_requests_total", labels) or 0.0
    metrics = Metrics("v9")
    made_up = MAX_RAW_LABELS + 10
    for n in range(made_up):
        metrics.observe(record(endpoint_id="odd.method", method=f"BREW{n}", status=405))
    assert REGISTRY.get_sample_value("epctl_requests_total", labels) == before + made_up


# -- the admin app ----------------------------------------------------------------------------------
def test_liveness_and_readiness() -> None:
    ready = False
    client = Client(create_admin_app(lambda: ready))
    assert (client.get("/livez").status_code, client.get("/livez").text) == (200, "ok\n")
    assert (client.get("/readyz").status_code, client.get("/readyz").text) == (503, "not ready\n")
    ready = True
    assert (client.get("/readyz").status_code, client.get("/readyz").text) == (200, "ready\n")


def test_a_failing_readiness_check_is_not_ready_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> bool:
        raise ConnectionError("database down")

    with caplog.at_level(logging.ERROR, logger="epctl.runtime"):
        response = Client(create_admin_app(broken)).get("/readyz")
    assert response.status_code == 503
    assert caplog.records[-1].getMessage() == "the readiness check failed; answering /readyz with 503"


def test_the_admin_app_serves_only_its_three_paths() -> None:
    client = Client(create_admin_app(lambda: True))
    response = client.get("/")
    assert (response.status_code, response.text) == (
        404,
        "not found: the admin listener serves /metrics, /livez and /readyz\n",
    )
    response = client.post("/metrics")
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD")
    response = client.head("/metrics")
    assert (response.status_code, response.data) == (200, b"")
    assert client.head("/livez").data == b""


def test_metrics_of_this_process_without_a_directory() -> None:
    Metrics("v9").observe(record(endpoint_id="no.dir"))
    text = Client(create_admin_app(lambda: True)).get("/metrics").text
    assert 'epctl_requests_total{endpoint="no.dir",method="GET",status_class="2xx"}' in text


# -- the admin listener ----------------------------------------------------------------------------
def test_the_admin_listener_serves_on_its_own_port() -> None:
    admin = start_admin_server(create_admin_app(lambda: True))
    try:
        assert admin.port > 0
        with urllib.request.urlopen(admin.url + "/readyz", timeout=10) as response:
            assert (response.status, response.read()) == (200, b"ready\n")
        with pytest.raises(AdminServerError) as caught:
            start_admin_server(create_admin_app(lambda: True), port=admin.port)
        assert str(caught.value) == (
            f"the admin listener cannot listen on 127.0.0.1:{admin.port} (Address already in use): "
            "choose another admin port"
        )
    finally:
        admin.stop()
    deadline = time.monotonic() + 5
    with pytest.raises(urllib.error.URLError):
        while time.monotonic() < deadline:
            urllib.request.urlopen(admin.url + "/livez", timeout=1).close()
