"""The log format of `epctl serve`: text on a terminal, JSON lines otherwise, for every epctl logger.

`configure_logging` gives the `epctl` logger (and so `epctl.runtime` and any other below it) one
handler on one stream with one formatter, and the `RequestContextFilter`, so a workflow traceback
carries the request id and endpoint id of the request that raised it. Access lines are written by
`access_log.AccessLog` in the same format, to the same stream.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TextIO

# LogFormat is defined beside the access record that also needs it; re-exported: this is where it is used.
from epctl.runtime.observability.access_log import LOG_FORMATS as LOG_FORMATS
from epctl.runtime.observability.access_log import LogFormat as LogFormat
from epctl.runtime.observability.access_log import format_time
from epctl.runtime.observability.context import RequestContextFilter

EPCTL_LOGGER = "epctl"

_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


class InvalidLogFormatError(ValueError):
    """A log format that is neither `text` nor `json`."""


def choose_log_format(stream: TextIO) -> LogFormat:
    """Return "text" when `stream` is a terminal (a person reads it), "json" otherwise (a collector)."""
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return "json"


def parse_log_format(value: str) -> LogFormat:
    """Return `value` as a log format; raise InvalidLogFormatError naming the accepted ones."""
    lowered = value.strip().lower()
    for name in LOG_FORMATS:
        if lowered == name:
            return name
    raise InvalidLogFormatError(f'log format must be "text" or "json", not "{value}"')


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, endpoint id and, when the
    record carries one, the traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {
            "time": format_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "endpoint_id": getattr(record, "endpoint_id", None),
        }
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exception"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return _encode(fields)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id endpoint id]: message` and the traceback below it."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        head = f"{format_time(record.created)} {record.levelname} {record.name}"
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            endpoint_id = getattr(record, "endpoint_id", None)
            head += f" [{request_id} {endpoint_id}]" if endpoint_id is not None else f" [{request_id}]"
        return f"{head}: {text}"


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    """Return the formatter of `log_format`."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


class _EpctlHandler(logging.StreamHandler[TextIO]):
    """Marks the handler `configure_logging` installed, so a second call replaces it."""


def configure_logging(log_format: LogFormat | None = None, stream: TextIO | None = None) -> LogFormat:
    """Send every `epctl` logger's records at INFO and above to `stream` (stderr by default) in
    `log_format` (by default chosen by `choose_log_format`), replacing what an earlier call set up.

    Returns the format used. The `epctl` logger stops propagating to the root logger: its lines are
    written once, by this handler, whatever else configured the root.
    """
    stream = stream if stream is not None else sys.stderr
    chosen = log_format or choose_log_format(stream)
    handler = _EpctlHandler(stream)
    handler.setFormatter(make_formatter(chosen))
    handler.addFilter(RequestContextFilter())
    install_handler(EPCTL_LOGGER, handler)
    return chosen


def install_handler(name: str, handler: logging.Handler) -> None:
    """Make `handler` the one handler of its class on logger `name` (replacing one an earlier call
    installed), at INFO and above, and stop that logger propagating to the root: its lines are written
    once, by this handler, whatever else configured the root."""
    logger = logging.getLogger(name)
    for old in [each for each in logger.handlers if type(each) is type(handler)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
