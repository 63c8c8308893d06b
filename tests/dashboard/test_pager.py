"""The pager under the tables: First / Previous / "Page N of M" / Next / Last, its numbers with
thousands separators (issue 13 items 8 and 11)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _app(total: int, start: int | None = None) -> AppTest:
    def script(total: int, start: int | None) -> None:
        import streamlit as st

        from dashboard import pager

        if start is not None:
            st.session_state.setdefault("page", start)
        limit, offset = pager.page_range(total, key="page")
        st.text(f"rows {offset}+{limit}")
        pager.controls(total, key="page")

    app = AppTest.from_function(script, args=(total, start), default_timeout=30)
    app.run()
    assert not app.exception
    return app


def _page_text(app: AppTest) -> str:
    return next(m.value for m in app.markdown if m.value.startswith("Page "))


def _buttons(app: AppTest) -> dict[str, bool]:
    """The pager's buttons: label → disabled."""
    return {button.label: button.disabled for button in app.button}


def test_the_pager_reads_large_counts_with_separators() -> None:
    app = _app(850_411, start=17_009)
    assert _page_text(app) == "Page **17,009** of **17,009**"
    assert [caption.value for caption in app.caption] == ["Showing 850,401 to 850,411 of 850,411"]
    assert app.text[0].value == "rows 850400+50"


def test_the_pager_has_first_previous_next_last_and_stops_at_the_ends() -> None:
    app = _app(120)
    assert _buttons(app) == {"First": True, "Previous": True, "Next": False, "Last": False}
    assert _page_text(app) == "Page **1** of **3**"

    app.button(key="page_next").click().run()
    assert _page_text(app) == "Page **2** of **3**"
    assert app.text[0].value == "rows 50+50"
    assert _buttons(app) == {"First": False, "Previous": False, "Next": False, "Last": False}

    app.button(key="page_last").click().run()
    assert _page_text(app) == "Page **3** of **3**"
    assert [caption.value for caption in app.caption] == ["Showing 101 to 120 of 120"]
    assert _buttons(app) == {"First": False, "Previous": False, "Next": True, "Last": True}

    app.button(key="page_previous").click().run()
    assert _page_text(app) == "Page **2** of **3**"
    app.button(key="page_first").click().run()
    assert _page_text(app) == "Page **1** of **3**"
    assert app.text[0].value == "rows 0+50"


def test_a_page_past_the_end_falls_back_to_the_last_one() -> None:
    """A filter that shrinks the result leaves the pager on its last page, not past it."""
    app = _app(60, start=40)
    assert _page_text(app) == "Page **2** of **2**"
    assert app.text[0].value == "rows 50+50"


def test_nothing_to_show_is_one_empty_page() -> None:
    app = _app(0)
    assert [caption.value for caption in app.caption] == ["Nothing matches."]
    assert _page_text(app) == "Page **1** of **1**"
    assert set(_buttons(app).values()) == {True}
