"""The Demo controls' actions, called by the dashboard's page like any service: add contacts and
record email events (through the demo's ingest API when it runs, as the outreach platform
would), put a person in the demo Clockwork first, break and heal the demo Clockwork (faults, a
revoked key), and reset the demo.

The store's secrets stay in the connection service: a key is revoked in the simulator by
matching its masked hint, and a restored key is checked again with :func:`accounts.reverify`.
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager
from dataclasses import dataclass

from clockwork_simulator import FaultConfig
from sync_engine.crypto import mask
from sync_engine.demo.admin import SimulatorAdmin
from sync_engine.demo.data import DEMO_ACTOR, made_up_contact
from sync_engine.demo.ingest import DemoIngest
from sync_engine.demo.seed import DemoReport, seed_demo
from sync_engine.domain import ActivityKind, ConnectionState
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, enrollments, events
from sync_engine.services.errors import InvalidInputError, NotFoundError, ServiceError


@dataclass(frozen=True)
class Added:
    """A contact the Demo controls added: its email and enrollment."""

    email: str
    enrollment_id: int


@dataclass
class DemoControls:
    """The embedded demo's moving parts a page acts on: the store, the simulator's address and,
    when it runs, the demo's ingest API (the real path for contacts and events)."""

    runtime: Runtime
    simulator_base_url: str
    ingest: DemoIngest | None = None
    actor: str = DEMO_ACTOR

    def _admin(self) -> AbstractContextManager[SimulatorAdmin]:
        return SimulatorAdmin(self.simulator_base_url)

    # --- contacts and events ------------------------------------------------------------------

    def add_contact(
        self, *, account_id: int, sequence_id: int, fields: dict[str, str], exists: bool = False
    ) -> Added:
        """Add one contact to the sequence, first putting the person in the demo Clockwork when
        ``exists`` (so the sync links it and flags *Exists in Clockwork*)."""
        contact = enrollments.parse_contact(fields)
        self._own_sequence(account_id, sequence_id)
        if exists:
            self.put_person_in_clockwork(account_id=account_id, contact=contact.model_dump())
        if self.ingest is not None:
            (item,) = self.ingest.add_contacts(
                account_id=account_id, sequence_id=sequence_id, contacts=[contact.model_dump()]
            )
            if item.get("result") == "already_enrolled":
                raise InvalidInputError(f"{contact.email} is already in this sequence")
            return Added(contact.email, int(item["enrollment_id"]))
        with self.runtime.db.write() as session:
            enrollment = enrollments.add_contact(
                session=session, sequence_id=sequence_id, contact=contact,
            )  # fmt: skip
        assert enrollment.id is not None
        return Added(contact.email, enrollment.id)

    def add_made_up_contacts(self, *, account_id: int, sequence_id: int, count: int = 5) -> int:
        """Add ``count`` made-up contacts to the sequence; how many were new to it."""
        self._own_sequence(account_id, sequence_id)
        contacts = [made_up_contact(random.randrange(1_000_000)) for _ in range(count)]
        if self.ingest is not None:
            results = self.ingest.add_contacts(
                account_id=account_id, sequence_id=sequence_id, contacts=contacts
            )
            return sum(1 for item in results if item.get("result") == "added")
        report = enrollments.import_contacts(
            session_factory=self.runtime.db.write, sequence_id=sequence_id,
            rows=list(enumerate(contacts, start=1)),
        )  # fmt: skip
        return report.imported

    def record_event(self, *, enrollment_id: int, kind: ActivityKind, subject: str) -> None:
        """Record an email event of the enrollment now (a reply is the second sync trigger)."""
        with self.runtime.db.read() as session:
            enrollment = events.get_enrollment(session=session, enrollment_id=enrollment_id)
        if self.ingest is not None:
            self.ingest.record_event(
                account_id=enrollment.account_id, enrollment_id=enrollment_id, kind=kind,
                subject=subject,
            )  # fmt: skip
            return
        with self.runtime.db.write() as session:
            events.record_event(
                session=session, enrollment_id=enrollment_id, kind=kind, at=None,
                subject=subject,
            )  # fmt: skip

    def _own_sequence(self, account_id: int, sequence_id: int) -> None:
        with self.runtime.db.read() as session:
            sequence = accounts.get_sequence(session=session, sequence_id=sequence_id)
        if sequence.account_id != account_id:
            raise NotFoundError(f"no sequence {sequence_id} in this account")

    # --- the demo Clockwork ---------------------------------------------------------------------

    def put_person_in_clockwork(self, *, account_id: int, contact: dict[str, str]) -> str:
        """Create the contact as a person in the account's simulator firm, as a recruiter would
        have before the integration; returns the person id."""
        firm = self._connection(account_id).firm
        with self._admin() as admin:
            person = admin.seed_person(
                firm,
                first_name=contact.get("first_name", ""),
                last_name=contact.get("last_name", ""),
                emails=[contact["email"]],
                title=contact.get("title") or None,
                company=contact.get("company") or None,
            )
        return str(person["id"])

    def faults(self) -> FaultConfig:
        """The faults the demo Clockwork injects now."""
        with self._admin() as admin:
            return admin.faults()

    def set_faults(self, config: FaultConfig | None) -> None:
        """Put ``config`` in force, or with None clear every fault but the configured latency."""
        cleared = FaultConfig(latency_ms=self.runtime.settings.simulator_latency_ms)
        with self._admin() as admin:
            admin.set_faults(config or cleared)

    def set_key_revoked(self, *, account_id: int, revoked: bool) -> None:
        """Revoke the account's API key in the demo Clockwork (as if the customer rotated it:
        the next sync gets 401 and the connection needs attention), or restore it and connect
        again with the stored credentials (queued work resumes)."""
        connection = self._connection(account_id)
        with self._admin() as admin:
            keys = [
                key for key in admin.api_keys(connection.firm)
                if mask(key) == connection.api_key_hint
            ]  # fmt: skip
            if not keys:
                raise NotFoundError(
                    f"the demo Clockwork has no key like {connection.api_key_hint} in the firm "
                    f"{connection.firm}"
                )
            for key in keys:
                if revoked:
                    admin.revoke_key(key)
                else:
                    admin.restore_key(key)
        if not revoked:
            accounts.reverify(
                self.runtime, account_id=account_id, base_url=self.simulator_base_url,
                actor=self.actor,
            )  # fmt: skip

    def _connection(self, account_id: int) -> accounts.ConnectionSummary:
        with self.runtime.db.read() as session:
            summary = accounts.connection_summary(session=session, account_id=account_id)
        if summary is None or summary.state == ConnectionState.DISCONNECTED:
            raise ServiceError("connect the account to the demo Clockwork first")
        return summary

    # --- the whole demo -----------------------------------------------------------------------

    def reset(self) -> DemoReport:
        """Clear the demo Clockwork's faults, wipe the demo store and seed it again."""
        self.set_faults(None)
        return seed_demo(self.runtime, self.simulator_base_url, reset=True)
