"""epctl.runtime.observability: what a server reports about the requests it serves.

One building block per module, and nothing here runs on the request path unless switched on:
- `middleware.ObservedApp` wraps an app: per request a request id (sent back as `X-Request-ID`), one
  access line, the metrics and the span; the app adds what only it knows with `context.note_*`.
- `request_ids`: the caller's `X-Request-ID` kept when safe, else a new one.
- `context`: the request being served, read by log records (request id, endpoint id).
- `access_log`: the access record, its text and JSON lines, and the writer of those lines.
- `logs`: the log format (text on a terminal, JSON otherwise) of every `epctl` logger.
- `metrics`: Prometheus metrics, summed over gunicorn's workers (multiprocess mode).
- `admin`: the admin listener: `/metrics`, `/livez`, `/readyz` on a port of their own.
- `gunicorn_hooks`, `gunicorn_config`: the same under gunicorn (hooks; a `-c python:` module).
- `tracing` (and `otel`, its OpenTelemetry side): spans with the `otel` extra.
"""
