"""Text from Clockwork, a CSV, the outreach platform or a user is shown as plain text on every
page (issue 12 item 6), Alerts, Verify and the Integrations page's ingest panel included.

Every name, reason and message the dashboard shows is given a hostile value: a Markdown link
and image, raw HTML, a bare URL, a ``www.`` host and an email address (the three GitHub-flavoured
autolinks Streamlit's remark-gfm makes even from backslash-escaped text). Every page is
rendered through AppTest, every string Streamlit reads as Markdown (markdown, captions, alerts,
toasts, headings, labels, help, metric labels, radio options, tab and expander labels) is parsed
the way the browser would, and none may yield a link, an image or an HTML element made from the
hostile values. Dataframes, ``st.text`` and select options are plain text in Streamlit.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from markdown_it import MarkdownIt
from markdown_it.token import Token
from streamlit.testing.v1 import AppTest

from clockwork_simulator import SimulatorServer
from dashboard import theme
from dashboard.plain_text import plain
from sync_engine.alerts.destinations import add_destination
from sync_engine.alerts.evaluate import evaluate
from sync_engine.ingest import credentials
from sync_engine.ingest.models import DeliveryOutcome, IngestDelivery
from sync_engine.models import ActivityKind, ApiCall, ClockworkConnection, EngineRun, Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, events
from sync_engine.verify.models import CheckStatus, ContactCheck, Drift, VerifyRun, VerifyState
from tests.dashboard.conftest import by_label, open_page
from tests.factories import SIM_FIRM, connection_fields, enroll

MARKER = "evil.test"


def hostile(tag: str) -> str:
    """A value that would become a phishing link, a tracking pixel, HTML and three autolinks if
    it were read as Markdown; ``tag`` says where it came from."""
    return (
        f"{tag} [Sign in again](http://{MARKER}/p) ![t](http://{MARKER}/t.png) <img src=x> "
        f"http://{MARKER} www.{MARKER} {tag}@{MARKER} **b** :red[r]"
    )


def short_hostile(tag: str) -> str:
    """:func:`hostile` within 100 characters (a token's name): a link, HTML and an autolink."""
    return f"{tag} [Sign in](http://{MARKER}/p) <img src=x> {tag}@{MARKER} :red[r]"


# --- what the browser would make of a Markdown string ---------------------------------------

_MARKDOWN = MarkdownIt("commonmark").enable(["strikethrough", "table"])
# remark-gfm's autolink literals (mdast-util-gfm-autolink-literal), found in text after escapes
# are resolved: a backslash does not stop them.
_AUTOLINK_LITERALS = [
    re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE),
    re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"),
]
# Where Streamlit reads Markdown: these fields of any element or block...
_MARKDOWN_FIELDS = {"body", "label", "help", "caption", "captions"}
# ...except in the elements that show their body as plain text.
_PLAIN_ELEMENTS = {"Text", "Code", "Json", "Exception", "Arrow", "Empty"}


def _tokens(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from _tokens(token.children or [])


def made_from(markdown: str) -> list[str]:
    """Links, images, HTML and autolinks that ``markdown`` renders to and that hold the hostile
    marker."""
    found = []
    for token in _tokens(_MARKDOWN.parse(markdown)):
        target = f"{token.attrGet('href') or ''}{token.attrGet('src') or ''}"
        if token.type in ("link_open", "image") and MARKER in target:
            found.append(f"{token.type} {target}")
        elif token.type in ("html_inline", "html_block"):
            found.append(f"{token.type} {token.content.strip()}")
        elif token.type == "text":
            for pattern in _AUTOLINK_LITERALS:
                found.extend(
                    f"autolink {m.group(0)}" for m in pattern.finditer(token.content)
                    if MARKER in m.group(0)
                )  # fmt: skip
    return found


def _strings(message: Any, markdown: bool) -> Iterator[tuple[str, str]]:
    """(where, text) of every Markdown-read string field in a protobuf message, recursively."""
    kind = message.DESCRIPTOR.name
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if field.message_type is not None:
                yield from _strings(item, markdown and kind not in _PLAIN_ELEMENTS)
            elif (
                isinstance(item, str)
                and markdown
                and kind not in _PLAIN_ELEMENTS
                and (field.name in _MARKDOWN_FIELDS or (kind, field.name) == ("Radio", "options"))
            ):
                yield f"{kind}.{field.name}", item


def markdown_strings(app: AppTest) -> list[tuple[str, str]]:
    """Every string of the last run that Streamlit renders as Markdown."""
    found: list[tuple[str, str]] = []
    for node in app._tree:
        proto = getattr(node, "proto", None)
        if proto is not None:
            found.extend(_strings(proto, markdown=True))
    return found


# The dashboard's own style sheets (st.html of constants, no outside text in them): HTML by
# design, and the only HTML a page may hold.
OWN_STYLES = {theme.CSS.strip(), theme.NARROW_CSS.strip()}


def assert_plain(app: AppTest, where: str) -> set[str]:
    """Nothing hostile became a link, image or HTML; returns the tags shown through Markdown."""
    assert not app.exception, [e.value for e in app.exception]
    shown: set[str] = set()
    for field, text in markdown_strings(app):
        if field == "Html.body" and text.strip() in OWN_STYLES:
            continue
        assert not made_from(text), f"{where}: {field} renders {made_from(text)} from {text!r}"
        shown.update(re.findall(r"(\w+)\u2060\\@evil", text))
    return shown


# --- the test of the test -------------------------------------------------------------------


def test_the_browser_model_finds_what_remark_gfm_would_make() -> None:
    text = hostile("x")
    assert {kind.split()[0] for kind in made_from(text)} == {
        "link_open", "image", "html_inline", "autolink",
    }  # fmt: skip
    backslashed = "".join(f"\\{c}" if c in "\\`*_{}[]()#+-.!|<>:~$=@" else c for c in text)
    # The link and image targets and the bare URL, the www. host and the email: as in chromium.
    assert [kind.split()[0] for kind in made_from(backslashed)] == ["autolink"] * 5
    assert made_from(plain(text)) == []


# --- every page, with hostile names, reasons and messages -----------------------------------


@pytest.fixture
def hostile_store(store: Runtime, simulator: SimulatorServer) -> dict[str, int]:
    """An account, sequence, project, contacts, review candidates, errors, engine runs, API calls,
    audit entries, an alert destination and incident, a failed verification and a drifted
    contact, an ingest token and a refused delivery, whose every outside value is
    :func:`hostile`."""
    project = simulator.state.add_project(SIM_FIRM, hostile("project"))
    with store.db.write() as session:
        account = accounts.create_account(
            session=session, name=hostile("account"), actor=hostile("actor")
        )
    assert account.id is not None
    accounts.connect(
        store, account_id=account.id, fields=connection_fields(simulator.base_url), actor="t"
    )
    with store.db.write() as session:
        accounts.update_settings(
            session=session, account_id=account.id,
            changes={"default_project_id": project["id"], "activity_tracking": False},
            actor=hostile("actor"),
        )  # fmt: skip
        sequence = accounts.add_sequence(
            session=session, account_id=account.id, name=hostile("sequence"),
            project_id=project["id"], actor=hostile("actor"),
        )  # fmt: skip
    assert sequence.id is not None
    people = {
        tag: enroll(
            store, sequence.id, f"{tag}@example.com", first_name=hostile(f"{tag}first"),
            last_name=hostile(f"{tag}last"), title=hostile(f"{tag}title"),
            company=hostile(f"{tag}company"),
        )
        for tag in ("failed", "review", "queued")
    }  # fmt: skip
    with store.db.write() as session:
        events.record_event(
            session=session, enrollment_id=people["queued"], kind=ActivityKind.REPLIED, at=None,
            subject=hostile("subject"),
        )  # fmt: skip
        failed = session.get(Enrollment, people["failed"])
        review = session.get(Enrollment, people["review"])
        assert failed is not None and review is not None
        failed.status, failed.reason, failed.next_attempt_at = "failed", "validation_error", None
        failed.last_error = hostile("error")
        review.status, review.reason, review.next_attempt_at = (
            "needs_review", "ambiguous_linkedin_match", None,
        )  # fmt: skip
        review.review_candidates = [
            {"id": "p-a", "name": hostile("candidate"), "emails": [hostile("cemail")],
             "position": hostile("position")},
            {"id": "p-b", "name": "Ken Thompson", "emails": [], "position": "CTO"},
        ]  # fmt: skip
        connection = session.exec(sa.select(ClockworkConnection)).scalars().one()  # type: ignore[call-overload]
        connection.state, connection.last_error = "needs_attention", hostile("connection")
        session.add_all([failed, review, connection])
        session.add(
            EngineRun(
                started_at=store.clock(), finished_at=store.clock(), trigger="job_error",
                worker="w", error=hostile("run"),
            )
        )  # fmt: skip
        session.add(
            ApiCall(
                account_id=account.id, at=store.clock(), method="GET", path="/people",
                status=422, latency_ms=3.0, error=hostile("call"),
            )
        )  # fmt: skip
    # Alerts: a destination a user named, and the incident of the needs-attention connection,
    # whose detail quotes Clockwork's error.
    add_destination(
        store, account_id=account.id, actor=hostile("actor"),
        fields={"kind": "webhook", "url": "http://127.0.0.1:9/hook", "label": hostile("dest")},
    )  # fmt: skip
    assert evaluate(store), "the needs-attention connection raised no incident"
    with store.db.write() as session:
        contact_id = session.get(Enrollment, people["failed"]).contact_id  # type: ignore[union-attr]
        run = VerifyRun(
            account_id=account.id, state=VerifyState.FAILED, requested_by=hostile("requester"),
            total=1, checked=1, drifted=1, finished_at=store.clock(), error=hostile("verify"),
        )  # fmt: skip
        session.add(run)
        session.flush()
        session.add(
            ContactCheck(
                contact_id=contact_id, account_id=account.id, run_id=run.id,
                status=CheckStatus.DRIFTED, reason=hostile("drift"),
                findings=[{"drift": Drift.PERSON_MISSING.value}], checked_at=store.clock(),
            )
        )  # fmt: skip
        credentials.create_token(
            session=session, account_id=account.id, name=short_hostile("token"),
            actor=hostile("actor"),
        )  # fmt: skip
        session.add(
            IngestDelivery(
                account_id=account.id, received_at=store.clock(), route=hostile("route"),
                outcome=DeliveryOutcome.REJECTED, status_code=422, reason=hostile("why"),
            )
        )  # fmt: skip
    return {"account_id": account.id, "sequence_id": sequence.id, **people}


def test_every_page_shows_hostile_values_as_plain_text(hostile_store: dict[str, int]) -> None:
    shown: set[str] = set()
    for page in ("overview", "contacts", "activity", "sync_log", "alerts", "verify",
                 "audit_log", "integrations", "sync_settings", "sequences"):  # fmt: skip
        shown |= assert_plain(open_page(page), page)

    for enrollment in ("failed", "review"):  # the detail view, its reason and the review choice
        app = open_page("contacts")
        app.query_params["enrollment"] = str(hostile_store[enrollment])
        app.run()
        shown |= assert_plain(app, f"contacts detail ({enrollment})")

    app = open_page("activity", backfill_open=True)  # the opened backfill preview: the reply
    shown |= assert_plain(app, "activity backfill")

    app = open_page("sync_settings")  # the preview of a change names the hostile project
    app.selectbox(key=f"settings_{hostile_store['account_id']}_project").set_value(None).run()
    shown |= assert_plain(app, "sync settings preview")

    app = open_page("sequences")  # the Syncing tab's preview, then the re-sync preview
    key = f"sequence_{hostile_store['sequence_id']}"
    app.selectbox(key=f"{key}_project").set_value(None).run()
    shown |= assert_plain(app, "sequence preview")
    by_label(app.button, "Preview re-sync").click().run()
    shown |= assert_plain(app, "re-sync preview")

    # Through Markdown, these came out escaped (so the test looked where it matters); an engine
    # run's error is shown with st.text now, plain by construction.
    assert {"account", "project", "failedfirst", "candidate"} <= shown, shown
    # Alerts (the destination's name, the incident quoting Clockwork), Verify (why the run
    # stopped), the ingest panel (the refused delivery's route and reason).
    assert {"dest", "connection", "verify", "route", "why"} <= shown, shown


def test_what_a_user_types_is_plain_in_messages_and_toasts(
    hostile_store: dict[str, int],
) -> None:
    app = open_page("integrations")  # a duplicate name: the error quotes it
    by_label(app.text_input, "Account name").input(hostile("account"))
    by_label(app.button, "Create account").click().run()
    assert app.error, "the duplicate was not refused"
    assert "account" in assert_plain(app, "duplicate account error")

    app = open_page("sequences")  # a created sequence: the toast names it
    by_label(app.text_input, "Name").input(hostile("newsequence"))
    by_label(app.button, "Create sequence").click().run()
    assert "newsequence" in assert_plain(app, "sequence created toast")
    assert any("newsequence" in str(toast.value) for toast in app.toast)

    app = open_page("integrations")  # a revoked ingest token: the toast names it
    by_label(app.button, "Revoke").click().run()
    assert "token" in assert_plain(app, "token revoked toast")
    assert any("token" in str(toast.value) for toast in app.toast)


class _Refuses(BaseHTTPRequestHandler):
    """A Clockwork that answers every request with a 422 whose message is hostile."""

    def do_GET(self) -> None:
        body = json.dumps({"error": hostile("problem")}).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_clockwork() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_clockworks_error_message_is_plain_text(
    store: Runtime, hostile_store: dict[str, int], refusing_clockwork: str
) -> None:
    """The attack of the issue: a /projects 422 whose message holds a link and an image."""
    with store.db.write() as session:
        connection = session.exec(sa.select(ClockworkConnection)).scalars().one()  # type: ignore[call-overload]
        connection.base_url, connection.state = refusing_clockwork, "connected"
        session.add(connection)
    for page in ("sync_settings", "integrations"):
        app = open_page(page)
        if page == "integrations":
            by_label(app.button, "Test connection").click().run()
        assert "problem" in assert_plain(app, page), page
