"""Request cases (`epctl test`, README "Request tests"): each `[[case]]` of a version sent in-process to
that version's app through werkzeug's test client, and its reply checked against what the case expects.

The app is the one `serve` would build, with two stand-ins so that no secret is ever needed in a file:
a case's `user` gets a token minted with the project secret (a random one when its variable is unset,
set for the run only), and a case's `api_key` names an `[[api_key]]` whose scope a random key of the
run's own is given. Cases run in declaration order against one app; no cookie carries over from one
case to the next.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from werkzeug.test import Client, TestResponse

from epctl.runtime.app import build_app
from epctl.runtime.contracts import RESPONSE_VIOLATION
from epctl.runtime.tokens import mint_token
from epctl.schemas.models import Case, Expect
from epctl.schemas.problems import EpctlError, Place
from epctl.schemas.project import Project

TOKEN_TTL_SECONDS = 600
# `body_matches` searches this much of a body: a regular expression's work stays bounded.
MAX_MATCHED_BODY = 1 << 20
MAX_SHOWN_VALUE = 80
# Failing cases promote names in its refusal, at most.
MAX_NAMED_FAILURES = 3


class CasesFailedError(EpctlError):
    """A version whose request cases do not all pass, where passing is required (promote)."""


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case run: where it is declared, what failed (nothing when it passed), and the reply status."""

    name: str
    place: Place
    failures: tuple[str, ...]
    notes: tuple[str, ...]  # what the app logged while serving it, shown with a failure
    status: int
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True, slots=True)
class CaseReport:
    project: str
    version: str
    results: tuple[CaseResult, ...]

    @property
    def failed(self) -> list[CaseResult]:
        return [result for result in self.results if not result.passed]

    @property
    def passed(self) -> bool:
        return not self.failed


def run_cases(project: Project) -> CaseReport:
    """Return the result of every request case of `project`, run against its app.

    Raises what building the app raises (ProjectError when handlers do not load); a project without
    cases is not built.
    """
    if not project.cases:
        return CaseReport(project.name, project.version, ())
    test_keys = {
        name: secrets.token_urlsafe(24) for name in {c.api_key for c in project.cases.values()} if name
    }
    with project_secret(project):
        # No cookie jar: every case is its own request, whatever the cases before it were answered.
        client = Client(build_app(with_test_keys(project, test_keys)), use_cookies=False)
        results = tuple(run_case(client, project, case, test_keys) for case in project.cases.values())
    return CaseReport(project.name, project.version, results)


def check_cases(project: Project) -> CaseReport:
    """Return the report of `project`'s request cases; raise CasesFailedError when any fails."""
    report = run_cases(project)
    failed = report.failed
    if failed:
        named = "; ".join(
            f'{result.place.location()} "{result.name}" ({result.failures[0]})'
            for result in failed[:MAX_NAMED_FAILURES]
        )
        more = f" and {len(failed) - MAX_NAMED_FAILURES} more" if len(failed) > MAX_NAMED_FAILURES else ""
        raise CasesFailedError(
            f'version "{project.version}" fails {len(failed)} of {len(report.results)} request cases: '
            f"{named}{more}; `epctl test --version {project.version}` shows them all"
        )
    return report


@contextlib.contextmanager
def project_secret(project: Project) -> Iterator[None]:
    """Make sure the project's token secret is set while the block runs: the one in the environment
    if there is one, else a random secret, removed again afterwards."""
    name = project.auth.secret_env
    if os.environ.get(name):
        yield
        return
    previous = os.environ.get(name)
    os.environ[name] = secrets.token_urlsafe(32)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def with_test_keys(project: Project, keys: Mapping[str, str]) -> Project:
    """Return `project` with one more API key for each named key in `keys`, with the same scope and
    the hash of the run's own key. The project's keys stay valid as they are."""
    added = [
        api_key.model_copy(
            update={"name": f"{api_key.name}.epctl-test", "sha256": _sha256(keys[api_key.name])}
        )
        for api_key in project.api_keys
        if api_key.name in keys
    ]
    if not added:
        return project
    return dataclasses.replace(project, api_keys=(*project.api_keys, *added))


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def run_case(client: Client, project: Project, case: Case, test_keys: Mapping[str, str]) -> CaseResult:
    """Return the result of sending `case` through `client`."""
    place = project.declarations.place("case", case.name)
    with captured_logs() as records:
        started = time.perf_counter()
        response = client.open(
            case.path,
            method=case.method,
            headers=request_headers(project, case, test_keys),
            query_string=request_query(case, test_keys),
            json=case.json_body,
            data=case.form,
        )
        seconds = time.perf_counter() - started
    failures = check_reply(case.expect, response)
    notes: list[str] = []
    for record in records:
        violations = getattr(record, RESPONSE_VIOLATION, None)
        if violations is not None:
            failures.append(
                "the reply does not match the endpoint's response_schema: " + "; ".join(violations)
            )
        else:
            notes.append("logged: " + describe_record(record))
    return CaseResult(case.name, place, tuple(failures), tuple(notes), response.status_code, seconds)


def request_headers(project: Project, case: Case, test_keys: Mapping[str, str]) -> dict[str, str]:
    """Return the headers of a case's request: its own, then its credentials where they are free.

    The API key goes in `Authorization`; the user token in `Authorization: Bearer`, or in the `Session`
    header when `Authorization` is taken. A header the case sets itself is never replaced.
    """
    headers = dict(case.headers)
    taken = {name.lower() for name in headers}
    if case.api_key is not None and "authorization" not in taken:
        headers["Authorization"] = test_keys[case.api_key]
        taken.add("authorization")
    if case.user is not None:
        token = mint_token(project, case.user.sub, case.user.groups, TOKEN_TTL_SECONDS)
        if "authorization" not in taken:
            headers["Authorization"] = f"Bearer {token}"
        elif "session" not in taken:
            headers["Session"] = token
    return headers


def request_query(case: Case, test_keys: Mapping[str, str]) -> str:
    """Return the query string of a case; its API key goes here when `Authorization` was taken."""
    pairs = [
        (name, item)
        for name, value in case.query.items()
        for item in ([value] if isinstance(value, str) else value)
    ]
    if case.api_key is not None and any(name.lower() == "authorization" for name in case.headers):
        pairs.append(("apikey", test_keys[case.api_key]))
    return urlencode(pairs)


def check_reply(expect: Expect, response: TestResponse) -> list[str]:
    """Return one line for each way `response` differs from what `expect` says (empty: it passed)."""
    failures: list[str] = []
    status = response.status_code
    if expect.status is not None and status != expect.status:
        failures.append(f"status: expected {expect.status}, got {status}")
    for name, value in expect.headers.items():
        got = response.headers.get(name)
        if got != value:
            failures.append(
                f"header {name}: expected {show(value)}, got " + (show(got) if got is not None else "none")
            )
    if expect.redirect is not None:
        location = response.headers.get("Location")
        if not 300 <= status <= 399 or location != expect.redirect:
            got = (
                f"{show(location)} (status {status})"
                if location is not None
                else f"status {status}, no Location"
            )
            failures.append(f"redirect: expected {show(expect.redirect)}, got {got}")
    body = response.get_data()
    if expect.json_body is not None:
        try:
            value = json.loads(body)
        except ValueError:
            failures.append(f"json: the body is not JSON ({response.mimetype or 'no content type'})")
        else:
            failures += [f"json {line}" for line in find_json_differences(expect.json_body, value, "")]
    if expect.body_contains or expect.body_matches is not None:
        text = body.decode("utf-8", "replace")
        failures += [
            f"body does not contain {show(needle)}" for needle in expect.body_contains if needle not in text
        ]
        if (
            expect.body_matches is not None
            and re.search(expect.body_matches, text[:MAX_MATCHED_BODY]) is None
        ):
            failures.append(f"body does not match /{expect.body_matches}/")
    return failures


def find_json_differences(expected: Any, actual: Any, path: str) -> Iterator[str]:
    """Yield `<pointer>: <difference>` wherever `actual` does not contain `expected`.

    Objects match when every expected key is there and matches (other keys are ignored); arrays when
    they have the same length and match item by item; other values when they are the same JSON value
    (`1` and `1.0` are, `true` and `1` are not).
    """
    where = path or "/"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            yield f"{where}: expected an object, got {show(actual)}"
            return
        for key, value in expected.items():
            inner = f"{path}/{key.replace('~', '~0').replace('/', '~1')}"
            if key in actual:
                yield from find_json_differences(value, actual[key], inner)
            else:
                yield f"{inner}: missing (expected {show(value)})"
    elif isinstance(expected, list):
        if not isinstance(actual, list):
            yield f"{where}: expected an array, got {show(actual)}"
        elif len(expected) != len(actual):
            yield f"{where}: expected {len(expected)} items, got {len(actual)}"
        else:
            for index, (item, got) in enumerate(zip(expected, actual, strict=True)):
                yield from find_json_differences(item, got, f"{path}/{index}")
    elif not same_json_value(expected, actual):
        yield f"{where}: expected {show(expected)}, got {show(actual)}"


def same_json_value(expected: Any, actual: Any) -> bool:
    # Python counts True == 1; JSON does not.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def show(value: Any) -> str:
    """Return `value` as JSON, shortened for a one-line report."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 1] + "…"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Collect what the runtime logs while the block runs, instead of printing it: the report shows
    it beside the case that caused it."""
    logger = logging.getLogger("epctl.runtime")
    handler = _Records()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def describe_record(record: logging.LogRecord) -> str:
    """Return a log record's message, with the exception it carries as `Type: message`."""
    message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        message += f" ({type(error).__name__}: {error})"
    return message
