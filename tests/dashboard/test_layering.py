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
