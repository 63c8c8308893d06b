"""``python -m dashboard.hash_password``: a hash (or a ``[users.NAME]`` table) for a password read
twice without echo; weak, mismatched or missing passwords get one line on stderr."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dashboard.hash_password import main
from sync_engine.services import auth

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"


def answers(*given: str) -> Callable[[str], str]:
    """A stand-in for getpass that answers the prompts in order, then hits end of input."""
    queue: Iterator[str] = iter(given)

    def ask(prompt: str) -> str:
        try:
            return next(queue)
        except StopIteration:
            raise EOFError from None

    return ask


def test_it_prints_only_the_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], ask=answers(PASSWORD, PASSWORD)) == 0
    out, err = capsys.readouterr()
    encoded = out.strip()
    assert auth.verify_password(PASSWORD, encoded)
    assert PASSWORD not in out + err


def test_with_a_user_it_prints_a_table_the_dashboard_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(["--user", "Alice@Example.com", "--role", "admin"], ask=answers(PASSWORD, PASSWORD))
        == 0
    )
    table = tomllib.loads(capsys.readouterr().out)
    config = auth.load_login_config(table)
    user = auth.authenticate(config, "alice@example.com", PASSWORD)
    assert user is not None and user.role == auth.Role.ADMIN


@pytest.mark.parametrize(
    ("argv", "typed", "message"),
    [
        ([], ("short", "short"), "error: the password must have at least 12 characters"),
        ([], (PASSWORD, PASSWORD + "!"), "error: the two passwords differ"),
        (["--user", "al ice"], (PASSWORD, PASSWORD), "error: a username is"),
        ([], (), "error: no password given"),
    ],
)
def test_bad_input_gets_one_line_and_no_hash(
    capsys: pytest.CaptureFixture[str], argv: list[str], typed: tuple[str, ...], message: str
) -> None:
    assert main(argv, ask=answers(*typed)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.slow  # a process of its own
def test_it_runs_as_a_module_without_streamlit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, dashboard.hash_password; "
         "print('streamlit' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "False"
