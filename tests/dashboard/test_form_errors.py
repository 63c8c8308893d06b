"""The dashboard's forms and links answer bad input with a message, never a traceback (issue 12
item 8): credentials the HTTP client cannot send, and ids too large for the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from dashboard.plain_text import plain
from tests.dashboard.conftest import by_label, new_app, open_page
from tests.factories import connection_fields


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("API key", "sim api key", "api_key must be non-empty printable ASCII without spaces"),
        ("Base URL", "http://127.0.0.1:9/?firm=x", "must be an http(s) URL with a host and no"),
    ],
)
def test_credentials_the_client_cannot_send_get_a_message(
    account_id: int, field: str, value: str, message: str
) -> None:
    app = open_page("integrations")
    typed = {**connection_fields("http://127.0.0.1:9"), "api_key": "sim-api-key"}
    for label, name in (
        ("Firm name", "firm"), ("API key", "api_key"), ("API secret", "api_secret"),
        ("Firm service key", "firm_service_key"), ("Base URL", "base_url"),
    ):  # fmt: skip
        by_label(app.text_input, label).input(value if label == field else typed[name])
    by_label(app.button, "Save and test connection").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(plain(message) in str(error.value) for error in app.error), [
        e.value for e in app.error
    ]


@pytest.mark.parametrize("link", ["99999999999999999999999", "\u00b2", "-1", "0"])
def test_a_contact_link_with_an_id_no_store_can_hold_is_ignored(account_id: int, link: str) -> None:
    app = open_page("contacts")
    app.query_params["enrollment"] = link
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value == "Contacts"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql+psycopg://cwsync:secret-pw@127.0.0.1:9/none", "cannot be used"),
        ("sqlite:///{tmp}/a-file/store.db", "cannot be opened"),  # its folder is a file
    ],
)
def test_a_store_the_dashboard_cannot_open_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, reason: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("CWSYNC_DATABASE_URL", url.format(tmp=tmp_path))
    monkeypatch.setenv("CWSYNC_DEMO", "false")
    monkeypatch.setenv("CWSYNC_SCHEDULER", "false")
    st.cache_resource.clear()
    try:
        app = new_app()
        app.run()
    finally:
        st.cache_resource.clear()
    assert not app.exception, [e.value for e in app.exception]
    shown = " ".join(str(error.value) for error in app.error)
    assert reason in shown, shown
    assert "secret-pw" not in shown
