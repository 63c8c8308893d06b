"""Print a password hash for ``.streamlit/secrets.toml``: ``python -m dashboard.hash_password``.

The password is read twice without echo (getpass) and never printed. With ``--user`` the output
is a ready-to-paste ``[users.NAME]`` table; without it, only the hash.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence

from sync_engine.services import auth
from sync_engine.services.errors import ServiceError


def main(argv: Sequence[str] | None = None, *, ask: Callable[[str], str] = getpass.getpass) -> int:
    """Ask for a password, check it, and print its argon2id hash (or the TOML table for a user)."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.hash_password",
        description="Hash a dashboard password for .streamlit/secrets.toml.",
    )
    parser.add_argument("--user", help="print a [users.USER] table instead of the bare hash")
    parser.add_argument(
        "--role", choices=[role.value for role in auth.Role], default=auth.Role.VIEWER.value
    )
    args = parser.parse_args(argv)
    try:
        name = None if args.user is None else auth.check_username(args.user)
        password = ask("Password: ")
        auth.check_new_password(password)
        if ask("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 1
        encoded = auth.hash_password(password)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("error: no password given", file=sys.stderr)
        return 1
    if name is None:
        print(encoded)
    else:
        print(f'[users."{name}"]\npassword_hash = "{encoded}"\nrole = "{args.role}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
