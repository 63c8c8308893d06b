"""Rules for the pages' own code: no raw HTML, and a role check right before every change.

Which modules a page may import is an import contract (pyproject.toml, ``tests/test_layering.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_pages_render_no_raw_html() -> None:
    for path in (ROOT / "dashboard").rglob("*.py"):
        assert "unsafe_allow_html" not in path.read_text(encoding="utf-8"), path


# Calls that change the store, Clockwork or the demo simulator (besides ``store.writing()``).
MUTATIONS = {
    "connect", "apply_resync", "plan_resync", "put_person_in_clockwork", "set_account_key_revoked",
    "reconnect", "seed_demo", "set_faults", "run_pass", "check_connection",
}  # fmt: skip


def _is_admin_check(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call) and ast.unparse(call.func) == "identity.require_admin"
        for call in ast.walk(node)
    )


def _unguarded_changes(tree: ast.Module) -> list[str]:
    """Changes in a page not preceded, on the way down to them, by ``identity.require_admin``."""
    found: list[str] = []

    def visit(statements: list[ast.stmt], guarded: bool) -> None:
        for statement in statements:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(statement.body, False)  # a function is guarded by its own checks
                continue
            header: list[ast.AST] = []
            for name, value in ast.iter_fields(statement):
                if name not in ("body", "orelse", "finalbody", "handlers"):
                    parts = value if isinstance(value, list) else [value]
                    header.extend(part for part in parts if isinstance(part, ast.AST))
            for part in header:
                for node in ast.walk(part):
                    change = _change(node)
                    if change and not guarded:
                        found.append(f"line {node.lineno}: {change}")
            if _is_admin_check(statement) and not hasattr(statement, "body"):
                guarded = True
            for name in ("body", "orelse", "finalbody"):
                visit(getattr(statement, name, []) or [], guarded)
            for handler in getattr(statement, "handlers", []) or []:
                visit(handler.body, guarded)

    visit(tree.body, False)
    return found


def _change(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    name = ast.unparse(node.func)
    if name == "store.writing" or name.rsplit(".", 1)[-1] in MUTATIONS:
        return name
    return None


@pytest.mark.parametrize(
    "path", sorted((ROOT / "dashboard" / "app_pages").glob("*.py")), ids=lambda p: p.name
)
def test_every_change_from_a_page_checks_for_an_admin_first(path: Path) -> None:
    """Role checks sit right before each change, not only around the buttons that lead there."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert _unguarded_changes(tree) == []


def test_the_admin_check_detector_finds_an_unguarded_change() -> None:
    tree = ast.parse(
        "def save():\n"
        "    if clicked:\n"
        "        with store.writing() as session:\n"
        "            accounts.update_settings(session=session)\n"
        "def guarded():\n"
        "    if clicked:\n"
        "        actor = identity.require_admin('x')\n"
        "        with store.writing() as session:\n"
        "            pass\n"
        "        accounts.connect(runtime)\n"
    )
    assert _unguarded_changes(tree) == ["line 3: store.writing"]
