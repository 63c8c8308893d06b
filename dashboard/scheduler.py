"""The sync scheduler the dashboard process hosts: started once per process unless
``CWSYNC_SCHEDULER=false``, and a pass run now on request (the demo's button)."""

from __future__ import annotations

import atexit
from collections import Counter
from dataclasses import dataclass

import streamlit as st

from dashboard import process
from sync_engine.engine.scheduler import EngineHandle, start_engine


@dataclass
class EngineStatus:
    """The scheduler of this process, or why there is none."""

    handle: EngineHandle | None
    message: str | None = None

    @property
    def running(self) -> bool:
        """Whether passes are being scheduled."""
        return self.handle is not None and self.handle.running


@st.cache_resource(show_spinner="Starting the sync scheduler…")
def engine() -> EngineStatus:
    """Start the sync scheduler once per process (unless ``CWSYNC_SCHEDULER=false``)."""
    if not process.settings().scheduler:
        return EngineStatus(  # the setting is CWSYNC_SCHEDULER=false: staff need not know its name
            None, "This dashboard does not run syncs: another engine process must run them."
        )
    handle = start_engine(process.runtime())
    atexit.register(handle.shutdown, wait=False)
    return EngineStatus(handle)


def run_pass_now() -> Counter[str] | None:
    """One sync pass in this process now, and what it did; None when no scheduler runs here."""
    handle = engine().handle
    if handle is None:
        return None
    return handle.engine.run_pass(trigger="manual")
