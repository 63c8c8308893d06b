"""Processes serving on loopback, started one way for the test suite and the benches.

:func:`free_port` names a port for a process about to listen; :func:`wait_until_answering` polls
a started process's URL until it answers; :func:`running` starts a command with its output in a
log, yields it once its URL answers and :func:`stop`\\ s it after. The benches import this module
with the checkout on ``sys.path``.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A loopback port nothing listens on now (the system's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(
    url: str, process: subprocess.Popen[bytes], *, seconds: float, log: Path | None = None
) -> None:
    """Return once a GET of ``url`` answers 200; RuntimeError if ``process`` exits first or
    ``seconds`` pass, naming ``log`` (where its output went) when given."""
    see = f"; see {log}" if log is not None else ""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited (code {process.returncode}){see}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {seconds:g} s{see}")
        time.sleep(0.1)  # readiness of a subprocess, not a wait on a page


def stop(process: subprocess.Popen[bytes], *, grace: float = 15) -> None:
    """Ask ``process`` to stop (SIGTERM); kill it if it has not after ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running(
    command: list[str],
    *,
    url: str,
    log: Path,
    seconds: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` started with its output in ``log``; yields the process once ``url`` answers
    200 (see :func:`wait_until_answering`), and stops it after."""
    with log.open("wb") as output:  # the child keeps its own handle
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_answering(url, process, seconds=seconds, log=log)
        yield process
    finally:
        stop(process)
