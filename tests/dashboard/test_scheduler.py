"""The scheduler the dashboard process hosts: started unless ``CWSYNC_SCHEDULER=false``, and a
pass run on request (the demo's "Run a sync pass") through it, or None when none runs here."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from sync_engine.runtime import Runtime


def _script() -> None:  # runs as a Streamlit script
    import streamlit as st

    from dashboard import scheduler

    status = scheduler.engine()
    try:
        counts = scheduler.run_pass_now()
        st.text(f"running={status.running} message={status.message} counts={counts!r}")
    finally:
        if status.handle is not None:
            status.handle.shutdown()


def _run() -> str:
    app = AppTest.from_function(_script, default_timeout=30)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return str(app.text[0].value)


def test_a_pass_run_now_goes_through_the_process_scheduler(
    store: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CWSYNC_SCHEDULER", "true")
    assert _run() == "running=True message=None counts=Counter({'claimed': 0})"


def test_without_a_scheduler_there_is_no_pass_to_run_and_the_reason_is_given(
    store: Runtime,
) -> None:
    assert _run() == (
        "running=False message=This dashboard does not run syncs: another engine process must run them. counts=None"
    )
