"""The layers as import contracts (pyproject.toml ``[tool.importlinter]``, STYLE points 1 and 14):
nothing of the engine package imports the dashboard or Streamlit; the simulator imports nothing of
ours; the engine does not import the app-facing services; the dashboard reaches the
store and Clockwork only through the services. CI also runs ``lint-imports`` on its own."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
         "sys.exit(lint_imports_command())", "--no-cache"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_every_import_contract_is_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_engine_module_importing_a_service_breaks_a_contract(tmp_path: Path) -> None:
    """The contracts are live: the same configuration over a copy with one forbidden import."""
    for name in ("sync_engine", "clockwork_simulator", "dashboard"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "sync_engine" / "engine" / "shortcut.py").write_text(
        "from sync_engine.services.queries.reason_texts import reason_info\n", encoding="utf-8"
    )
    result = _lint_imports(tmp_path)
    assert result.returncode == 1
    assert (
        "sync_engine.engine.shortcut -> sync_engine.services.queries.reason_texts" in result.stdout
    )


def test_the_simulator_importing_the_engine_package_breaks_a_contract(tmp_path: Path) -> None:
    """The simulator stays a stand-alone fake: one import of ours from it is refused."""
    for name in ("sync_engine", "clockwork_simulator", "dashboard"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "clockwork_simulator" / "shortcut.py").write_text(
        "from sync_engine.domain import normalize_email\n", encoding="utf-8"
    )
    result = _lint_imports(tmp_path)
    assert result.returncode == 1
    assert "clockwork_simulator.shortcut -> sync_engine.domain" in result.stdout


def _ignored_imports(source: str) -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [
        contract
        for contract in config["tool"]["importlinter"]["contracts"]
        if contract["source_modules"] == [source]
    ]
    return list(contract.get("ignore_imports", []))


def test_the_engine_contract_has_no_exception() -> None:
    """The store key's error sits below the services (sync_engine.errors): no ignored import."""
    assert _ignored_imports("sync_engine.engine") == []


def test_the_dashboard_contract_excepts_only_the_scheduler_it_hosts() -> None:
    """The connect form's default address comes from sync_engine.domain, not the client."""
    assert _ignored_imports("dashboard") == ["dashboard.scheduler -> sync_engine.engine.scheduler"]
