"""The direction of dependencies (STYLE point 1): the engine never imports Streamlit, and the
dashboard reaches the store and Clockwork only through the service layer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_DASHBOARD = ("sqlalchemy", "sqlmodel", "httpx", "sync_engine.db")
ALLOWED_MODEL_NAMES = {"ActivityKind", "ActivityState", "ConnectionState", "SyncMode"}


def _runtime_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) imported outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize(
    "path", sorted((ROOT / "sync_engine").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_engine_never_imports_streamlit(path: Path) -> None:
    modules = [module for module, _ in _runtime_imports(path)]
    assert not [m for m in modules if m.split(".")[0] == "streamlit"]


@pytest.mark.parametrize(
    "path", sorted((ROOT / "dashboard").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_dashboard_uses_services_not_sql_or_http(path: Path) -> None:
    for module, names in _runtime_imports(path):
        if module == "sync_engine.models":
            # The vocabulary's enumerations are fine; tables are not.
            assert set(names) <= ALLOWED_MODEL_NAMES, (module, names)
            continue
        assert not module.startswith(FORBIDDEN_IN_DASHBOARD), module
    source = path.read_text(encoding="utf-8")
    assert not re.search(r"\.exec\(|(?<![\w.])select\(", source), "a query in the dashboard"


def test_pages_render_no_raw_html() -> None:
    for path in (ROOT / "dashboard").rglob("*.py"):
        assert "unsafe_allow_html" not in path.read_text(encoding="utf-8"), path


# Calls that change the store, Clockwork or the demo simulator (besides ``context.writing()``).
MUTATIONS = {
    "connect", "apply_resync", "plan_resync", "put_person_in_clockwork", "set_account_key_revoked",
    "reconnect", "seed_demo", "set_faults", "run_pass", "check_connection",
}  # fmt: skip


def _is_admin_check(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call) and ast.unparse(call.func) == "context.require_admin"
        for call in ast.walk(node)
    )


def _unguarded_changes(tree: ast.Module) -> list[str]:
    """Changes in a page not preceded, on the way down to them, by ``context.require_admin``."""
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
    if name == "context.writing" or name.rsplit(".", 1)[-1] in MUTATIONS:
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
        "        with context.writing() as session:\n"
        "            accounts.update_settings(session=session)\n"
        "def guarded():\n"
        "    if clicked:\n"
        "        actor = context.require_admin('x')\n"
        "        with context.writing() as session:\n"
        "            pass\n"
        "        accounts.connect(runtime)\n"
    )
    assert _unguarded_changes(tree) == ["line 3: context.writing"]
