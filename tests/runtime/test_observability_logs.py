"""Request ids, access records (fields, redaction) and the text and JSON log formats."""

from __future__ import annotations

import io
import json
import logging
import os
import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from epctl.runtime.observability.access_log import (
    MAX_FRAGMENTS,
    AccessLog,
    AccessRecord,
    Outcome,
    redact_query,
)
from epctl.runtime.observability.context import bind_request, current_request, unbind_request
from epctl.runtime.observability.logs import (
    InvalidLogFormatError,
    choose_log_format,
    configure_logging,
    parse_log_format,
)
from epctl.runtime.observability.request_ids import new_request_id, read_request_id

# 2026-11-23 09:15:02.041 UTC
ARRIVED = 1795425302.041


@pytest.fixture
def restore_epctl_logger() -> Iterator[None]:
    """configure_logging changes the process-wide `epctl` logger: put it back after the test."""
    logger = logging.getLogger("epctl")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def make_record(**changes: object) -> AccessRecord:
    fields: dict[str, object] = {
        "time": ARRIVED,
        "request_id": "req-1",
        "method": "GET",
        "path": "/devices/42",
        "query": "",
        "status": 200,
        "duration": 0.0123456,
        "route": "/devices/{id}",
        "endpoint_id": "device",
        "response_bytes": 512,
        "version": "v1.0.0",
        "environment": "production",
        "user": "ada",
    }
    fields.update(changes)
    return AccessRecord(**fields)  # type: ignore[arg-type]  # the test passes the right types


# -- request ids ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sent", ["abc-123", "x" * 128, "4bf92f3577b34da6a3ce929d0e0e4736", "a:b/c=d"])
def test_a_short_printable_request_id_is_kept(sent: str) -> None:
    assert read_request_id({"HTTP_X_REQUEST_ID": sent}) == sent


@pytest.mark.parametrize(
    "sent", ["", "x" * 129, "has space", "tab\there", "new\nline", "caf\u00e9", "bell\x07", "del\x7f"]
)
def test_an_unsafe_request_id_is_replaced(sent: str) -> None:
    made = read_request_id({"HTTP_X_REQUEST_ID": sent})
    assert re.fullmatch(r"[0-9a-f]{32}", made), made


def test_a_request_without_an_id_gets_a_new_one_each_time() -> None:
    first, second = read_request_id({}), read_request_id({})
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_new_request_ids_are_unique_across_threads() -> None:
    made: list[str] = []

    def make() -> None:
        made.extend(new_request_id() for _ in range(2000))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(set(made)) == len(made) == 8000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_makes_other_ids_than_its_parent() -> None:
    """gunicorn forks its workers from the process that loaded the app: each must have its own ids."""
    before = new_request_id()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send two ids, and leave without running anything of pytest's
        os.write(writer, f"{new_request_id()} {new_request_id()}".encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        child_ids = pipe.read().split()
    os.waitpid(pid, 0)
    after = new_request_id()
    assert len(child_ids) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", made) for made in child_ids)
    # The child starts its own random prefix (the first 16 digits), not the parent's next number.
    assert {made[:16] for made in child_ids} != {before[:16]}
    assert before[:16] == after[:16] and {before, after}.isdisjoint(child_ids)


# -- access records ---------------------------------------------------------------------------------
def test_json_fields_of_an_access_record() -> None:
    assert make_record().to_fields() == {
        "time": "2026-11-23T09:15:02.041Z",
        "level": "INFO",
        "logger": "epctl.access",
        "request_id": "req-1",
        "method": "GET",
        "path": "/devices/42",
        "route": "/devices/{id}",
        "endpoint_id": "device",
        "status": 200,
        "duration_ms": 12.346,
        "bytes": 512,
        "version": "v1.0.0",
        "environment": "production",
        "user": "ada",
        "outcome": None,
        "workflow_errors": 0,
    }


def test_text_line_of_an_access_record() -> None:
    assert make_record().to_text() == (
        "2026-11-23T09:15:02.041Z req-1 GET /devices/42 200 12.3ms 512B endpoint=device "
        "route=/devices/{id} version=v1.0.0 env=production user=ada"
    )


def test_text_line_counts_workflow_errors() -> None:
    assert make_record(status=500, workflow_errors=2).to_text().endswith(" user=ada workflow_errors=2")


def test_text_line_leaves_out_what_is_unknown() -> None:
    record = AccessRecord(ARRIVED, "r", "GET", "/nope", "", 404, 0.0001, outcome=Outcome.NOT_FOUND)
    assert record.to_text() == "2026-11-23T09:15:02.041Z r GET /nope 404 0.1ms - outcome=not-found"


def test_credentials_in_the_query_are_redacted() -> None:
    record = make_record(query="authorization=eyJhbGciOi.x.y&apikey=sample-mobile-key&page=2")
    expected = "/devices/42?authorization=[redacted]&apikey=[redacted]&page=2"
    assert record.to_fields()["path"] == expected
    assert f" {expected} " in record.to_text()
    assert "eyJ" not in record.to_text() + json.dumps(record.to_fields())
    assert "sample-mobile-key" not in record.to_text() + json.dumps(record.to_fields())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("APIKEY=k", "APIKEY=[redacted]"),  # any case
        ("api%6Bey=k", "api%6Bey=[redacted]"),  # percent-encoded names decode to `apikey`
        ("apikey=a&apikey=b", "apikey=[redacted]&apikey=[redacted]"),  # every repetition
        (
            "password=hunter2&token=t&access_token=t",
            "password=[redacted]&token=[redacted]&access_token=[redacted]",
        ),
        ("q=apikey&apikeys=1", "q=apikey&apikeys=1"),  # a value or a longer name is not a credential
        ("apikey", "apikey"),  # a name without a value has nothing to hide
    ],
)
def test_redaction_rules(query: str, expected: str) -> None:
    assert redact_query(query) == expected


def test_control_characters_and_spaces_in_a_path_are_escaped() -> None:
    record = make_record(path="/a b/\x1b[31m/\u00e9", query="", user="ada lovelace")
    assert record.to_fields()["path"] == "/a%20b/%1B[31m/%C3%A9"
    assert "user=ada%20lovelace" in record.to_text()


def test_a_long_path_is_cut() -> None:
    path = str(make_record(path="/" + "a" * 10_000).to_fields()["path"])
    assert len(path) == 2048 + 3 and path.endswith("...")


# -- formats ----------------------------------------------------------------------------------------
class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_on_a_terminal_json_otherwise() -> None:
    assert choose_log_format(FakeTTY()) == "text"
    assert choose_log_format(io.StringIO()) == "json"
    closed = io.StringIO()
    closed.close()
    assert choose_log_format(closed) == "json"


def test_parse_log_format() -> None:
    assert parse_log_format(" JSON ") == "json"
    with pytest.raises(InvalidLogFormatError) as caught:
        parse_log_format("xml")
    assert str(caught.value) == 'log format must be "text" or "json", not "xml"'


def test_access_log_writes_one_json_line_per_record() -> None:
    stream = io.StringIO()
    access = AccessLog("json", stream)
    access.write(make_record(query="apikey=k"))
    access.write(make_record(request_id="req-2"))
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == make_record(query="apikey=k").to_fields()
    assert first["path"] == "/devices/42?apikey=[redacted]"
    assert second["request_id"] == "req-2"


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"route": None, "endpoint_id": None, "response_bytes": None, "user": None, "version": None},
        {"user": 'quote" back\\slash \u00e9 \U0001f600 \x00 ctl', "request_id": 'a"b'},
        {"outcome": Outcome.BODY_TOO_LARGE, "status": 413, "workflow_errors": 3, "duration": 12.5},
        {"duration": 1e-9, "query": "authorization=t&x=\u00e9"},
    ],
)
def test_the_json_line_is_exactly_the_fields(changes: dict[str, object]) -> None:
    record = make_record(**changes)
    assert json.loads(record.to_json()) == record.to_fields()
    assert record.to_json().isascii()


@pytest.mark.parametrize(
    ("route", "endpoint_id", "version", "environment"),
    [
        ("/devices/{id}", "device", "v1.0.0", "production"),
        (None, None, None, None),
        ('/q/"{id}"', "caf\u00e9\\", "v\n2", "\u2603"),
        ("/a", None, "develop", None),
    ],
)
def test_the_json_line_is_json_dumps_of_the_fields(
    route: str | None, endpoint_id: str | None, version: str | None, environment: str | None
) -> None:
    """Byte for byte, the first time and when the repeated values are remembered (the record's
    duration, 12.346 ms, is written alike by json.dumps and by to_json's three decimals)."""
    record = make_record(route=route, endpoint_id=endpoint_id, version=version, environment=environment)
    expected = json.dumps(record.to_fields(), separators=(",", ":"))
    assert record.to_json() == expected
    assert record.to_json() == expected


def test_json_lines_stay_right_past_the_remembered_fragments() -> None:
    for number in range(MAX_FRAGMENTS + 10):
        record = make_record(route=f"/r{number}", endpoint_id=f"e{number}", version=f"v{number}")
        line = json.loads(record.to_json())
        assert (line["route"], line["endpoint_id"], line["version"]) == (
            f"/r{number}",
            f"e{number}",
            f"v{number}",
        )


def test_the_json_duration_is_the_rounded_one_for_any_duration() -> None:
    rng = random.Random(7)
    durations = [rng.uniform(0, 0.01) for _ in range(2000)] + [rng.uniform(0, 40) for _ in range(2000)]
    durations += [0.0, 0.0005, 0.0015, 0.0025, 1e-7, 123456.0005]
    for duration in durations:
        record = make_record(duration=duration)
        assert json.loads(record.to_json())["duration_ms"] == record.to_fields()["duration_ms"], duration


def test_a_file_gets_whole_lines_after_what_was_written_before(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    with path.open("w", encoding="utf-8") as stream:
        stream.write("written before\n")  # still in the stream's buffer
        access = AccessLog("text", stream)
        access.write(make_record(user="\u00e9mile"))
        access.write(make_record(request_id="req-2"))
    before, first, second = path.read_text(encoding="utf-8").splitlines()
    assert before == "written before"
    assert first.endswith(" user=%C3%A9mile") and " req-2 " in second


def test_a_stream_that_fails_loses_the_line_quietly() -> None:
    closed = io.StringIO()
    closed.close()
    AccessLog("json", closed).write(make_record())  # no exception: the request was served


@pytest.mark.usefixtures("restore_epctl_logger")
def test_a_workflow_traceback_carries_the_request_and_endpoint_ids() -> None:
    stream = io.StringIO()
    configure_logging("json", stream)
    context, token = bind_request("req-7")
    context.endpoint_id = "api.devices"
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("epctl.runtime").exception('workflow "w" failed')
    finally:
        unbind_request(token)
    assert current_request() is None
    fields = json.loads(stream.getvalue())
    assert fields["level"] == "ERROR"
    assert fields["logger"] == "epctl.runtime"
    assert fields["message"] == 'workflow "w" failed'
    assert (fields["request_id"], fields["endpoint_id"]) == ("req-7", "api.devices")
    assert fields["exception"].startswith("Traceback (most recent call last):")
    assert fields["exception"].endswith("RuntimeError: boom")


@pytest.mark.usefixtures("restore_epctl_logger")
def test_text_format_of_errors_and_access_lines() -> None:
    stream = io.StringIO()
    configure_logging("text", stream)
    _, token = bind_request("req-8")
    try:
        logging.getLogger("epctl.runtime").error("no reply")
        AccessLog("text", stream).write(make_record(request_id="req-8", status=500))
    finally:
        unbind_request(token)
    logging.getLogger("epctl.runtime").info("outside")
    error, access, outside = stream.getvalue().splitlines()
    assert re.fullmatch(r"\S+Z ERROR epctl\.runtime \[req-8\]: no reply", error), error
    assert access.startswith("2026-11-23T09:15:02.041Z req-8 GET /devices/42 500 ")
    assert re.fullmatch(r"\S+Z INFO epctl\.runtime: outside", outside), outside


@pytest.mark.usefixtures("restore_epctl_logger")
def test_configuring_twice_writes_each_line_once() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", first)
    configure_logging("json", second)
    logging.getLogger("epctl.runtime").warning("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1
