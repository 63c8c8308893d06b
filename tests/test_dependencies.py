"""Dependency floors and the lock file: no release with a known advisory is allowed, and
``requirements.lock`` (what CI installs) pins every dependency at a version pyproject allows."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements() -> dict[str, Requirement]:
    project = _pyproject()["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["test"]
    build = _pyproject()["build-system"]["requires"]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines + build)}


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


@pytest.mark.parametrize(
    ("name", "vulnerable"),
    [
        ("starlette", "0.47.1"),
        ("cryptography", "44.0.0"),
        ("setuptools", "69.5.1"),
        ("h11", "0.15.0"),  # through httpx
        ("idna", "3.6"),
    ],
)
def test_floors_exclude_releases_with_known_advisories(name: str, vulnerable: str) -> None:
    requirement = _requirements().get(name)
    assert requirement is not None, f"{name} has no floor of its own in pyproject.toml"
    assert not requirement.specifier.contains(vulnerable, prereleases=True)


def test_the_lock_pins_every_dependency_within_what_pyproject_allows() -> None:
    pins = _lock()
    for name, requirement in _requirements().items():
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, pyproject.toml wants {requirement}"
        )
