"""``python -m sync_engine``: the same command line as ``cwsync``."""

from sync_engine.cli import main

main()
