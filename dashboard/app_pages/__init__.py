"""The dashboard's pages: one script each, routed by ``app.py`` (a package so the import
contracts in pyproject.toml see them)."""
