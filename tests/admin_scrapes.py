"""Talking to a served experience and its admin listener from an end-to-end test: fetch a URL (no
redirects followed), wait until `/readyz` answers, scrape `/metrics` into samples."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

# How long a server may take to get ready, and the workers to write their counts.
START_SECONDS = 30

Reply = tuple[int, dict[str, str], str]


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Reply:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def wait_until_ready(admin: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if fetch(admin + "/readyz")[0] == 200:
            return
        time.sleep(0.05)
    raise AssertionError("the admin listener never answered /readyz with 200")


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(admin: str) -> Samples:
    status, _, text = fetch(admin + "/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape_counted(admin: str, requests: int) -> Samples:
    """Scrape once `epctl_requests_total` sums to `requests`: each worker writes the requests it
    counted every tenth of a second, so the last ones may take that long to show."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        samples = scrape(admin)
        counted = sum(value for (name, _), value in samples.items() if name == "epctl_requests_total")
        if counted >= requests or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def served_versions(samples: Samples) -> set[str]:
    return {
        dict(found)["version"]
        for (name, found), value in samples.items()
        if name == "epctl_version_info" and value > 0
    }
