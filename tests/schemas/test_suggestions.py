"""'Did you mean': the nearest declared name, found with bounded work for any number of references."""

from __future__ import annotations

import hashlib
from pathlib import Path

from epctl.schemas.loader import read_project
from epctl.schemas.problems import (
    CANDIDATES_PER_WORD,
    COMPARISONS_PER_RUN,
    Suggester,
    WorkBudget,
    did_you_mean,
)
from tests.conftest import WriteProject


def test_small_sets_compare_every_name() -> None:
    assert did_you_mean("devcie", ["device", "devices", "home"]) == '; did you mean "device"?'
    assert did_you_mean("zzz", ["a", "b"], list_all=True) == "; valid keys: a, b"


def test_a_typo_at_either_end_is_found_among_ten_thousand_names() -> None:
    names = [hashlib.sha256(str(i).encode()).hexdigest()[:12] for i in range(10_000)]
    suggester = Suggester(names)
    target = names[4_210]
    assert suggester.nearest(target[:-1] + "x") == target
    assert suggester.nearest("x" + target[1:]) == target
    assert suggester.budget.spent <= 2 * CANDIDATES_PER_WORD


def test_work_per_reference_is_bounded_and_the_run_has_a_budget() -> None:
    """2,000 unknown references against 2,000 names took 55 s (every name compared with every one)."""
    names = [f"page-{i}" for i in range(2_000)]
    for count in (2_000, 4_000, 8_000):
        budget = WorkBudget()
        suggester = Suggester(names, budget)
        for i in range(count):
            suggester.nearest(f"missing-{i}")
        assert budget.spent <= COMPARISONS_PER_RUN
    # Within the budget, the work grows with the references, never with references x names.
    budget = WorkBudget(left=10**9)
    suggester = Suggester(names, budget)
    for i in range(2_000):
        suggester.nearest(f"missing-{i}")
    assert budget.spent <= 2_000 * CANDIDATES_PER_WORD


def test_one_answer_per_word() -> None:
    budget = WorkBudget()
    suggester = Suggester([f"n{i}" for i in range(500)], budget)
    suggester.nearest("n12x")
    first = budget.spent
    for _ in range(1_000):
        suggester.nearest("n12x")
    assert 0 < budget.spent == first <= CANDIDATES_PER_WORD


def test_thousands_of_unknown_references_still_suggest_the_first(
    write_project: WriteProject, tmp_path: Path
) -> None:
    endpoints = "".join(
        f'[[endpoint]]\nid = "e{i}"\nmethod = "GET"\nroute = "/e{i}"\n'
        f'reply = {{ type = "page", page = "{"hoem" if i == 0 else f"missing-{i}"}" }}\n'
        for i in range(3_000)
    )
    root = write_project(
        {"endpoints/a.toml": endpoints, "pages/p.toml": '[[page]]\nname = "home"\nbody = "x"\n'}
    )
    _, problems = read_project(root)
    assert len(problems) == 3_000
    assert problems[0].message == (
        'reply names page "hoem", which is not declared in pages/; did you mean "home"?'
    )
