"""The demo's client of the ingest API: events go through the API under a token of its own, and
a demo reset (which deletes every row, tokens included) does not break the next event."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from sync_engine.demo.ingest import DEMO_TOKEN_NAME, DemoIngest
from sync_engine.ingest.models import IngestDelivery, IngestToken
from sync_engine.models import Activity, ActivityKind, table_of
from sync_engine.services.errors import NotFoundError
from tests.ingest.conftest import Api


def test_demo_events_go_through_the_api_and_survive_a_token_deleted_by_a_reset(
    sqlite_api: Api,
) -> None:
    api = sqlite_api
    assert api.put_sequence("seq-1").status_code == 201
    added = api.call("POST", "/sequences/seq-1/contacts", {"email": "ada@example.com"}).json()
    demo = DemoIngest(api.runtime)
    try:
        first = demo.record_event(
            account_id=api.account_id, enrollment_id=added["enrollment_id"],
            kind=ActivityKind.OPENED, subject="Hi",
        )  # fmt: skip
        assert first["result"] == "recorded"
        with api.runtime.db.write() as session:  # what the demo reset does to tokens
            session.execute(sa.delete(table_of(IngestToken)))
        # The serve process reads a token again after its cache time (5 s): here, at once.
        served = demo._server._app
        assert served is not None
        served.state.ingest.tokens.ttl = 0
        second = demo.record_event(
            account_id=api.account_id, enrollment_id=added["enrollment_id"],
            kind=ActivityKind.REPLIED, subject="Re: Hi",
        )  # fmt: skip
        assert second["result"] == "recorded"
        with pytest.raises(NotFoundError, match="no enrollment 999"):
            demo.record_event(
                account_id=api.account_id, enrollment_id=999, kind=ActivityKind.SENT, subject=""
            )
    finally:
        demo.close()
    with api.runtime.db.read() as session:
        kinds = sorted(a.kind for a in session.exec(select(Activity)).all())
        names = [t.name for t in session.exec(select(IngestToken)).all()]
        routes = {d.route for d in session.exec(select(IngestDelivery)).all()}
    assert kinds == ["opened", "replied"]
    assert names == [DEMO_TOKEN_NAME]
    assert "POST events" in routes
