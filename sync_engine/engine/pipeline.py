"""One claimed enrollment, end to end: person (R3/R4), candidacy (R2), activity notes (R5).

HTTP calls happen outside any transaction; each result is stored in its own short transaction
before the next call, so a crash or retry resumes where it stopped instead of starting over (R8):

- one people search serves both matching (R3) and the Exists-in-Clockwork flag (R4);
- before creating a person the contact records that creation started; a search after a crash
  that finds a person created since then adopts it instead of creating a second one;
- a created person's email, position and LinkedIn URL are each flagged as attached when done,
  and a resumed creation first reads the person back to see what really got there;
- each note carries its activity key, and a retried activity looks for the key before writing.

Failures are classified by the client's error tree (R6, R7) and recorded by
:mod:`sync_engine.engine.outcomes`; the claim's record and the lease checks before every write are
in :mod:`sync_engine.engine.work`.

Past 500 lines on purpose: the steps of one enrollment read top to bottom in the order R8 runs
them, each beside the crash case it resumes from.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlmodel import col, select

from sync_engine.clockwork.client import ClockworkClient, JSONObject
from sync_engine.clockwork.errors import (
    ClockworkAuthError,
    ClockworkCancelled,
    ClockworkError,
    ClockworkNotFound,
    ClockworkTransientError,
    ClockworkUnexpectedResponse,
)
from sync_engine.db import Database
from sync_engine.domain import CREATE_NEW_PERSON, check_email
from sync_engine.engine.outcomes import (
    Outcome,
    PipelineConfig,
    defer,
    fail,
    finish,
    hold_for_review,
    pause,
    retry_or_fail,
)
from sync_engine.engine.pacing import PacingDeferred
from sync_engine.engine.queue import (
    RELEASED,
    Claim,
)
from sync_engine.engine.statements import Prepared, transaction
from sync_engine.engine.work import (
    ACTIVITY,
    CLOSE_ATTEMPT,
    ENROLLMENT,
    STORE_STEPS,
    LeaseLost,
    Work,
    before_write,
    close_attempt,
    close_params,
    contact_update,
    guard,
    hold,
    open_work,
    steps_params,
    store_steps,
)
from sync_engine.matching import normalize_email, people_with_linkedin
from sync_engine.models import (
    Activity,
    ActivityState,
    Contact,
    Enrollment,
    EnrollmentStatus,
    LinkKind,
    MatchRule,
    Reason,
    UTCDateTime,
)

log = logging.getLogger(__name__)


# A person found by the search and created no earlier than this before Clockwork's own time just
# before our create call is taken to be the one we created just before a crash. Both times come
# from Clockwork's clock (its Date header, its createdAt), whole seconds each, so no shared clock
# is needed; our clock stands in only when Clockwork sent no Date.
ADOPTION_SKEW = timedelta(seconds=2)
NOTE_KEY_PREFIX = "cwsync-activity:"

# The steps' own statements, built once.
_CREATION_STARTED = contact_update("person_creation_started_at")
_PERSON_FOUND = contact_update("clockwork_person_id", "person_created_by_us")
_PERSON_CREATED = contact_update(
    "clockwork_person_id", "person_created_by_us", "person_created_by_enrollment_id"
)
# Recorded only under our lease (no row back: another worker has it), which it renews.
_SYNCED_UPDATE = (
    sa.update(ENROLLMENT)
    .where(
        ENROLLMENT.c.id == sa.bindparam("synced_id"),
        ENROLLMENT.c.lease_owner == sa.bindparam("synced_token"),
    )
    .values(
        clockwork_person_id=sa.bindparam("synced_person", type_=sa.String),
        link=sa.bindparam("synced_link", type_=ENROLLMENT.c.link.type),
        match_rule=sa.bindparam("synced_rule", type_=ENROLLMENT.c.match_rule.type),
        review_candidates=sa.null(),
        exists_in_clockwork=sa.bindparam("synced_exists", type_=sa.Boolean),
        candidacy_done=sa.bindparam("synced_candidacy", type_=sa.Boolean),
        status=EnrollmentStatus.SYNCED.value,
        reason=None,
        last_error=None,
        synced_at=sa.bindparam("synced_at", type_=ENROLLMENT.c.synced_at.type),
    )
    .returning(ENROLLMENT.c.id)
)
_SYNCED = Prepared(
    _SYNCED_UPDATE.values(lease_expires_at=sa.bindparam("synced_until", type_=UTCDateTime))
)
# With no note to deliver, the enrollment is then released in the same transaction. A statement
# of its own, after the one above took the row lock: its snapshot sees an event recorded
# concurrently, or that event's re-queue (next_attempt_at IS NULL) waits for our commit.
_RELEASE_IF_DONE = Prepared(
    sa.update(ENROLLMENT)
    .where(
        ENROLLMENT.c.id == sa.bindparam("released_id"),
        ~sa.exists().where(
            ACTIVITY.c.enrollment_id == sa.bindparam("released_id"),
            ACTIVITY.c.state == ActivityState.PENDING,
        ),
    )
    .values({**RELEASED, "next_attempt_at": None})
    .returning(ENROLLMENT.c.id)
)
# On PostgreSQL the step flags ride in the sync's statement and the attempt's close in the
# release's (data-modifying CTEs), a round trip less each.
_SYNCED_WITH_STEPS = Prepared(
    cast(sa.Update, _SYNCED.statement).add_cte(cast(sa.Update, STORE_STEPS.statement).cte("steps"))
)
_RELEASED = cast(sa.Update, _RELEASE_IF_DONE.statement).cte("released")
_CLOSED = cast(sa.Update, CLOSE_ATTEMPT.statement).where(sa.exists(sa.select(_RELEASED.c.id)))
_RELEASE_AND_CLOSE = Prepared(sa.select(_RELEASED.c.id).add_cte(_CLOSED.cte("closed")))


class _NeedsReview(Exception):
    """B2: more than one Clockwork person has the contact's LinkedIn URL; staff must choose."""

    def __init__(self, candidates: list[JSONObject]) -> None:
        super().__init__(f"{len(candidates)} people share this LinkedIn URL")
        self.candidates = candidates


class _Failure(Exception):
    """A permanent failure with its reason code and message."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def process(
    claim: Claim,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
    config: PipelineConfig,
) -> Outcome:
    """Run one claimed enrollment through the pipeline and record the outcome under the lease."""
    work = open_work(claim, db=db, clock=clock)
    if work is None:
        return Outcome.LOST_LEASE
    try:
        return _run(claim, work, db=db, client=client, clock=clock, config=config)
    except LeaseLost:
        return Outcome.LOST_LEASE


def _run(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
    config: PipelineConfig,
) -> Outcome:
    """The steps, and the outcome each way they can end (recorded under the lease).

    Whatever goes wrong ends here with the attempt closed and a readable reason: an exception
    that is not Clockwork's (a bug, a malformed value) counts as an attempt like a transient
    error, its traceback in the log, so it fails at the attempt cap instead of looping.
    """
    synced = False
    if work.needs_sync and work.attempt > config.max_attempts:  # earlier attempts never closed
        message = f"gave up after {work.attempt - 1} attempts that did not finish"
        return fail(
            claim, work, db=db, clock=clock, reason=Reason.UNEXPECTED_ERROR, message=message
        )
    try:
        if work.needs_sync:
            if _sync(claim, work, db=db, client=client, clock=clock):
                return Outcome.SYNCED  # no note to write: recorded and released already
            work.needs_sync, synced = False, True
        elif work.project_id and not work.candidacy_done and work.person_id:
            _add_to_project(
                claim, work, db=db, client=client, clock=clock
            )  # B3: re-sync to a project chosen later
        _deliver_activities(claim, work, db=db, client=client, clock=clock)
    except PacingDeferred as deferred:
        return defer(claim, work, db=db, clock=clock, delay=deferred.delay)
    except ClockworkCancelled:  # our run's stop time, not Clockwork's failure
        return defer(claim, work, db=db, clock=clock, delay=0.0)
    except ClockworkAuthError as exc:
        return pause(claim, work, db=db, clock=clock, error=exc)
    except (ClockworkTransientError, ClockworkUnexpectedResponse) as exc:
        # A malformed or hostile answer may be a passing fault (a proxy's page): retried to the cap.
        return retry_or_fail(claim, work, db=db, clock=clock, config=config, error=exc)
    except _Failure as failure:
        return fail(claim, work, db=db, clock=clock, reason=failure.reason, message=str(failure))
    except ClockworkError as exc:
        reason = Reason.NOT_FOUND if isinstance(exc, ClockworkNotFound) else Reason.VALIDATION_ERROR
        return fail(claim, work, db=db, clock=clock, reason=reason, message=str(exc))
    except _NeedsReview as review:
        return hold_for_review(claim, work, db=db, clock=clock, candidates=review.candidates)
    except LeaseLost:
        raise
    except Exception as exc:
        log.exception("enrollment %s: unexpected error in the pipeline", claim.enrollment_id)
        return retry_or_fail(claim, work, db=db, clock=clock, config=config, error=exc)
    return finish(claim, work, db=db, clock=clock, synced=synced)


# --- the person (R3, R4, R8) -------------------------------------------------------------------


def _sync(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
) -> bool:
    """Link or create the person, add the candidacy, and store the result under the lease.

    Returns True when no activity note is pending: the same transaction then also released the
    lease and closed the attempt, so the enrollment is done.
    """
    try:
        check_email(work.email)
    except ValueError as exc:
        raise _Failure(Reason.INVALID_EMAIL, str(exc)) from None
    link = LinkKind.LINKED
    if work.person_id is None:
        link = _find_or_create(claim, work, db=db, client=client, clock=clock)
    elif work.created_by_us:
        if work.created_by_this_enrollment:
            link = LinkKind.CREATED
        _complete_person(claim, work, db=db, client=client, clock=clock, resume=True)
    if work.project_id and not work.candidacy_done:
        assert work.person_id is not None
        before_write(claim, work, db=db, clock=clock)
        client.add_candidacy(work.project_id, work.person_id)
        work.candidacy_done = True
    now = clock()
    combined = not db.is_sqlite
    with transaction(db) as session:
        params: dict[str, object] = {
            "synced_id": work.enrollment_id,
            "synced_token": claim.token,
            "synced_person": work.person_id,
            "synced_link": link,
            "synced_rule": work.match_rule if link == LinkKind.LINKED else None,
            "synced_exists": work.dedup and not work.created_by_us,
            "synced_candidacy": work.candidacy_done,
            "synced_at": now,
            "synced_until": now + timedelta(seconds=claim.lease_seconds),
        }
        synced = _SYNCED
        if combined and work.steps_unsaved:
            synced = _SYNCED_WITH_STEPS
            params.update(steps_params(work))
        if not synced.run(session, params):
            raise LeaseLost  # rolls the transaction back: the new owner records its own outcome
        work.renewed_at = now
        if synced is _SYNCED_WITH_STEPS:
            work.steps_unsaved = False
        elif work.steps_unsaved:
            store_steps(session, work)
        released = {"released_id": work.enrollment_id}
        if combined and work.attempt_row_id is not None:
            closing = close_params(work, now, Outcome.SYNCED, None, None)
            return bool(_RELEASE_AND_CLOSE.run(session, {**released, **closing}))
        done = bool(_RELEASE_IF_DONE.run(session, released))
        if done:
            close_attempt(session, work, now, Outcome.SYNCED, None, None)
    return done


def _find_or_create(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
) -> LinkKind:
    hits = client.find_people_by_email(work.email)
    adopted = _our_unrecorded_person(hits, work.creation_started_at)
    if adopted is None and work.creation_started_at is not None:
        adopted = _our_person_without_email(work, client)
    if adopted is not None:
        _store_person(claim, work, db=db, clock=clock, person_id=adopted["id"], created_by_us=True)
        _complete_person(claim, work, db=db, client=client, clock=clock, resume=True)
        return LinkKind.CREATED
    if hits:
        _store_person(claim, work, db=db, clock=clock, person_id=hits[0]["id"], created_by_us=False)
        work.match_rule = MatchRule.EMAIL
        return LinkKind.LINKED
    if work.review_choice and work.review_choice != CREATE_NEW_PERSON:
        _link_adding_email(
            claim, work, db=db, client=client, clock=clock, person_id=work.review_choice
        )
        work.match_rule = MatchRule.REVIEW
        return LinkKind.LINKED
    if work.link_by_linkedin and work.linkedin_url and work.review_choice is None:
        candidates = _people_sharing_linkedin(work, client)
        if len(candidates) > 1:
            raise _NeedsReview(candidates)
        if candidates:
            person_id = candidates[0]["id"]
            _link_adding_email(claim, work, db=db, client=client, clock=clock, person_id=person_id)
            work.match_rule = MatchRule.LINKEDIN
            return LinkKind.LINKED
    with transaction(db, atomic=False) as session:  # the write is under the lease guarded
        guard(session, claim, work, clock())  # the search above may have outlasted the lease
        # Clockwork's time of the answer just before the create, to compare with its createdAt.
        work.creation_started_at = client.server_time() or clock()
        params = {"contact_id": work.contact_id,
                  "set_person_creation_started_at": work.creation_started_at}  # fmt: skip
        _CREATION_STARTED.run(session, params)
    first_name, last_name = _person_names(work)
    person = client.create_person(first_name=first_name, last_name=last_name)
    _store_person(claim, work, db=db, clock=clock, person_id=person["id"], created_by_us=True)
    _complete_person(claim, work, db=db, client=client, clock=clock, resume=False)
    return LinkKind.CREATED


def _people_sharing_linkedin(work: Work, client: ClockworkClient) -> list[JSONObject]:
    """B2: people with the contact's LinkedIn URL, among those found by the contact's name.

    The contract has no search by URL, so this costs one name search (more for many pages), and
    only when the email matched nobody and the account opted in.
    """
    name = " ".join(filter(None, (work.first_name, work.last_name)))
    if not name:
        return []
    return people_with_linkedin(list(client.iter_search(name)), work.linkedin_url)


def _link_adding_email(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
    person_id: str,
) -> None:
    """Link an existing person found without the email, and give it the contact's email.

    If a crash follows the new email, the next attempt's email search finds this person.
    """
    _store_person(claim, work, db=db, clock=clock, person_id=person_id, created_by_us=False)
    client.add_email(person_id, work.email)


def _add_to_project(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
) -> None:
    assert work.project_id is not None and work.person_id is not None
    before_write(claim, work, db=db, clock=clock)
    client.add_candidacy(work.project_id, work.person_id)
    work.candidacy_done = True
    with db.write() as session:
        enrollment = session.get(Enrollment, work.enrollment_id)
        assert enrollment is not None
        enrollment.candidacy_done = True
        session.add(enrollment)


def _our_unrecorded_person(hits: list[JSONObject], started: datetime | None) -> JSONObject | None:
    """After a crash between "created" and "id stored", the search finds our own person."""
    if started is None:
        return None
    for person in hits:
        created = _created_at(person)
        if created is not None and created >= started - ADOPTION_SKEW:
            return person
    return None


def _person_names(work: Work) -> tuple[str, str]:
    return work.first_name or work.email.split("@")[0], work.last_name


def _our_person_without_email(work: Work, client: ClockworkClient) -> JSONObject | None:
    """A crash right after "create person" leaves a person with no email yet: find it by name.

    Only runs when a creation was started and never recorded, so it costs nothing normally.
    """
    name = " ".join(filter(None, _person_names(work)))
    for person in client.iter_search(name):
        if person.get("name") == name and not person.get("emails"):
            found = _our_unrecorded_person([person], work.creation_started_at)
            if found is not None:
                return found
    return None


def _created_at(person: JSONObject) -> datetime | None:
    value = person.get("createdAt")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _store_person(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    person_id: str,
    created_by_us: bool,
) -> None:
    """Record the contact's person, if the lease is still ours (a worker that lost it to another
    must not overwrite what the new owner found, nor go on writing to Clockwork)."""
    params: dict[str, object] = {
        "contact_id": work.contact_id,
        "set_clockwork_person_id": person_id,
        "set_person_created_by_us": created_by_us,
    }
    if created_by_us:
        params["set_person_created_by_enrollment_id"] = work.enrollment_id
    with transaction(db, atomic=False) as session:  # the write is under the lease guarded
        guard(session, claim, work, clock())
        (_PERSON_CREATED if created_by_us else _PERSON_FOUND).run(session, params)
    work.person_id = person_id
    work.created_by_us = created_by_us
    work.created_by_this_enrollment = created_by_us


def _complete_person(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
    resume: bool,
) -> None:
    """Attach email, position and LinkedIn URL to a person we created.

    The lease is checked before each write (:func:`before_write`); the steps done are stored
    when it is renewed there, or with the sync at the latest. A step that reached Clockwork
    without being stored is found by the read-back of a resumed creation.
    """
    person_id = work.person_id or ""
    wants_position = bool(work.title or work.company)
    missing = (
        not work.email_attached
        or (wants_position and not work.position_attached)
        or (work.linkedin_url and not work.linkedin_attached)
    )
    if not missing:
        return
    if resume:  # a step may have reached Clockwork without being recorded: look first
        person = client.get_person(person_id)
        emails = {normalize_email(str(e.get("address", ""))) for e in person.get("emails") or []}
        work.email_attached = work.email_attached or work.email in emails
        work.position_attached = work.position_attached or bool(person.get("positions"))
        work.linkedin_attached = work.linkedin_attached or bool(person.get("linkedinUrls"))
        work.steps_unsaved = True
    if not work.email_attached:
        before_write(claim, work, db=db, clock=clock)
        client.add_email(person_id, work.email)
        work.email_attached = work.steps_unsaved = True
    if wants_position and not work.position_attached:
        before_write(claim, work, db=db, clock=clock)
        client.add_position(person_id, title=work.title, company_name=work.company)
        work.position_attached = work.steps_unsaved = True
    if work.linkedin_url and not work.linkedin_attached:
        before_write(claim, work, db=db, clock=clock)
        client.add_linkedin_url(person_id, work.linkedin_url)
        work.linkedin_attached = work.steps_unsaved = True


# --- activity notes (R5, R8) -------------------------------------------------------------------


def note_html(*, kind: str, sequence: str, subject: str, occurred_at: datetime, key: str) -> str:
    """A readable note for one email event, carrying its activity key for exactly-once delivery."""
    when = occurred_at.strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"<p><strong>Email {html.escape(kind)}</strong> in sequence "
        f"<em>{html.escape(sequence)}</em></p>",
        f"<p>Subject: {html.escape(subject) if subject else '(no subject)'}</p>",
        f"<p>When: {when}</p>",
        f'<p style="color:#888;font-size:small">Clockwork Sync {NOTE_KEY_PREFIX}{key}</p>',
    ]
    return "\n".join(parts)


def _deliver_activities(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
) -> None:
    """Write the enrollment's pending activity notes, each once (R5), renewing the lease."""
    if work.person_id is None:
        with db.read() as session:
            contact = session.get(Contact, work.contact_id)
            work.person_id = contact.clockwork_person_id if contact else None
    if work.person_id is None:
        return
    with db.read() as session:
        pending = session.exec(
            select(Activity)
            .where(
                Activity.enrollment_id == work.enrollment_id,
                Activity.state == ActivityState.PENDING,
            )
            .order_by(col(Activity.occurred_at), col(Activity.id))
        ).all()
    for activity in pending:
        assert activity.id is not None
        with db.transaction() as session:
            hold(session, claim, work, clock())  # a long run of notes outlasts a lease
            attempts = session.execute(
                sa.update(ACTIVITY)
                .where(ACTIVITY.c.id == activity.id, ACTIVITY.c.state == ActivityState.PENDING)
                .values(attempts=ACTIVITY.c.attempts + 1)
                .returning(ACTIVITY.c.attempts)
            ).scalar_one_or_none()
        if attempts is None:  # delivered or given up on meanwhile
            continue
        retried = attempts > 1
        note_id = _existing_note(client, work.person_id, activity.activity_key) if retried else None
        if note_id is None:
            note = client.create_note(
                work.person_id,
                content_html=note_html(
                    kind=activity.kind,
                    sequence=work.sequence_name,
                    subject=activity.subject,
                    occurred_at=activity.occurred_at,
                    key=activity.activity_key,
                ),
            )
            note_id = str(note.get("id", ""))
        with db.transaction() as session:
            session.execute(
                sa.update(ACTIVITY)
                .where(ACTIVITY.c.id == activity.id)
                .values(
                    state=ActivityState.SYNCED,
                    reason=None,
                    note_id=note_id,
                    synced_at=clock(),
                    last_error=None,
                )
            )


def _existing_note(client: ClockworkClient, person_id: str, key: str) -> str | None:
    marker = f"{NOTE_KEY_PREFIX}{key}"
    for note in client.iter_notes(person_id):
        if marker in str(note.get("content", "")):
            return str(note.get("id", ""))
    return None
