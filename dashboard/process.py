"""The Streamlit process's runtime and settings: built once, shared by every rerun and browser
session (``st.cache_resource``), the store migrated on first use."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import streamlit as st
from pydantic import Field

from sync_engine.config import Settings
from sync_engine.runtime import Runtime, build_runtime


class DashboardSettings(Settings):
    """The engine's settings plus the dashboard's own (same ``CWSYNC_`` prefix)."""

    scheduler: bool = Field(
        default=True, description="Run the sync scheduler inside the dashboard process"
    )
    refresh_seconds: float = Field(default=5.0, ge=1, description="Live refresh of status pages")


@st.cache_resource(show_spinner="Opening the store…")
def runtime() -> Runtime:
    """The process's runtime, built from ``CWSYNC_*`` settings (store migrated on first use)."""
    return build_runtime(DashboardSettings())


def settings() -> DashboardSettings:
    """The dashboard's settings."""
    return cast(DashboardSettings, runtime().settings)


def now() -> datetime:
    """The runtime's clock."""
    return runtime().clock()
