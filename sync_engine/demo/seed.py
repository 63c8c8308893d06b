"""Seeding the demo: accounts, sequences, contacts and activity in an empty demo store, and
the simulator's firms and the people a recruiter "already entered", so the *Exists in Clockwork*
flag shows up; plus three contacts synced earlier and changed in Clockwork since (drift, for
Verify). Everything but the drift's "synced earlier" goes through the service layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync_engine.demo import data
from sync_engine.demo.admin import SimulatorAdmin
from sync_engine.demo.guard import claim_demo_store, wipe_store
from sync_engine.domain import ActivityKind, EnrollmentStatus, LinkKind
from sync_engine.models import Contact
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, enrollments, events


@dataclass
class DemoReport:
    """What :func:`seed_demo` did: whether it seeded, and the demo accounts by name."""

    seeded: bool
    accounts: dict[str, int] = field(default_factory=dict)
    enrollments: int = 0


def store_is_empty(runtime: Runtime) -> bool:
    """Whether the store holds no account yet (a fresh machine)."""
    with runtime.db.read() as session:
        return not accounts.list_accounts(session=session)


def seed_demo(runtime: Runtime, simulator_base_url: str, *, reset: bool = False) -> DemoReport:
    """Seed demo accounts into an empty store, and their firms and existing people into the
    simulator at ``simulator_base_url``; does nothing when the store already has accounts.

    Only a demo store or an empty one (marked a demo store here) is seeded: anything else is a
    :class:`DemoStoreError`. With ``reset`` the store (checked again as it is wiped) and the
    simulator are wiped first. Credentials go through :func:`accounts.connect` (verified against
    the simulator, encrypted at rest).
    """
    claim_demo_store(runtime)
    if reset:
        wipe_store(runtime)
        with SimulatorAdmin(simulator_base_url) as admin:
            admin.reset()
    if not store_is_empty(runtime):
        return DemoReport(seeded=False)
    with SimulatorAdmin(simulator_base_url) as admin:
        projects = _seed_simulator(admin)
    report = DemoReport(seeded=True)
    builder = _DemoBuilder(runtime, simulator_base_url, report)
    vpe, cfo = projects["demo"]["VP Engineering"], projects["demo"]["Chief Financial Officer"]

    acme = builder.account("Acme Talent", firm="demo")
    seq_vpe = builder.sequence(acme, "VP Engineering — Northwind", project_id=vpe)
    seq_cfo = builder.sequence(acme, "CFO — Contoso Health", project_id=cfo)
    seq_intros = builder.sequence(acme, "Warm intros")
    seq_news = builder.sequence(acme, "Quarterly newsletter", disable_sync=True)
    acme_ids = builder.enroll(seq_vpe, data.ACME_VPE) + builder.enroll(seq_cfo, data.ACME_CFO)
    acme_ids += builder.enroll(seq_intros, data.ACME_INTROS)
    builder.enroll(seq_news, data.ACME_NEWSLETTER)
    for enrollment_id in acme_ids[:6]:
        builder.event(enrollment_id, ActivityKind.SENT, "Quick intro")
    builder.event(acme_ids[1], ActivityKind.OPENED, "Quick intro")
    builder.event(acme_ids[2], ActivityKind.CLICKED, "Quick intro")
    builder.event(acme_ids[5], ActivityKind.REPLIED, "Re: Quick intro")

    initech = builder.account(
        "Initech Partners", firm="initech", sync_mode="on_reply", activity_tracking=True
    )
    gc = projects["initech"]["General Counsel"]
    seq_gc = builder.sequence(initech, "General Counsel — Tailspin", project_id=gc)
    initech_ids = builder.enroll(seq_gc, data.INITECH_GC)
    for enrollment_id in initech_ids:
        builder.event(enrollment_id, ActivityKind.SENT, "A confidential GC search")
    for enrollment_id in initech_ids[:3]:
        builder.event(enrollment_id, ActivityKind.REPLIED, "Re: GC search")

    globex = builder.account("Globex Search", firm="globex", rotated=True)
    builder.enroll(builder.sequence(globex, "Head of Operations"), data.GLOBEX_HOP)
    rotated = data.DEMO_FIRMS["globex"].rotated_from
    assert rotated is not None
    with SimulatorAdmin(simulator_base_url) as admin:
        # The customer rotated their key in Clockwork: the next sync gets 401 (needs attention);
        # reconnecting with the new key (the connect form's hint) heals it.
        admin.revoke_key(rotated[0])

    umbrella = builder.account("Umbrella Recruiting", firm=None)
    builder.enroll(builder.sequence(umbrella, "Research Lead"), data.UMBRELLA)

    placed = builder.sequence(acme, "Placed last quarter", project_id=vpe)
    with SimulatorAdmin(simulator_base_url) as admin:
        seed_drift(runtime, admin, firm=data.DEMO_FIRMS["demo"].name, sequence_id=placed)
    report.enrollments += len(data.DRIFTED)
    return report


def seed_drift(runtime: Runtime, admin: SimulatorAdmin, *, firm: str, sequence_id: int) -> None:
    """Three contacts the store says were synced into the sequence's project, each since changed
    in Clockwork behind the sync's back: the first person deleted, the second never (or no
    longer) in the project, the third merged into a duplicate."""
    people = [
        admin.seed_person(
            firm, first_name=c["first_name"], last_name=c["last_name"], emails=[c["email"]]
        )
        for c in data.DRIFTED
    ]
    now = runtime.clock()
    with runtime.db.write() as session:
        for fields, person in zip(data.DRIFTED, people, strict=True):
            enrollment = enrollments.add_contact(
                session=session, sequence_id=sequence_id,
                contact=enrollments.parse_contact(fields),
            )  # fmt: skip
            contact = session.get(Contact, enrollment.contact_id)
            assert contact is not None
            # Created by us when they synced (so not "already in Clockwork"), every step done.
            contact.clockwork_person_id, contact.person_created_by_us = person["id"], True
            contact.person_created_by_enrollment_id = enrollment.id
            contact.email_attached = contact.position_attached = contact.linkedin_attached = True
            enrollment.status, enrollment.reason = EnrollmentStatus.SYNCED, None
            enrollment.next_attempt_at, enrollment.synced_at = None, now
            enrollment.clockwork_person_id, enrollment.candidacy_done = person["id"], True
            enrollment.exists_in_clockwork, enrollment.link = False, LinkKind.CREATED
            session.add_all([contact, enrollment])
    admin.delete_person(firm, people[0]["id"])
    duplicate = admin.seed_person(firm, first_name="Uma", last_name="Patel-Reyes")
    admin.merge_person(firm, people[2]["id"], into=duplicate["id"])


def _seed_simulator(admin: SimulatorAdmin) -> dict[str, dict[str, str]]:
    """Register the demo firms and their existing people; project ids by firm and name prefix."""
    known = set(admin.firms())
    projects: dict[str, dict[str, str]] = {}
    for key, firm in data.DEMO_FIRMS.items():
        if firm.name not in known:
            admin.add_firm(
                firm.name,
                api_key=firm.api_key,
                api_secret=firm.api_secret,
                firm_service_key=firm.firm_service_key,
            )
            for person in data.EXISTING_PEOPLE.get(key, []):
                admin.seed_person(firm.name, **person)
        if firm.rotated_from is not None:  # a state saved before the rotation lacks a pair
            for api_key, api_secret in (firm.keys, firm.rotated_from):
                admin.ensure_user(firm.name, api_key=api_key, api_secret=api_secret)
        projects[key] = {
            project["name"].split(" — ")[0]: project["id"] for project in admin.projects(firm.name)
        }
    return projects


class _DemoBuilder:
    """Creates demo records through the service layer, one short transaction each."""

    def __init__(self, runtime: Runtime, base_url: str, report: DemoReport) -> None:
        self.runtime, self.base_url, self.report = runtime, base_url, report

    def account(
        self, name: str, *, firm: str | None, rotated: bool = False, **settings: Any
    ) -> int:
        """Create an account (connected to a demo firm unless ``firm`` is None, with the key
        the firm rotated away from when ``rotated``); its id."""
        rt = self.runtime
        with rt.db.write() as session:
            account = accounts.create_account(session=session, name=name, actor=data.DEMO_ACTOR)
            assert account.id is not None
            account_id = account.id
            if settings:
                accounts.update_settings(
                    session=session,
                    account_id=account_id,
                    changes=settings,
                    actor=data.DEMO_ACTOR,
                )
        if firm is not None:
            fields = data.DEMO_FIRMS[firm].fields(self.base_url, rotated=rotated)
            accounts.connect(rt, account_id=account_id, fields=fields, actor=data.DEMO_ACTOR)
        self.report.accounts[name] = account_id
        return account_id

    def sequence(self, account_id: int, name: str, **fields: Any) -> int:
        """Create a sequence; its id."""
        rt = self.runtime
        with rt.db.write() as session:
            sequence = accounts.add_sequence(
                session=session,
                account_id=account_id,
                name=name,
                actor=data.DEMO_ACTOR,
                **fields,
            )
        assert sequence.id is not None
        return sequence.id

    def enroll(self, sequence_id: int, contacts: list[dict[str, str]]) -> list[int]:
        """Add contacts to a sequence (the add trigger); their enrollment ids."""
        ids = []
        with self.runtime.db.write() as session:
            for fields in contacts:
                enrollment = enrollments.add_contact(
                    session=session,
                    sequence_id=sequence_id,
                    contact=enrollments.parse_contact(fields),
                )
                assert enrollment.id is not None
                ids.append(enrollment.id)
        self.report.enrollments += len(ids)
        return ids

    def event(self, enrollment_id: int, kind: ActivityKind, subject: str) -> None:
        """Record an email event now."""
        rt = self.runtime
        # Events happen now: R5 sends nothing from before the connection existed.
        with rt.db.write() as session:
            events.record_event(
                session=session,
                enrollment_id=enrollment_id,
                kind=kind,
                at=None,
                subject=subject,
            )
