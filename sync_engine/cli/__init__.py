"""The ``cwsync`` command line (SPEC §6): a thin Typer layer over the service functions.

:mod:`~sync_engine.cli.root` assembles the app and turns failures into one line;
:mod:`~sync_engine.cli.common` holds what every command shares (the runtime, the actor, ``fail``).
Each area's modules are imported inside its commands, so a command loads only what it runs
(``cwsync sync`` is started once per sync; ``tests/sync_engine/test_cli_startup.py`` holds it to that).
"""

from __future__ import annotations

import sys

# Optional modules that libraries import whenever they are installed, never used by cwsync:
# httpx's own command line (which loads click, rich and pygments) and trio (httpcore's check
# for a trio event loop). Marked missing, the libraries carry on without them.
UNUSED_OPTIONAL_MODULES = ("httpx._main", "trio")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``cwsync`` and ``python -m sync_engine``: see :func:`.root.main`."""
    if argv is None:  # a process of its own: nothing else in it may want them
        for name in UNUSED_OPTIONAL_MODULES:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    # Imported here: the sub-apps (alerts, verify) import sync_engine.cli.common, which loads
    # this package first; the root imports them.
    from sync_engine.cli.root import main as run

    run(argv)
