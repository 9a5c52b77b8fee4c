"""The progress bar of validate, snapshot and diff: on a terminal after a delay, never when piped."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import pexpect
import pytest
from rich.console import Console
from typer.testing import CliRunner

from epctl.cli.progress import DELAY, progress_after
from tests.conftest import run


def console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=80), buffer


@pytest.mark.timeout(10)
def test_bar_appears_on_a_terminal_once_work_outlasts_the_delay() -> None:
    screen, buffer = console(terminal=True)
    with progress_after("Validating develop", console=screen, delay=0.05):
        time.sleep(0.5)
    assert "Validating develop" in buffer.getvalue()
    assert "0:00:00" in buffer.getvalue()  # the elapsed time column


@pytest.mark.timeout(10)
def test_short_work_draws_nothing() -> None:
    screen, buffer = console(terminal=True)
    with progress_after("Validating develop", console=screen, delay=0.5):
        pass
    time.sleep(0.6)  # past the delay: a timer that was not cancelled would draw now
    assert buffer.getvalue() == ""


@pytest.mark.timeout(10)
def test_nothing_is_drawn_when_piped_however_long_the_work() -> None:
    screen, buffer = console(terminal=False)
    with progress_after("Validating develop", console=screen, delay=0.0):
        time.sleep(0.3)
    assert buffer.getvalue() == ""


def test_the_delay_is_a_second() -> None:
    assert DELAY == 1.0


def test_commands_piped_print_no_bar(runner: CliRunner, sample: Path) -> None:
    """CliRunner's stderr is not a terminal, as in CI: the reports hold no bar characters."""
    for args in (("validate",), ("diff", "v1.0.0", "develop"), ("snapshot", "v9")):
        result = run(runner, sample, *args)
        assert "━" not in result.stderr and "Validating" not in result.stderr, result.stderr


@pytest.mark.timeout(90)
def test_validate_of_a_large_project_shows_the_bar_on_a_terminal(tmp_path: Path) -> None:
    """20,000 endpoints take seconds to validate: through a pseudo-terminal, the bar appears, then
    gives way to the report."""
    root = tmp_path / "big"
    (root / "endpoints").mkdir(parents=True)
    (root / "epctl.toml").write_text('[project]\nname = "big"\n', encoding="utf-8")
    for number in range(20):
        tables = (
            f'[[endpoint]]\nid = "e{number}-{i}"\nmethod = "GET"\nroute = "/r{number}/{i}/{{x}}"\n'
            'reply = { type = "redirect", to = "/" }\n'
            for i in range(1000)
        )
        (root / "endpoints" / f"f{number}.toml").write_text("\n".join(tables), encoding="utf-8")
    epctl = Path(sys.executable).parent / "epctl"
    # The bar shows after a second of work; a fast machine may validate in less, so show it at once.
    env = {**os.environ, "COLUMNS": "100", "EPCTL_PROGRESS_DELAY": "0"}
    child = pexpect.spawn(
        str(epctl), ["--project", str(root), "validate"], env=env, encoding="utf-8", timeout=80
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Validating develop" in (child.before or "")
    assert "big: 20000 endpoints, 0 pages, 0 workflows; no problems" in (child.before or "")


@pytest.mark.parametrize(
    ("value", "delay"), [("0", 0.0), ("2.5", 2.5), ("-3", 0.0), ("soon", 1.0), ("", 1.0)]
)
def test_the_progress_delay_variable_is_read_safely(
    monkeypatch: pytest.MonkeyPatch, value: str, delay: float
) -> None:
    """A broken EPCTL_PROGRESS_DELAY never stops a command: it falls back to the one-second default."""
    from epctl.cli.progress import read_delay

    monkeypatch.setenv("EPCTL_PROGRESS_DELAY", value)
    assert read_delay() == delay
