"""What every ``cwsync`` command shares: the process's runtime, the actor, one-line failures, ids.

Commands that create something print only its id on stdout; everything for people goes to stderr.
"""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from sync_engine.config import Settings, get_settings
from sync_engine.runtime import Runtime, build_runtime
from sync_engine.services import accounts, projects


class State:
    """The settings of ``--db`` / the environment, and the runtime built from them on first use."""

    settings: Settings | None = None
    runtime: Runtime | None = None
    started: float | None = None
    """When the command started (``time.monotonic()``): the process's start for a command line
    of its own, so a timeout counts the interpreter's start-up too; None in-process (now)."""


state = State()

# Ids are checked for range before a query sees them (SQLite refuses integers past 64 bits).
SequenceId = Annotated[int, typer.Argument(min=1, max=accounts.MAX_RECORD_ID)]
EnrollmentId = Annotated[int, typer.Argument(min=1, max=accounts.MAX_RECORD_ID)]


def actor() -> str:
    """Who the audit log names for a change made here."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"


def settings() -> Settings:
    """The settings of ``--db`` / the environment."""
    return state.settings or get_settings()


def runtime() -> Runtime:
    """The process's runtime, built on first use from ``--db`` / the environment."""
    if state.runtime is None:
        state.runtime = build_runtime(settings())
    return state.runtime


def fail(message: str) -> typer.Exit:
    """Print one line on stderr and return the exit to raise."""
    typer.echo(f"cwsync: {message}", err=True)
    return typer.Exit(code=2)


def resolve_account(ref: str) -> int:
    """The id of the account ``ref`` (an id or a name); an unknown one is refused."""
    with runtime().db.read() as session:
        account = accounts.get_account(session=session, ref=ref)
    assert account.id is not None
    return account.id


def resolve_project(account_id: int, ref: str, *, field: str) -> str:
    """The id of the firm's project named ``ref`` (an id or an exact name), checked with
    Clockwork; a project the firm does not have is refused with the reason."""
    return projects.resolve_project(
        runtime(), account_id=account_id, ref=ref, field=field
    ).project_id


def process_started() -> float:
    """When this process started, on the ``time.monotonic()`` scale (Linux ``/proc``; now, where
    that cannot be read): what the person who typed the command counts from."""
    now = time.monotonic()
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return now
    return now - max(age, 0.0)
