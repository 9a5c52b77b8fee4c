"""Issue 11, must-show 3: under `epctl serve --workers 2` (real gunicorn, gthread workers), a 300 MB
body is refused with 413 while the workers' memory stays flat, and slow clients do not stop a normal
request from being served. Bounded by socket timeouts; nothing here measures time."""

from __future__ import annotations

import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Serve
from tests.conftest import WriteProject

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
BIG_BODY = 300 * MB
CHUNK = 256 * 1024
# What a worker may grow by while refusing the body: far below the body, above the noise of one request
# (the allocator, a thread's stack). Before the limit a 300 MB body grew a worker by 580 MB.
FLAT = 32 * MB
SOCKET_TIMEOUT = 30  # seconds one socket operation may take before the test fails

ECHO_PROJECT = {
    "endpoints/api.toml": """
        [[endpoint]]
        id = "echo"
        method = "POST"
        route = "/echo"

        [[endpoint]]
        id = "ping"
        method = "GET"
        route = "/ping"
        reply = { type = "page", page = "pong" }
    """,
    "pages/pages.toml": """
        [[page]]
        name = "pong"
        body = "pong"
        content_type = "text/plain"
    """,
    "workflows/echo.toml": """
        [[workflow]]
        name = "echo"
        handler = "echo.py:echo"
        endpoints = ["echo"]
    """,
    "workflows/echo.py": """
        def echo(request):
            return {"length": len(request.body or "")}
    """,
}


def address_of(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def memory_of(pid: int) -> dict[str, int]:
    """Return VmRSS (resident now) and VmHWM (resident at its peak) of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    kilobytes = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB$", status, re.M))
    return {name: int(kilobytes[name]) * 1024 for name in ("VmRSS", "VmHWM")}


def workers_of(pid: int) -> list[int]:
    """Return the pids of the processes whose parent is `pid` (gunicorn's workers of its arbiter)."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue  # a process that ended while we looked
        if re.search(rf"^PPid:\s+{pid}$", text, re.M):
            children.append(int(status.parent.name))
    return sorted(children)


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Read one response (status and everything up to the headers' end and the Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while length and len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def post_streamed(url: str, path: str, body: Iterator[bytes], headers: dict[str, str]) -> tuple[int, bytes]:
    """POST a body from a generator as a careful client does: keep sending until the server answers,
    then stop and read the answer. A server that closes the connection early ends the sending too."""
    with socket.create_connection(address_of(url), timeout=SOCKET_TIMEOUT) as sock:
        fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\n{fields}\r\n".encode())
        for chunk in body:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the answer came before the body was sent: stop sending, as curl does
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server stopped reading; its answer may still be there to read
        try:
            return read_response(sock)
        except ConnectionResetError:
            return 0, b""


def zeros(total: int) -> Iterator[bytes]:
    chunk = b"0" * CHUNK
    for _ in range(total // CHUNK):
        yield chunk


def chunked(parts: Iterator[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


@pytest.fixture
def echo_server(serve: Serve, write_project: WriteProject) -> tuple[str, list[int]]:
    """`epctl serve --workers 2` of a project with a public workflow endpoint: its URL and worker pids,
    each worker warmed up (imports done, the body path run once)."""
    url = serve("--workers", "2", project=write_project(ECHO_PROJECT))
    # gunicorn listens before its workers have forked: wait (bounded) until both are there.
    workers = workers_of(serve.processes[-1].pid)
    for _ in range(300):
        if len(workers) == 2:
            break
        time.sleep(0.1)
        workers = workers_of(serve.processes[-1].pid)
    assert len(workers) == 2
    for _ in range(8):  # the arbiter hands connections to either worker: warm both
        status, body = post_streamed(
            url, "/echo", iter([b'{"a": 1}']), {"Content-Type": "application/json", "Content-Length": "8"}
        )
        assert (status, body) == (200, b'{"length":1}')
    return url, workers


@pytest.mark.timeout(300)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_300_mb_body_is_refused_with_413_and_the_workers_stay_flat(
    echo_server: tuple[str, list[int]], framing: str
) -> None:
    url, workers = echo_server
    before = {pid: memory_of(pid) for pid in workers}
    if framing == "content-length":
        headers = {"Content-Type": "application/json", "Content-Length": str(BIG_BODY)}
        body = zeros(BIG_BODY)
    else:
        headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        body = chunked(zeros(BIG_BODY))
    status, answer = post_streamed(url, "/echo", body, headers)
    assert (status, answer) == (413, b'{"error":"Request body too large"}')
    after = {pid: memory_of(pid) for pid in workers}
    # Printed for the record (pytest -s): the figures issue 11 asks for.
    print(f"\n{framing}: worker memory before {before} after {after}")
    for pid in workers:
        assert after[pid]["VmRSS"] - before[pid]["VmRSS"] < FLAT, (before, after)
        assert after[pid]["VmHWM"] - before[pid]["VmHWM"] < FLAT, (before, after)
    # Both workers still serve.
    for _ in range(4):
        status, _ = post_streamed(url, "/echo", iter([b"{}"]), {"Content-Length": "2"})
        assert status == 200


@pytest.mark.timeout(120)
def test_two_slow_clients_do_not_stop_a_third_request(echo_server: tuple[str, list[int]]) -> None:
    """One client drips its request line and headers a byte at a time and never ends them; another
    connects and sends nothing. Each holds at most one thread of a gthread worker (with gunicorn's sync
    workers, these two took both workers until the timeout), so a normal request is still served."""
    url, _ = echo_server
    address = address_of(url)
    dripping = socket.create_connection(address, timeout=SOCKET_TIMEOUT)
    silent = socket.create_connection(address, timeout=SOCKET_TIMEOUT)
    try:
        request_line = b"GET /ping HTTP/1.1\r\nHost: test\r\nX-Slow: "
        for index in range(len(request_line)):
            dripping.sendall(request_line[index : index + 1])
            time.sleep(0.02)  # a pace, not a measurement: the headers stay unfinished
        for _ in range(3):
            # A normal client, served while the two others still hold their connections.
            with socket.create_connection(address, timeout=SOCKET_TIMEOUT) as normal:
                normal.sendall(b"GET /ping HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                assert read_response(normal) == (200, b"pong")
            dripping.sendall(b"x")  # still dripping
    finally:
        dripping.close()
        silent.close()
