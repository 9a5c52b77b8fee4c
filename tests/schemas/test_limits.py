"""`request_timeout` and `max_body_size` in `[settings]`: what they accept and what a typo reports."""

from __future__ import annotations

import pytest

from epctl.schemas.limits import parse_duration, parse_size
from epctl.schemas.loader import read_project
from tests.conftest import WriteProject


def test_durations_and_sizes_read_as_documented() -> None:
    assert [parse_duration(text) for text in ("500ms", "30s", "2m")] == [0.5, 30.0, 120.0]
    assert [parse_size(text) for text in ("100B", "512KB", "1MB", "1GB")] == [
        100,
        512 << 10,
        1 << 20,
        1 << 30,
    ]


@pytest.mark.parametrize("text", ["", "0s", "30", "1h", "-1s", "1.5s"])
def test_a_duration_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration: write a positive number and ms, s or m"):
        parse_duration(text)


def test_bad_limits_are_invalid_value_problems_with_their_key(write_project: WriteProject) -> None:
    root = write_project(
        {
            "epctl.toml": (
                '[project]\nname = "t"\n[settings]\nrequest_timeout = "soon"\nmax_body_size = "1 TB"\n'
            )
        }
    )
    _, problems = read_project(root)
    found = sorted(
        (problem.code, problem.place.key, problem.place.line, problem.message) for problem in problems
    )
    assert found == [
        (
            "invalid-value",
            "settings.max_body_size",
            5,
            '"1 TB" is not a size: write a positive number and B, KB, MB or GB ("1MB")',
        ),
        (
            "invalid-value",
            "settings.request_timeout",
            4,
            '"soon" is not a duration: write a positive number and ms, s or m ("30s", "2m")',
        ),
    ]


def test_an_environment_root_of_slash_is_accepted(write_project: WriteProject) -> None:
    root = write_project(
        {"epctl.toml": '[project]\nname = "t"\n[environments]\nprod = { version = "v1", root = "/" }\n'}
    )
    _, problems = read_project(root)
    assert [problem.code for problem in problems if problem.severity == "error"] == []
