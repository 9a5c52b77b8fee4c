"""epctl.runtime.observability: what a server reports about the requests it serves.

Each module holds one building block, and nothing here is imported by the request path unless it is
switched on: `request_ids` (the `X-Request-ID` kept or made), `context` (the request id and endpoint
id of the request being served, for every log record), `access_log` (one record per request and its
text and JSON lines), `logs` (the log format and handler of the `epctl` loggers), `metrics`
(Prometheus, gunicorn's workers summed), `admin` (the admin listener: metrics, liveness, readiness),
`gunicorn_hooks` and `gunicorn_config` (the same under gunicorn), `tracing` (OpenTelemetry spans with
the `otel` extra).
"""
