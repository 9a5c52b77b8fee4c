"""A small WSGI app for test_observability_gunicorn, wrapped in ObservedApp with metrics and an access
log the way epctl's app is: gunicorn builds it in each worker with `create_app()`.

`/pid` and `/slow?seconds=S` answer the worker's pid (a slow request keeps one worker busy, so the
next goes to the other); `/boom` logs a failing workflow and answers 500; `/gc` answers how many
objects the worker keeps out of the garbage collector's sight; anything else is 404.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from epctl.runtime.observability.access_log import AccessLog, Outcome
from epctl.runtime.observability.context import note_endpoint, note_outcome, note_workflow_error
from epctl.runtime.observability.logs import parse_log_format
from epctl.runtime.observability.metrics import Metrics
from epctl.runtime.observability.middleware import ObservedApp

log = logging.getLogger("epctl.runtime")


def answer(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    status = "200 OK"
    if path == "/gc":
        body = json.dumps({"frozen": gc.get_freeze_count()}).encode()
    elif path in ("/pid", "/slow"):
        note_endpoint(path[1:], path)
        if path == "/slow":
            seconds = parse_qs(environ.get("QUERY_STRING", "")).get("seconds", ["0.5"])[0]
            time.sleep(min(float(seconds), 5.0))
        body = json.dumps({"pid": os.getpid()}).encode()
    elif path == "/boom":
        note_endpoint("boom", "/boom")
        try:
            raise RuntimeError("workflow bug")
        except RuntimeError:
            note_workflow_error()
            log.exception('workflow "boom" failed')
        status, body = "500 Internal Server Error", b'{"error": "Internal server error"}'
    else:
        note_outcome(Outcome.NOT_FOUND)
        status, body = "404 Not Found", b'{"error": "Not found"}'
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def create_app() -> ObservedApp:
    """The observed app, built in the worker that calls it (its metrics announce its version there)."""
    metrics = Metrics("v-test", "sha256:test", "e2e")
    log_format = parse_log_format(os.environ.get("EPCTL_LOG_FORMAT", "json"))
    access_log = AccessLog(log_format)
    return ObservedApp(answer, version="v-test", environment="e2e", access_log=access_log, metrics=metrics)
