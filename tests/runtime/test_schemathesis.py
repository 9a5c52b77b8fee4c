"""Schemathesis against the sample project's exported OpenAPI, in-process through its WSGI app: every
operation, anonymous and signed in, with bounded examples from a fixed seed, finds no server error and
no reply the document does not describe (status, content type, headers, body schema). Operations with a
request schema also get invalid requests, which must be refused with a 4xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import TestResponse

from epctl.runtime import EpctlApp, create_app
from epctl.runtime.openapi import build_openapi
from epctl.runtime.tokens import mint_token
from epctl.schemas.loader import load_project
from tests.conftest import SAMPLE, SECRET

SCHEMA = schemathesis.openapi.from_dict(build_openapi(load_project(SAMPLE)))
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
# Operations whose request a schema describes: invalid requests can be made for them.
CHECKED = [
    label
    for label, operation in OPERATIONS.items()
    if "requestBody" in operation.definition.raw
    or any(p.get("in") == "query" for p in operation.definition.raw.get("parameters", []))
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# README "A project": the sample's API key is public, and only its hash is in the sample's epctl.toml.
SAMPLE_KEY = "sample-mobile-key"
# Bounded and repeatable: the same examples on every run.
EXAMPLES = settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def app() -> Iterator[EpctlApp]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EPCTL_SECRET", SECRET)
        yield create_app(SAMPLE)


def credentials(label: str) -> dict[str, str]:
    """Return headers that pass the access control of operation `label`: the API key when it takes
    one, a token of a user in every group the sample names when it needs a user."""
    schemes = {
        name for requirement in OPERATIONS[label].definition.raw.get("security", []) for name in requirement
    }
    headers: dict[str, str] = {}
    if "apiKeyHeader" in schemes:
        headers["Authorization"] = SAMPLE_KEY
    if "bearerToken" in schemes or "sessionHeader" in schemes:
        token = mint_token(load_project(SAMPLE), "ada", ["admins", "installers"], 3600)
        headers["Session"] = token  # Authorization may hold the key
    return headers


def run_examples(
    app: EpctlApp, label: str, headers: dict[str, str], mode: GenerationMode, checks: list
) -> None:
    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode))
    @EXAMPLES
    def check(case: Case) -> None:
        response: TestResponse = case.call(headers=headers, app=app)
        case.validate_response(response, checks=checks, headers=headers)

    check()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("label", list(OPERATIONS))
def test_every_reply_is_described_by_the_document(app: EpctlApp, label: str, signed_in: bool) -> None:
    headers = credentials(label) if signed_in else {}
    run_examples(app, label, headers, GenerationMode.POSITIVE, CHECKS)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("label", CHECKED)
def test_requests_failing_their_schema_are_refused(app: EpctlApp, label: str) -> None:
    run_examples(app, label, credentials(label), GenerationMode.NEGATIVE, [negative_data_rejection, *CHECKS])


def test_the_sample_has_operations_with_request_schemas() -> None:
    """The negative test above is not vacuous: the sample's body and query schemas are exported."""
    assert sorted(CHECKED) == ["GET /api/devices/{deviceId}/readings", "POST /api/devices"]
