"""`epctl users` as real processes: a hidden prompt in a real terminal, and commands run at once."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from epctl.runtime.users import open_user_store
from epctl.schemas.users_config import UsersConfig

# PostgreSQL fixtures (a cluster per session, a database per test): see tests/postgres.py.
pytest_plugins = ["tests.postgres"]

PASSWORD = "correct horse battery"
PROCESS_SECONDS = 60


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "farm"
    root.mkdir()
    (root / "epctl.toml").write_text('[project]\nname = "farm"\n\n[users]\n', encoding="utf-8")
    return root


def epctl(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "epctl.cli.main", "--project", str(project), "users", *args]


def clean_environ(extra: dict[str, str]) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "EPCTL_DATABASE_URL"}
    return {**environ, **extra}


class Terminal:
    """The controlling side of a pseudo-terminal a child process runs in, as a person at a keyboard."""

    def __init__(self, command: list[str], environ: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=environ)
        os.close(slave)
        self.seen = b""

    def read_until(self, text: bytes) -> None:
        deadline = time.monotonic() + PROCESS_SECONDS
        while text not in self.seen:
            assert time.monotonic() < deadline, f"never saw {text!r} in {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # the child closed the terminal: nothing more will come
                    assert text in self.seen, f"never saw {text!r} in {self.seen!r}"

    def type_hidden(self, prompt: bytes, text: str) -> None:
        """Answer a hidden prompt once it hides what is typed. A person types after the prompt; a
        test must also wait for echo to go off, or the terminal would drop its early keystrokes.
        The prompt is written after the previous prompt's echo came back, so the echo seen off
        after it is this prompt's."""
        self.read_until(prompt)
        deadline = time.monotonic() + PROCESS_SECONDS
        while termios.tcgetattr(self.master)[3] & termios.ECHO:
            assert time.monotonic() < deadline, "the prompt never turned echo off"
            time.sleep(0.01)
        os.write(self.master, text.encode() + b"\n")

    def close(self) -> int | None:
        """Return the child's exit status, killing it if it has not ended within the timeout."""
        try:
            return self.process.wait(PROCESS_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(PROCESS_SECONDS)
            return None
        finally:
            os.close(self.master)


def test_add_on_a_terminal_prompts_twice_without_echo(project: Path) -> None:
    terminal = Terminal(epctl(project, "add", "ada@example.com"), clean_environ({}))
    try:
        terminal.type_hidden(b"Password:", PASSWORD)
        terminal.type_hidden(b"Repeat for confirmation:", PASSWORD)
        terminal.read_until(b"Added ada@example.com")
    finally:
        returncode = terminal.close()
    assert returncode == 0, terminal.seen
    assert PASSWORD.encode() not in terminal.seen
    with open_user_store(project, UsersConfig(), environ={}) as store:
        assert store.authenticate("ada@example.com", PASSWORD) is not None


def test_commands_run_at_once_neither_fail_nor_duplicate(project: Path, users_env: dict[str, str]) -> None:
    """Four `users add` processes at once: two distinct emails, and one email twice (in two cases)."""
    emails = ["ada@example.com", "bob@example.com", "same@example.com", "SAME@example.com"]
    environ = clean_environ(users_env)
    processes = [
        subprocess.Popen(
            epctl(project, "add", email),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        for email in emails
    ]
    results = []
    try:
        for process in processes:
            _, err = process.communicate(timeout=PROCESS_SECONDS)
            results.append((process.returncode, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(PROCESS_SECONDS)
    assert results[0][0] == results[1][0] == 0, results
    duplicates = sorted(results[2:])
    assert duplicates[0][0] == 0 and duplicates[1][0] == 1, results
    assert duplicates[1][1] in (
        "Error: a user with email same@example.com already exists\n",
        "Error: a user with email SAME@example.com already exists\n",
    )
    with open_user_store(project, UsersConfig(), environ=users_env) as store:
        assert [u.email.lower() for u in store.list()] == [
            "ada@example.com",
            "bob@example.com",
            "same@example.com",
        ]
