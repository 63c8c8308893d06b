"""The pager under the tables says its numbers with thousands separators (issue 13 item 11)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def test_the_pager_reads_large_counts_with_separators() -> None:
    def script() -> None:
        import streamlit as st

        from dashboard import context

        st.session_state.setdefault("page", 17_009)
        context.pager(850_411, key="page")

    app = AppTest.from_function(script, default_timeout=30)
    app.run()
    assert not app.exception
    assert app.number_input(key="page").label == "Page (of 17,009)"
    assert [caption.value for caption in app.caption] == ["Showing 850,401 to 850,411 of 850,411"]
