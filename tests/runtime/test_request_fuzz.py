"""Whatever a caller sends, the sample's app answers it as a client error or a reply, never with a
server error or a trace of its code: hypothesis builds requests from the sample's routes with broken
escapes, odd methods, bad charsets, deep JSON and junk credentials (schemathesis, beside this, sends
what the OpenAPI document describes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from epctl.runtime import EpctlApp, create_app
from tests.conftest import SAMPLE, SECRET

# fmt: off
PATHS = [
    "/", "/welcome", "/login", "/logout", "/admin", "/api/devices", "/api/devices/soil-7",
    "/api/devices/soil-7/readings", "/api/exports/report.csv", "/api/nope/x", "/maintenance",
    "/static/site.css", "/static/favicon.png", "/static/", "//", "/api/devices?apikey=sample-mobile-key",
    # params that do not decode, and encoded slashes and dots
    "/api/devices/%FF", "/api/exports/r%FF.csv", "/api/devices/a%2Fb/readings", "/api/%2e%2e/devices",
    "/api/devices/soil-7/readings?limit=%FF&limit=2",
]
PIECES = [
    "%", "%2", "%zz", "%FF", "%00", "%2F", "%2e%2e", "..", "/", "?", "#", "&", "=", ";", "*", "{id}", "é",
    "%C3%A9", "a" * 300, "apikey=sample-mobile-key", "authorization=x.y.z",
]
METHODS = ["GET", "GET", "GET", "HEAD", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW", "get"]
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-16", "application/json; charset=nope",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "multipart/form-data",
    "text/plain; charset=idna", "",
]
BODIES = [
    b"", b"{}", b"[]", b"null", b"1e99999", b"\xff\xfe", b'{"a":' * 100, b'"' + b"a" * 10_000 + b'"',
    b"email=a%40b&password=x", b'{"name": "x", "kind": 5}',
    b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n',
]
HEADERS = {
    "Authorization": ["Bearer x.y.z", "Bearer ", "sample-mobile-key", "Basic Zm9v", "e30.e30.e30"],
    "Cookie": ["authorization=x", "authorization=" + "a" * 5000, "a=b; authorization=e30.e30.e30"],
    "Session": ["x", ""],
    "Origin": ["https://evil.example", "null"],
    "Access-Control-Request-Method": ["PUT", "BREW"],
    "X-Request-ID": ["a b", "x" * 200, "ok-id"],
    "Accept-Encoding": ["gzip", "br;q=0"],
    "If-None-Match": ['"x"', "*"],
}
# fmt: on


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EPCTL_SECRET", SECRET)
        app: EpctlApp = create_app(SAMPLE)
        yield Client(app)


@st.composite
def paths(draw: st.DrawFn) -> str:
    """Return a route of the sample as it is (half the time) or with one or two pieces inserted."""
    path = draw(st.sampled_from(PATHS))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        at = draw(st.integers(min_value=0, max_value=len(path)))
        path = path[:at] + draw(st.sampled_from(PIECES)) + path[at:]
    return path


headers = st.dictionaries(
    st.sampled_from(list(HEADERS)), st.sampled_from([v for values in HEADERS.values() for v in values])
)


@pytest.mark.timeout(300)
@settings(
    max_examples=600,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(METHODS),
    path=paths(),
    extra=headers,
    content_type=st.sampled_from(CONTENT_TYPES),
    body=st.sampled_from(BODIES),
)
def test_no_request_gets_a_server_error_or_a_trace(
    client: Client, method: str, path: str, extra: dict[str, str], content_type: str, body: bytes
) -> None:
    response = client.open(path, method=method, headers={**extra, "Content-Type": content_type}, data=body)
    text = response.get_data()
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: what the requests reached
    # 503 is the sample's own maintenance page; 504 a deadline, which no request here can reach.
    assert response.status_code < 500 or response.status_code == 503, (response.status, text[:300])
    assert b"Traceback" not in text
    assert b'File "' not in text
