"""The demo's path through the ingest API: the dashboard's Demo controls add contacts and send
email events to an ingest API it serves on loopback, as the outreach platform would, instead of
writing the store directly.

:class:`DemoIngest` starts the API in a thread over the dashboard's runtime and creates one token
per account the first time it sends for it (named "Demo controls", audited, kept in memory only).
A sequence made on the dashboard gets the platform reference ``demo-<id>`` the first time a
contact is sent to it, as a customer would link a campaign.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx

from sync_engine.domain import ActivityKind
from sync_engine.ingest import credentials, service
from sync_engine.ingest.server import IngestServer
from sync_engine.runtime import Runtime
from sync_engine.services.errors import InvalidInputError, NotFoundError

DEMO_TOKEN_NAME = "Demo controls"


class DemoIngest:
    """An ingest API on loopback for the demo, and a client of it."""

    def __init__(self, runtime: Runtime, *, actor: str = "demo") -> None:
        self._runtime = runtime
        self._actor = actor
        self._server = IngestServer(runtime)
        self._server.start()
        self._tokens: dict[int, str] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=self._server.base_url, timeout=15)

    @property
    def base_url(self) -> str:
        """Where the API answers, e.g. ``http://127.0.0.1:54321``."""
        return self._server.base_url

    def _token(self, account_id: int) -> str:
        with self._lock:
            token = self._tokens.get(account_id)
            if token is None:
                with self._runtime.db.write() as session:
                    token = credentials.create_token(
                        session=session, account_id=account_id, name=DEMO_TOKEN_NAME,
                        actor=self._actor,
                    ).token  # fmt: skip
                self._tokens[account_id] = token
            return token

    def record_event(
        self, *, account_id: int, enrollment_id: int, kind: ActivityKind, subject: str
    ) -> dict[str, Any]:
        """POST the event to ``/v1/accounts/{account}/events``; the API's answer, or a
        :class:`~sync_engine.services.errors.ServiceError` with its message."""
        body = {"kind": kind.value, "enrollment_id": enrollment_id, "subject": subject}
        return self._send(account_id, "/events", body)

    def add_contacts(
        self, *, account_id: int, sequence_id: int, contacts: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """POST the contacts to the sequence's ``contacts/batch`` route; the API's result per
        contact (``added`` or ``already_enrolled`` with the enrollment id), or a
        :class:`~sync_engine.services.errors.ServiceError` with its message when none was
        accepted."""
        ref = self._sequence_ref(account_id, sequence_id)
        answer = self._send(account_id, f"/sequences/{ref}/contacts/batch", {"contacts": contacts})
        return [dict(item) for item in answer["items"]]

    def _sequence_ref(self, account_id: int, sequence_id: int) -> str:
        ref = f"demo-{sequence_id}"
        with self._runtime.db.write() as session:
            try:
                linked = service.find_sequence(session=session, account_id=account_id, ref=ref)
            except NotFoundError:
                service.link_sequence(
                    session=session, account_id=account_id, ref=ref, sequence_id=sequence_id
                )
                return ref
        if linked.id != sequence_id:
            raise InvalidInputError(f"the reference {ref} names another sequence in this account")
        return ref

    def _send(self, account_id: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` once per delivery key; a token the store no longer has (a demo reset
        deletes every row) is replaced once."""
        key = uuid.uuid4().hex
        answer = self._post(account_id, path, body, key)
        if answer.status_code == 401:
            with self._lock:
                self._tokens.pop(account_id, None)
            answer = self._post(account_id, path, body, key)
        content = answer.json() if _is_json(answer) else {}
        if answer.status_code == 404:
            raise NotFoundError(_message(content, answer))
        if answer.status_code >= 400:
            raise InvalidInputError(_message(content, answer))
        return dict(content)

    def _post(self, account_id: int, path: str, body: dict[str, Any], key: str) -> httpx.Response:
        return self._client.post(
            f"/v1/accounts/{account_id}{path}",
            json=body,
            headers={
                "Authorization": f"Bearer {self._token(account_id)}",
                "Idempotency-Key": key,
            },
        )

    def close(self) -> None:
        """Stop the API."""
        self._client.close()
        self._server.stop()


def _is_json(answer: httpx.Response) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


def _message(body: dict[str, Any], answer: httpx.Response) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return f"the ingest API answered {answer.status_code}"


__all__ = ["DEMO_TOKEN_NAME", "DemoIngest"]
