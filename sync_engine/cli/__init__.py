"""The ``cwsync`` command line (SPEC §6): a thin Typer layer over the service functions.

:mod:`~sync_engine.cli.root` assembles the app and turns failures into one line;
:mod:`~sync_engine.cli.common` holds what every command shares (the runtime, the actor, ``fail``).
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``cwsync`` and ``python -m sync_engine``: see :func:`.root.main`."""
    # Imported here: the sub-apps (alerts, verify) import sync_engine.cli.common, which loads
    # this package first; the root imports them.
    from sync_engine.cli.root import main as run

    run(argv)
