"""Prometheus metrics of the requests an app serves, correct under gunicorn's several workers.

One `Metrics` object per app; the app calls `observe(record)` once per request and holds None when
metrics are off, so an app without them pays nothing, not even the import of `prometheus_client`.

Several processes (gunicorn's workers) each count their own requests; prometheus_client's
multiprocess mode has every process write its values to files in one directory, and a scrape sums
them. That mode is chosen when `prometheus_client` is first imported, from `PROMETHEUS_MULTIPROC_DIR`:
so the server launcher calls `prepare_metrics_directory` first, before anything imports the client,
and every worker it forks inherits the variable. This module imports the client only inside its
functions for that reason.

Metrics (labels in braces):
- `epctl_requests_total{endpoint,method,status_class}` and `epctl_request_duration_seconds{endpoint,
  method}`: every request. `endpoint` is the endpoint id, "" when none matched; never the raw path.
- `epctl_not_found_total`, `epctl_method_not_allowed_total`, `epctl_unauthorized_total{endpoint}`,
  `epctl_forbidden_total{endpoint}`, `epctl_body_too_large_total{endpoint}`,
  `epctl_workflow_errors_total{endpoint}` (each workflow that raised).
- `epctl_version_info{version,digest,environment}` = 1 for each version a live process serves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from epctl.runtime.observability.access_log import AccessFields, Outcome
from epctl.runtime.observability.flushing import FLUSHER
from epctl.runtime.process_id import current_pid
from epctl.schemas.problems import EpctlError
from epctl.schemas.routing import METHODS

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.metrics_core import Metric

log = logging.getLogger("epctl.runtime")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Methods outside this set are counted as "other": a label value per method a caller makes up would
# let anyone grow the metrics without bound.
COUNTED_METHODS = frozenset({*METHODS, "HEAD"})
OTHER = "other"
# From 1 ms (a JSON workflow reply takes well under that) to 30 s (the default request timeout).
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
VERSION_INFO = "epctl_version_info"
_STATUS_CLASSES = ("", "1xx", "2xx", "3xx", "4xx", "5xx")
MAX_RAW_LABELS = 4096


class MetricsSetupError(EpctlError):
    """The metrics directory cannot be used, or was prepared too late to take effect."""


@dataclass(frozen=True, slots=True)
class MetricsDirectory:
    """The directory of prometheus_client's multiprocess mode. `owned`: created by
    `prepare_metrics_directory`, so `remove` deletes it; a directory the user named is only emptied."""

    path: Path
    owned: bool

    def mark_process_dead(self, pid: int) -> None:
        """Drop the live values (the version info) of the exited process `pid`; its counts stay summed."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(self.path))  # type: ignore[no-untyped-call]  # unannotated upstream

    def remove(self) -> None:
        """Delete the directory, metric files and all, when it was created here (a server stopping).

        A directory the user named is left as it is: the next start empties it.
        """
        if not self.owned:
            return
        clear_metric_files(self.path)
        # Anything else put there stays, and so does the directory: never delete what is not ours.
        with contextlib.suppress(OSError):
            self.path.rmdir()


def prepare_metrics_directory(environ: MutableMapping[str, str] | None = None) -> MetricsDirectory:
    """Return the multiprocess metrics directory for a server about to start, set up for this run.

    With `PROMETHEUS_MULTIPROC_DIR` set, that directory (created if missing) with the metric files of
    an earlier run removed: prometheus_client requires an empty one at start. Unset, a new temporary
    directory, and the variable is set to it so that forked workers inherit it.

    Raises MetricsSetupError when the directory cannot be created, or when prometheus_client was
    already imported without the variable: its values would then stay per process and a scrape would
    show one worker's share.
    """
    environ = os.environ if environ is None else environ
    named = environ.get(MULTIPROCESS_ENV)
    try:
        if named:
            # Absolute: a worker that changes directory (gunicorn's --chdir) must find the same one.
            path, owned = Path(named).resolve(), False
            path.mkdir(parents=True, exist_ok=True)
            clear_metric_files(path)
        else:
            path, owned = Path(tempfile.mkdtemp(prefix="epctl-metrics-")), True
    except OSError as err:
        raise MetricsSetupError(
            f"cannot use {named} as the metrics directory ({err.strerror}): "
            f"set {MULTIPROCESS_ENV} to a writable directory"
        ) from None
    environ[MULTIPROCESS_ENV] = str(path)
    values = sys.modules.get("prometheus_client.values")
    if values is not None and values.ValueClass is values.MutexValue:
        raise MetricsSetupError(
            f"prometheus_client was imported before {MULTIPROCESS_ENV} was set, so each worker would "
            "count alone: prepare the metrics directory before importing it (or set the variable "
            "before starting the server)"
        )
    return MetricsDirectory(path, owned)


def clear_metric_files(path: Path) -> None:
    """Remove prometheus_client's files (`*.db`) from `path`; a missing directory is already clear."""
    for file in path.glob("*.db"):
        file.unlink(missing_ok=True)


def multiprocess_directory() -> str | None:
    """Return the multiprocess directory this process was started with, or None."""
    return os.environ.get(MULTIPROCESS_ENV) or None


@dataclass(frozen=True, slots=True)
class _Families:
    requests: Counter
    duration: Histogram
    not_found: Counter
    method_not_allowed: Counter
    unauthorized: Counter
    forbidden: Counter
    body_too_large: Counter
    workflow_errors: Counter
    version_info: Gauge


_families: _Families | None = None
_families_lock = threading.Lock()


def _get_families() -> _Families:
    """Return the process's metric families, registering them on first use.

    Once per process: prometheus_client's registry refuses a name twice, and an app rebuilt (develop
    reloading, a second environment) must count into the same families.
    """
    global _families
    with _families_lock:
        if _families is None:
            from prometheus_client import Counter, Gauge, Histogram, values

            if values.ValueClass is not values.MutexValue:
                # Multiprocess mode: each value's write asks for the process id, to notice a fork;
                # three writes a request made three system calls of it. The same check, with the id
                # kept current by a fork hook. Before any value exists, so all of them use it.
                values.ValueClass = values.MultiProcessValue(process_identifier=current_pid)  # type: ignore[no-untyped-call]  # unannotated upstream

            _families = _Families(
                requests=Counter(
                    "epctl_requests", "Requests answered.", ["endpoint", "method", "status_class"]
                ),
                duration=Histogram(
                    "epctl_request_duration_seconds",
                    "Time to answer a request, in seconds.",
                    ["endpoint", "method"],
                    buckets=DURATION_BUCKETS,
                ),
                not_found=Counter("epctl_not_found", "Requests no route matched."),
                method_not_allowed=Counter(
                    "epctl_method_not_allowed", "Requests to a path routed only for other methods."
                ),
                unauthorized=Counter(
                    "epctl_unauthorized", "Requests refused for missing or bad credentials.", ["endpoint"]
                ),
                forbidden=Counter(
                    "epctl_forbidden", "Requests of users outside the endpoint's groups.", ["endpoint"]
                ),
                body_too_large=Counter(
                    "epctl_body_too_large", "Requests refused for a body over max_body_size.", ["endpoint"]
                ),
                workflow_errors=Counter(
                    "epctl_workflow_errors", "Workflows that raised while serving a request.", ["endpoint"]
                ),
                # A gauge, not an Info: Info does not work in multiprocess mode. `livemax` keeps only
                # the values of live processes, so after a promotion the old version leaves the scrape
                # with the last worker that served it.
                version_info=Gauge(
                    VERSION_INFO,
                    "The version served: 1 for each version a live process serves.",
                    ["version", "digest", "environment"],
                    multiprocess_mode="livemax",
                ),
            )
        return _families


class Metrics:
    """The metrics of one app (one version in one environment)."""

    def __init__(self, version: str, digest: str = "", environment: str = "") -> None:
        self._families = _get_families()
        self._version_labels = (version, digest, environment)
        # Label lookups cost a lock and a tuple of strings each; requests repeat a few label sets, so
        # what counts each one is kept here. Bounded: endpoints x counted methods x 6 status classes.
        self._children: dict[tuple[str, str, str], _Series] = {}
        # The same series by what a request carries (endpoint id, method, status), which saves the
        # mapping to labels; bounded, as methods and statuses are many more than label values.
        self._series_by_raw: dict[tuple[str | None, str, int], _Series] = {}
        self._outcomes: dict[tuple[Outcome, str], Counter] = {}
        self._tallied: dict[_Series, None] = {}  # the label sets tallied since the last write
        self._lock = threading.Lock()  # one request thread tallies at a time
        self._failed = False
        self._families.version_info.labels(*self._version_labels).set(1)
        # `observe(record)` counts one answered request. In one process it counts it at once. Under
        # several (gunicorn's workers) each value written is a lock and a write to a memory-mapped
        # file, three per request: there the request is added to its label set's sums in memory, and
        # the process's flusher writes the sums (see `flushing`). (Nothing of the request is kept
        # until then: requests held for a tenth of a second made the garbage collector run more,
        # and over more objects.)
        self.observe: Callable[[AccessFields], None] = self.count
        self._flushed = multiprocess_directory() is not None
        if self._flushed:
            self.observe = self.add
            FLUSHER.register(self)

    def count(self, record: AccessFields) -> None:
        """Count one answered request now: its totals, its duration and why it was refused, if it was."""
        self.add(record)
        self.write_tallies()

    def add(self, record: AccessFields) -> None:
        """Add one answered request to its label set's sums, written by `write_tallies` or, under
        several processes, by this process's flusher (see `observe`). Why it was refused, if it was,
        and its workflow errors are written at once (rare)."""
        raw = (record.endpoint_id, record.method, record.status)
        duration = record.duration
        with self._lock:
            series = self._series_by_raw.get(raw) or self._find_series(raw)
            if not series.requests:
                self._tallied[series] = None
            series.requests += 1
            series.seconds += duration
            hits = series.hits
            bucket = bisect_left(series.bounds, duration)
            hits[bucket] = hits.get(bucket, 0) + 1
            if record.outcome is not None:
                self._count_outcome(record.outcome, record.endpoint_id or "")
            if record.workflow_errors:
                self.count_workflow_errors(record.endpoint_id or "", record.workflow_errors)
        if FLUSHER.thread is None and self._flushed:
            FLUSHER.start()

    def _find_series(self, raw: tuple[str | None, str, int]) -> _Series:
        """Return the series a request of (endpoint id, method, status) counts into, created on first use."""
        endpoint_id, method, status = raw
        endpoint = endpoint_id or ""
        if method not in COUNTED_METHODS:
            method = OTHER
        status_class = _STATUS_CLASSES[status // 100] if 100 <= status <= 599 else OTHER
        key = (endpoint, method, status_class)
        series = self._children.get(key)
        if series is None:
            series = self._children[key] = _Series(
                self._families.requests.labels(endpoint, method, status_class),
                self._families.duration.labels(endpoint, method),
            )
        if len(self._series_by_raw) < MAX_RAW_LABELS:
            self._series_by_raw[raw] = series
        return series

    def take_tallies(self) -> list[_Tally]:
        """Return the sums tallied since the last take, and start them again. Under `_lock`."""
        tallied = self._tallied
        self._tallied = {}
        return [series.take() for series in tallied]

    def write_tallies(self) -> None:
        """Write the sums tallied since the last take to prometheus_client's values."""
        with self._lock:
            tallies = self.take_tallies()
        # Written outside the lock: request threads tally on meanwhile.
        for tally in tallies:
            tally.write()

    def flush(self) -> None:
        """Write the sums tallied (the flusher's call). A failure (a full disk under the metrics
        directory) loses them, and is logged the first time: every later one would fail alike."""
        try:
            self.write_tallies()
        except Exception:
            if not self._failed:
                self._failed = True
                log.exception("counting requests in the metrics failed; later failures are not logged")

    def forget(self) -> None:
        """In a forked child: what the parent tallied is the parent's to write."""
        self._lock = threading.Lock()
        self.take_tallies()

    def count_workflow_errors(self, endpoint: str, count: int) -> None:
        """Count `count` workflows of `endpoint` that raised."""
        self._families.workflow_errors.labels(endpoint).inc(count)

    def _count_outcome(self, outcome: Outcome, endpoint: str) -> None:
        counter = self._outcomes.get((outcome, endpoint))
        if counter is None:
            families = self._families
            if outcome is Outcome.NOT_FOUND:
                counter = families.not_found
            elif outcome is Outcome.METHOD_NOT_ALLOWED:
                counter = families.method_not_allowed
            elif outcome is Outcome.UNAUTHORIZED:
                counter = families.unauthorized.labels(endpoint)
            elif outcome is Outcome.FORBIDDEN:
                counter = families.forbidden.labels(endpoint)
            else:
                counter = families.body_too_large.labels(endpoint)
            self._outcomes[(outcome, endpoint)] = counter
        counter.inc()

    def retire(self) -> None:
        """Stop announcing this app's version (an app replaced by a rebuilt one in the same process).

        Its counts stay: counters only grow, and the next app counts into the same series.
        """
        info = self._families.version_info
        if multiprocess_directory():
            info.labels(*self._version_labels).set(0)  # removing a label set is not supported there
        else:
            info.remove(*self._version_labels)


class _Series:
    """The values the requests of one label set add to: their count, and their durations' sum and
    buckets; with what was tallied since the last write.

    prometheus_client's `Counter.inc` and `Histogram.observe` check their arguments and walk the
    buckets on every call; here the same value objects they write to are called straight, the bucket
    found by bisection (a bucket counts the durations <= its bound, as `observe` does). Each value
    still takes its lock and, in multiprocess mode, writes its file, so a scrape sees the same numbers.
    """

    __slots__ = ("bounds", "buckets", "count", "hits", "requests", "seconds", "total")

    def __init__(self, requests: Counter, duration: Histogram) -> None:
        self.count: Callable[[float], None] = requests._value.inc
        self.total: Callable[[float], None] = duration._sum.inc
        self.buckets: tuple[Callable[[float], None], ...] = tuple(value.inc for value in duration._buckets)
        self.bounds: tuple[float, ...] = tuple(duration._upper_bounds)
        self.requests = 0  # tallied since the last write
        self.seconds = 0.0
        self.hits: dict[int, int] = {}  # bucket index -> requests

    def take(self) -> _Tally:
        """Return what was tallied, and start the tally again."""
        tally = _Tally(self, self.requests, self.seconds, self.hits)
        self.requests, self.seconds, self.hits = 0, 0.0, {}
        return tally


class _Tally(NamedTuple):
    """What the requests of one label set added since the last take."""

    series: _Series
    requests: int
    seconds: float
    hits: dict[int, int]

    def write(self) -> None:
        """Add it to the label set's values."""
        series = self.series
        series.count(self.requests)
        series.total(self.seconds)
        for bucket, count in self.hits.items():
            series.buckets[bucket](count)


def create_registry(directory: str | Path | None = None) -> CollectorRegistry:
    """Return the registry a scrape reads: with `directory` (a multiprocess metrics directory), one that
    sums the files of every process in it; without, this process's own registry."""
    from prometheus_client import REGISTRY, CollectorRegistry

    if directory is None:
        return REGISTRY
    registry = CollectorRegistry()
    registry.register(_SizedFilesCollector(Path(directory)))
    return registry


class _SizedFilesCollector:
    """prometheus_client's multiprocess collector, over the files that have been given their size.

    A process creates its metric file empty and sizes it a moment later; a scrape that reads it in
    between fails whole (`struct.error`), and a worker killed in between leaves the empty file for
    good, failing every scrape after. An empty file holds no values, so it is passed over; a file
    never shrinks, so one seen sized here is read whole by the merge.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.multiprocess import MultiProcessCollector

        files = list_sized_files(self._directory)
        merged: Iterable[Metric] = MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]  # unannotated upstream
        return merged


def list_sized_files(directory: Path) -> list[str]:
    """Return the paths of the metric files in `directory` that are not empty."""
    sized = []
    for file in directory.glob("*.db"):
        try:
            if file.stat().st_size:
                sized.append(str(file))
        except FileNotFoundError:  # a dead process's live gauge, dropped after the glob
            continue
    return sized


def served_versions(registry: CollectorRegistry) -> list[dict[str, str]]:
    """Return the labels (version, digest, environment) of every version `registry` says is served."""
    return [
        dict(sample.labels)
        for family in registry.collect()
        if family.name == VERSION_INFO
        for sample in family.samples
        if sample.value > 0
    ]
