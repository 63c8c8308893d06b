"""No module over 500 lines without saying why (issue 14, STYLE): its docstring has a paragraph
starting "Past 500 lines on purpose:" with the reason, so a room holding several jobs is seen."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sync_engine", "dashboard", "clockwork_simulator", "uvicorn_thread")
LIMIT = 500
REASON = "Past 500 lines on purpose:"


def _long_modules_without_a_reason(root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            lines = source.count("\n")
            docstring = ast.get_docstring(ast.parse(source)) or ""
            if lines > LIMIT and REASON not in docstring:
                found.append(f"{path.relative_to(root)} ({lines} lines)")
    return found


def test_every_module_over_500_lines_states_its_reason() -> None:
    assert _long_modules_without_a_reason(ROOT) == []


def test_a_long_module_without_a_reason_is_found(tmp_path: Path) -> None:
    (tmp_path / "sync_engine").mkdir()
    (tmp_path / "sync_engine" / "big.py").write_text(
        '"""Several jobs."""\n' + "x = 1\n" * LIMIT, encoding="utf-8"
    )
    (tmp_path / "sync_engine" / "explained.py").write_text(
        f'"""One job.\n\n{REASON} one table.\n"""\n' + "x = 1\n" * LIMIT, encoding="utf-8"
    )
    for package in PACKAGES[1:]:
        (tmp_path / package).mkdir()
    assert _long_modules_without_a_reason(tmp_path) == ["sync_engine/big.py (501 lines)"]
