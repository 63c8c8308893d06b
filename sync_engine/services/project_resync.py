"""Re-sync to project (SPEC B3): add contacts synced before their sequence had a project.

The seed never re-syncs a synced enrollment (R2). This explicit, opt-in action first builds a plan
— who would be added to which project, and who is already a candidate there — and applying it
queues exactly that plan through the normal engine (rate-limited, idempotent, audited). A second
run finds nothing left to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select

from sync_engine.audit import record_change
from sync_engine.connections import connection_credentials
from sync_engine.models import Contact, Enrollment, EnrollmentStatus
from sync_engine.rules import resolve_project
from sync_engine.runtime import Runtime
from sync_engine.services.accounts import account_snapshot, get_sequence, sequence_snapshot
from sync_engine.services.errors import InvalidInputError


@dataclass(frozen=True)
class ResyncItem:
    """One enrollment of the plan."""

    enrollment_id: int
    email: str
    person_id: str
    already_in_project: bool


@dataclass
class ResyncPlan:
    """What re-syncing a sequence to its project would do."""

    sequence_id: int
    project_id: str | None
    items: list[ResyncItem] = field(default_factory=list)

    @property
    def to_add(self) -> list[ResyncItem]:
        """Enrollments whose person is not yet a candidate in the project."""
        return [item for item in self.items if not item.already_in_project]

    @property
    def already_there(self) -> list[ResyncItem]:
        """Enrollments whose person is already a candidate (recorded, nothing sent)."""
        return [item for item in self.items if item.already_in_project]


def plan_resync(runtime: Runtime, *, sequence_id: int) -> ResyncPlan:
    """The plan for a sequence: synced enrollments with no project, and the project they'd join.

    Reads the project's candidacies from Clockwork (outside any transaction) to tell who is
    already there.
    """
    with runtime.db.read() as session:
        sequence = get_sequence(session=session, sequence_id=sequence_id)
        account = account_snapshot(session=session, account_id=sequence.account_id)
        project_id = resolve_project(account, sequence_snapshot(sequence))
        plan = ResyncPlan(sequence_id=sequence_id, project_id=project_id)
        if project_id is None:
            return plan
        rows = session.exec(
            select(Enrollment.id, Contact.email, Enrollment.clockwork_person_id)
            .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
            .where(
                Enrollment.sequence_id == sequence_id,
                Enrollment.status == EnrollmentStatus.SYNCED,
                col(Enrollment.project_id).is_(None),
                col(Enrollment.clockwork_person_id).is_not(None),
            )
            .order_by(col(Enrollment.id))
        ).all()
        credentials = connection_credentials(
            session=session, box=runtime.box, account_id=sequence.account_id
        )
    if not rows:
        return plan
    if credentials is None:
        raise InvalidInputError("the account is not connected to Clockwork")
    with runtime.client(credentials) as client:
        present = {str(c.get("personId")) for c in client.iter_candidacies(project_id)}
    plan.items = [
        ResyncItem(
            enrollment_id=enrollment_id or 0,
            email=email,
            person_id=person_id or "",
            already_in_project=person_id in present,
        )
        for enrollment_id, email, person_id in rows
    ]
    return plan


def apply_resync(runtime: Runtime, *, sequence_id: int, actor: str) -> ResyncPlan:
    """Build the plan and queue it: the engine adds each person to the project on its next pass."""
    plan = plan_resync(runtime, sequence_id=sequence_id)
    if not plan.items:
        return plan
    now = runtime.clock()
    with runtime.db.write() as session:
        for item in plan.items:
            enrollment = session.get(Enrollment, item.enrollment_id)
            if enrollment is None or enrollment.project_id is not None:
                continue
            enrollment.project_id = plan.project_id
            enrollment.candidacy_done = item.already_in_project
            if not item.already_in_project:
                enrollment.next_attempt_at = enrollment.next_attempt_at or now
            session.add(enrollment)
        sequence = get_sequence(session=session, sequence_id=sequence_id)
        record_change(
            session=session, at=now, actor=actor, account_id=sequence.account_id,
            entity="sequence", entity_id=sequence_id, field="resync_project", old=None,
            new=f"{len(plan.to_add)} added to {plan.project_id}, "
            f"{len(plan.already_there)} already there",
        )  # fmt: skip
    return plan
