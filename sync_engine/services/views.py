"""Read-only queries behind the dashboard's pages: overviews, counts, the contact audit table.

Every function takes ``*, session`` and returns plain dataclasses or dicts, so a page only renders.
Aggregation, filtering and paging happen in SQL (GROUP BY, COUNT, LIMIT/OFFSET on indexed
columns), never by loading a table into memory, so the pages stay fast at a million enrollments.
The plain-language meaning of every reason code (SPEC §4) and the action it calls for live here too.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from sync_engine.models import (
    SYNC_PENDING,
    Account,
    AccountSettings,
    Activity,
    ActivityState,
    ApiCall,
    AuditEntry,
    ClockworkConnection,
    ConnectionState,
    Contact,
    EngineRun,
    Enrollment,
    EnrollmentStatus,
    Sequence,
    SyncAttempt,
    SyncMode,
)
from sync_engine.rules import AccountSnapshot, SequenceSnapshot, decide_on_add
from sync_engine.services import projects, wording
from sync_engine.services.accounts import (
    connection_credentials,
    get_connection,
    verify_credentials,
)
from sync_engine.services.errors import ConnectionRejectedError, NotFoundError
from sync_engine.verify.models import CheckStatus, ContactCheck

if TYPE_CHECKING:
    from sync_engine.runtime import Runtime

# --- reasons in plain words -----------------------------------------------------------------


@dataclass(frozen=True)
class ReasonInfo:
    """What a reason code means to a person, and the action that resolves it (None: nothing)."""

    code: str
    message: str
    action: str | None


_REASONS: dict[str, tuple[str, str | None]] = {
    "sync_off": ("Sync was off when this contact was added or replied", None),
    "sequence_sync_disabled": ("The sequence had Disable Sync on when the contact was added", None),
    "not_connected": ("Clockwork was not connected when this contact was added", None),
    "dismissed": ("Dismissed by staff; it will not sync", None),
    "invalid_email": ("The email address is not valid", "Fix the email"),
    "auth_failed": ("Clockwork rejected the account's credentials", "Reconnect Clockwork"),
    "rate_limited": ("Clockwork asked us to slow down; retrying automatically", "Retry"),
    "clockwork_unavailable": ("Clockwork was unavailable (server error or timeout)", "Retry"),
    "network_error": ("Clockwork could not be reached over the network", "Retry"),
    "validation_error": ("Clockwork refused the contact's data", "Fix the contact, then Retry"),
    "not_found": ("A Clockwork record it needed no longer exists", "Retry"),
    "account_paused": ("Syncing is paused for this account", "Resume syncing"),
    "tracking_off": (
        "Activity tracking was off when this happened (send it with an activity backfill)",
        "Backfill activity",
    ),
    "before_connection": ("This happened before Clockwork was connected", None),
    "unexpected_answer": (
        "Clockwork answered something we could not use; it is retried automatically",
        "Retry",
    ),
    "unexpected_error": (
        "Something went wrong on our side while syncing this contact; it is retried "
        "automatically and the engineers have the details in the log",
        "Retry",
    ),
    "ambiguous_linkedin_match": (
        "Several Clockwork people have this LinkedIn profile",
        "Choose the person",
    ),
}


def reason_info(code: str | None) -> ReasonInfo | None:
    """The plain-language message and action for a reason code (unknown codes are shown as is)."""
    if not code:
        return None
    message, action = _REASONS.get(code, (code.replace("_", " ").capitalize(), "Retry"))
    return ReasonInfo(code=code, message=message, action=action)


STATUS_LABELS: dict[str, str] = {
    EnrollmentStatus.AWAITING_REPLY: "Awaiting reply",
    EnrollmentStatus.QUEUED: "Queued",
    EnrollmentStatus.SYNCING: "Syncing",
    EnrollmentStatus.SYNCED: "Synced",
    EnrollmentStatus.RETRYING: "Retrying",
    EnrollmentStatus.FAILED: "Failed",
    EnrollmentStatus.SKIPPED: "Skipped",
    EnrollmentStatus.NEEDS_REVIEW: "Needs review",
}


# --- accounts at a glance -------------------------------------------------------------------


@dataclass
class AccountHealth:
    """One row of the cross-account overview (SPEC B10)."""

    account_id: int
    name: str
    connection: str
    sync_paused: bool
    last_success_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    exists_in_clockwork: int = 0

    @property
    def total(self) -> int:
        """Enrollments of the account."""
        return sum(self.counts.values())

    @property
    def problems(self) -> list[str]:
        """Why the account needs attention, most urgent first (empty when healthy)."""
        found = []
        if self.connection == ConnectionState.NEEDS_ATTENTION:
            found.append("Credentials rejected")
        if self.sync_paused:
            found.append("Sync paused")
        failed = self.counts.get(EnrollmentStatus.FAILED, 0)
        if failed:
            found.append(f"{failed:,} failed")
        retrying = self.counts.get(EnrollmentStatus.RETRYING, 0)
        if retrying:
            found.append(f"{retrying:,} retrying")
        return found

    @property
    def needs_attention(self) -> bool:
        """Whether someone should look at the account now."""
        return bool(self.problems)


def account_overview(*, session: Session) -> list[AccountHealth]:
    """Every account with its connection, status counts and flags; those needing attention first.

    One grouped scan of the status index for the counts; the flags are counted per account in
    the flag index's range of flagged rows only (a scan of the whole index cost ~90 ms at 1M).
    """
    # ``= true``, not ``IS true``: PostgreSQL's index answers only the former.
    flagged = (
        select(func.count())
        .select_from(Enrollment)
        .where(
            col(Enrollment.account_id) == col(Account.id),
            col(Enrollment.exists_in_clockwork) == sa.true(),
        )
        .correlate(Account)
        .scalar_subquery()
    )
    rows = session.exec(
        select(Account, ClockworkConnection, flagged)
        .join(
            ClockworkConnection,
            col(ClockworkConnection.account_id) == col(Account.id),
            isouter=True,
        )
        .order_by(col(Account.name))
    ).all()
    # Each (account, status) counted in its range of the status index: the same entries as one
    # grouped pass, without grouping 1M rows (102 -> 60 ms on PostgreSQL at 1M; even on SQLite).
    statuses = sa.union_all(
        *(sa.select(sa.literal(status.value).label("status")) for status in EnrollmentStatus)
    ).subquery("statuses")
    per_status = (
        select(func.count())
        .select_from(Enrollment)
        .where(
            col(Enrollment.account_id) == col(Account.id),
            col(Enrollment.status) == statuses.c.status,
        )
        .correlate(Account, statuses)
        .scalar_subquery()
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for account_id, status, count in session.exec(
        select(Account.id, statuses.c.status, per_status).join(statuses, sa.true())
    ).all():
        if count and account_id is not None:
            counts[account_id][status] = count
    last_ok = last_successful_calls(session=session)
    health = []
    for account, connection, flag_count in rows:
        assert account.id is not None
        health.append(
            AccountHealth(
                account_id=account.id,
                name=account.name,
                connection=connection.state if connection else "never_connected",
                sync_paused=account.sync_paused,
                last_success_at=_latest(
                    connection.last_success_at if connection else None, last_ok.get(account.id)
                ),
                counts=counts.get(account.id, {}),
                exists_in_clockwork=int(flag_count or 0),
            )
        )
    health.sort(key=lambda row: (not row.needs_attention, row.name.lower()))
    return health


def _latest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def last_successful_calls(*, session: Session) -> dict[int, datetime]:
    """Per account, when Clockwork last answered a request with success (from the API call log)."""
    rows = session.exec(
        select(ApiCall.account_id, func.max(ApiCall.at))
        .where(col(ApiCall.status) < 400, col(ApiCall.account_id).is_not(None))
        .group_by(col(ApiCall.account_id))
    ).all()
    found: dict[int, datetime] = {}
    for account_id, at in rows:
        moment = _aware(at)
        if account_id is not None and moment is not None:
            found[account_id] = moment
    return found


def last_successful_call(*, session: Session, account_id: int) -> datetime | None:
    """When Clockwork last accepted a request of the account: the call log or the last connect."""
    connection = get_connection(session=session, account_id=account_id)
    logged = session.exec(
        select(func.max(ApiCall.at)).where(
            ApiCall.account_id == account_id, col(ApiCall.status) < 400
        )
    ).one()
    return _latest(connection.last_success_at if connection else None, _aware(logged))


def _aware(moment: Any) -> datetime | None:
    """A timestamp from an aggregate (SQLite returns text or naive values) as aware UTC."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def status_counts(*, session: Session, account_id: int) -> dict[str, int]:
    """Enrollments of an account by status; every status present, zero when none."""
    counts = {status.value: 0 for status in EnrollmentStatus}
    for status, count in session.exec(
        select(Enrollment.status, func.count())
        .where(Enrollment.account_id == account_id)
        .group_by(col(Enrollment.status))
    ).all():
        counts[status] = count
    return counts


def status_label(status: str, *, attempts: int = 0) -> str:
    """A status in words; a retry says how many attempts were made (SPEC §4).

    ``attempts`` counts every attempt the timeline lists, in every round (see
    :func:`attempts_made`), as the Contacts table, the detail's header and the export do. When
    the next attempt is due is the page's to say, in the viewer's timezone (``next_attempt_at``
    of the row).
    """
    label = STATUS_LABELS.get(status, status)
    if status == EnrollmentStatus.RETRYING and attempts:
        label = f"Retrying (after {_plural(attempts, 'attempt')})"
    return label


def attempts_made(*, session: Session, enrollment_ids: list[int]) -> dict[int, int]:
    """Per enrollment, every sync attempt made so far, all rounds counted: the attempts its
    timeline lists (``Enrollment.attempts`` counts the current round only, toward the cap, and
    starts again at a Retry). One grouped query over the attempts' enrollment index."""
    if not enrollment_ids:
        return {}
    rows = session.exec(
        select(SyncAttempt.enrollment_id, func.count())
        .where(col(SyncAttempt.enrollment_id).in_(enrollment_ids))
        .group_by(col(SyncAttempt.enrollment_id))
    ).all()
    return {enrollment_id: int(count) for enrollment_id, count in rows}


def person_url(firm: str | None, person_id: str | None, *, base_url: str = "") -> str | None:
    """The person's page: in Clockwork's web app, or, when the connection's ``base_url`` is a
    simulator on this machine (a demo), the simulator's read-only person page."""
    if not firm or not person_id:
        return None
    if _is_on_this_machine(base_url):
        return f"{base_url.rstrip('/')}/people/{quote(firm, safe='')}/{quote(person_id, safe='')}"
    return f"https://{firm}.clockworkrecruiting.com/firm/people#id:{person_id}"


def _is_on_this_machine(base_url: str) -> bool:
    try:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- engine health --------------------------------------------------------------------------

HEARTBEAT_TRIGGER = "scheduler"
PROBLEM_TRIGGERS = ("job_error", "job_missed")


@dataclass(frozen=True)
class EngineHealth:
    """The engine as the Overview shows it: last pass, scheduler heartbeat, queue depth."""

    last_run: EngineRun | None
    last_heartbeat_at: datetime | None
    last_problem: EngineRun | None
    queued: int
    due_now: int


def engine_health(
    *, session: Session, now: datetime, account_id: int | None = None
) -> EngineHealth:
    """The newest pass and heartbeat, the newest scheduler problem, and the queue's depth.

    Queue depth counts enrollments waiting to sync (queued, retrying or syncing), and of those the
    ones already due; optionally for one account.
    """
    last_run = session.exec(
        select(EngineRun)
        .where(col(EngineRun.trigger).not_in(PROBLEM_TRIGGERS))
        .order_by(col(EngineRun.started_at).desc(), col(EngineRun.id).desc())
        .limit(1)
    ).first()
    heartbeat = session.exec(
        select(EngineRun.started_at)
        .where(EngineRun.trigger == HEARTBEAT_TRIGGER)
        .order_by(col(EngineRun.started_at).desc())
        .limit(1)
    ).first()
    problem = session.exec(
        select(EngineRun)
        .where(col(EngineRun.trigger).in_(PROBLEM_TRIGGERS) | col(EngineRun.error).is_not(None))
        .order_by(col(EngineRun.started_at).desc(), col(EngineRun.id).desc())
        .limit(1)
    ).first()
    # One pass over the queue's range of ix_enrollment_account_due (account, status, due time):
    # the queue is small next to the table, and its due times are in the index (reading each
    # row's cost ~130 ms at 1M enrollments, 84k of them queued).
    due_now = sa.case((col(Enrollment.next_attempt_at) <= now, 1), else_=0)
    scheduled = select(func.count(), func.coalesce(func.sum(due_now), 0)).select_from(Enrollment)
    scheduled = scheduled.where(col(Enrollment.status).in_(SYNC_PENDING))
    if account_id is not None:
        scheduled = scheduled.where(Enrollment.account_id == account_id)
    queued, due = session.exec(scheduled).one()
    return EngineHealth(
        last_run=last_run,
        last_heartbeat_at=heartbeat,
        last_problem=problem,
        queued=int(queued),
        due_now=int(due),
    )


# --- failures grouped by reason (B6) --------------------------------------------------------


@dataclass(frozen=True)
class ReasonGroup:
    """Enrollments sharing a status and reason, with what the reason means and what to do."""

    status: str
    reason: str | None
    count: int
    message: str
    action: str | None


def reason_groups(
    *,
    session: Session,
    account_id: int,
    statuses: tuple[str, ...] = (EnrollmentStatus.FAILED, EnrollmentStatus.RETRYING),
) -> list[ReasonGroup]:
    """Counts by (status, reason) for the given statuses, largest group first."""
    rows = session.exec(
        select(Enrollment.status, Enrollment.reason, func.count())
        .where(Enrollment.account_id == account_id, col(Enrollment.status).in_(statuses))
        .group_by(col(Enrollment.status), col(Enrollment.reason))
    ).all()
    groups = []
    for status, reason, count in rows:
        info = reason_info(reason)
        groups.append(
            ReasonGroup(
                status=status,
                reason=reason,
                count=count,
                message=info.message if info else STATUS_LABELS.get(status, status),
                action=info.action if info else None,
            )
        )
    groups.sort(key=lambda group: (-group.count, group.status, group.reason or ""))
    return groups


# --- syncs over time (B13) ------------------------------------------------------------------


def _bucket(session: Session, column: Any, seconds: int) -> Any:
    """``column`` floored to a multiple of ``seconds`` since the epoch, as an integer, in SQL."""
    if _is_sqlite(session):
        epoch = sa.cast(func.strftime("%s", column), sa.Integer)
        return (epoch // seconds) * seconds
    return sa.cast(func.floor(func.extract("epoch", column) / seconds) * seconds, sa.BigInteger)


def _int_keys(rows: Any) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for bucket, count in rows:
        if bucket is not None:
            counts[int(bucket)] += int(count)
    return counts


@dataclass(frozen=True)
class TimelinePoint:
    """One time bucket of the sync chart."""

    at: datetime
    synced: int
    failed: int


def sync_timeline(
    *, session: Session, account_id: int, since: datetime, now: datetime, bucket_seconds: int
) -> list[TimelinePoint]:
    """Enrollments synced, and attempts that failed or will retry, per time bucket since ``since``.

    Every bucket from ``since`` to ``now`` is present (zero when quiet), so the chart's axis is even.
    """
    synced_bucket = _bucket(session, Enrollment.synced_at, bucket_seconds)
    synced = _int_keys(
        session.exec(
            select(synced_bucket, func.count())
            .where(Enrollment.account_id == account_id, col(Enrollment.synced_at) >= since)
            .group_by(synced_bucket)
        ).all()
    )
    failed_bucket = _bucket(session, SyncAttempt.finished_at, bucket_seconds)
    failed = _int_keys(
        session.exec(
            select(failed_bucket, func.count())
            .where(
                SyncAttempt.account_id == account_id,
                col(SyncAttempt.finished_at) >= since,
                col(SyncAttempt.outcome).in_(("failed", "retrying", "paused")),
            )
            .group_by(failed_bucket)
        ).all()
    )
    start = int(since.timestamp()) // bucket_seconds * bucket_seconds
    end = int(now.timestamp()) // bucket_seconds * bucket_seconds
    end = max(end, *(int(k) for k in (*synced, *failed)), start)
    return [
        TimelinePoint(
            at=datetime.fromtimestamp(moment, UTC),
            synced=int(synced.get(moment, 0)),
            failed=int(failed.get(moment, 0)),
        )
        for moment in range(start, end + 1, bucket_seconds)
    ]


# --- the contact audit table (SPEC §4, B5, B9) ----------------------------------------------


@dataclass(frozen=True)
class EnrollmentFilter:
    """The Contacts page's filters; empty tuples and None mean "any"."""

    account_id: int
    statuses: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    sequence_ids: tuple[int, ...] = ()
    exists_in_clockwork: bool | None = None
    search: str = ""
    drifted: bool = False  # only contacts a verification found changed in Clockwork (issue 16)


@dataclass(frozen=True)
class EnrollmentRow:
    """One enrollment as the audit table shows it."""

    enrollment_id: int
    email: str
    name: str
    sequence: str
    status: str
    status_label: str
    reason: str | None
    reason_message: str | None
    action: str | None
    exists_in_clockwork: bool
    link: str | None
    clockwork_person_id: str | None
    person_url: str | None
    project_id: str | None
    attempts: int  # every attempt made, all rounds: what the timeline lists
    last_attempt_at: datetime | None
    added_at: datetime
    synced_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def search_term(text: str) -> str:
    """What a search box's text looks for: trimmed, lower-cased, each control character (NUL,
    tab, line break) read as a space. No email or name holds one, and SQLite's full-text search
    and PostgreSQL refuse a NUL."""
    return _CONTROL.sub(" ", text).strip().lower()


def search_notice(text: str) -> str | None:
    """The sentence to show by the search box when :func:`search_term` left something out."""
    if _CONTROL.search(text):
        return "The search ignores control characters (such as NUL, tab or a line break)."
    return None


def drifted_contacts(account_id: int) -> Any:
    """The account's contacts whose newest verification found drift, as a subquery."""
    return select(ContactCheck.contact_id).where(
        ContactCheck.account_id == account_id, ContactCheck.status == CheckStatus.DRIFTED
    )


def _filtered(
    query: Any, where: EnrollmentFilter, *, session: Session, joined_contact: bool
) -> Any:
    """``query`` narrowed to ``where``, searching the way this store can search fastest."""
    query = query.where(Enrollment.account_id == where.account_id)
    if where.statuses:
        query = query.where(col(Enrollment.status).in_(where.statuses))
    if where.reasons:
        query = query.where(col(Enrollment.reason).in_(where.reasons))
    if where.sequence_ids:
        query = query.where(col(Enrollment.sequence_id).in_(where.sequence_ids))
    if where.exists_in_clockwork is not None:
        query = query.where(col(Enrollment.exists_in_clockwork).is_(where.exists_in_clockwork))
    if where.drifted:
        query = query.where(col(Enrollment.contact_id).in_(drifted_contacts(where.account_id)))
    term = search_term(where.search)
    if not term:
        return query
    if len(term) >= _TRIGRAM and not _is_email_start(term) and _has_search_table(session):
        # Any substring of the email or name: the FTS5 trigram table (migration 0004).
        return query.where(col(Enrollment.contact_id).in_(_contact_search(term)))
    if not joined_contact:
        query = query.join(Contact, col(Contact.id) == col(Enrollment.contact_id))
    if _is_email_start(term):
        query = query.where(col(Contact.email).like(f"{_escape_like(term)}%", escape="\\"))
        if _is_sqlite(session):  # LIKE ignores case there: only a range reaches the index
            query = query.where(col(Contact.email) >= term, col(Contact.email) < term + "\uffff")
        return query
    pattern = f"%{_escape_like(term)}%"
    # ' ' as a literal, so PostgreSQL matches the expression of the trigram index on names.
    full_name = func.lower(Contact.first_name + sa.literal_column("' '") + Contact.last_name)
    return query.where(
        col(Contact.email).like(pattern, escape="\\") | full_name.like(pattern, escape="\\")
    )


_TRIGRAM = 3  # the trigram index only finds terms of at least three characters


def _is_email_start(term: str) -> bool:
    """An email or its start ("ann@", "ann@acme.c"): searched as a prefix, which an index serves."""
    return "@" in term and not term.startswith("@")


_SEARCH_TABLE = sa.table("contact_search", sa.column("rowid"))


def _contact_search(term: str) -> Any:
    """Ids of contacts whose email or lower-cased full name contains ``term`` (SQLite)."""
    phrase = '"' + term.replace('"', '""') + '"'  # an FTS5 phrase: the exact substring
    return sa.select(_SEARCH_TABLE.c.rowid).where(
        sa.literal_column("contact_search").op("MATCH")(phrase)
    )


def count_enrollments(*, session: Session, where: EnrollmentFilter) -> int:
    """How many enrollments match (COUNT in SQL)."""
    query = select(func.count()).select_from(Enrollment)
    query = _filtered(query, where, session=session, joined_contact=False)
    return int(session.exec(query).one())


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _has_search_table(session: Session) -> bool:
    """SQLite with the FTS5 trigram table (migration 0004 makes it where SQLite can have it)."""
    if not _is_sqlite(session):
        return False
    info = session.connection().info
    if "contact_search" not in info:  # once per connection
        found = session.exec(
            sa.text("SELECT 1 FROM sqlite_master WHERE name = 'contact_search'")  # type: ignore[call-overload]
        ).first()
        info["contact_search"] = found is not None
    return bool(info["contact_search"])


def _rows_select() -> Any:
    """Enrollments with their contact and sequence name, as the audit table shows them."""
    return (
        select(Enrollment, Contact, Sequence.name)
        .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
        .join(Sequence, col(Sequence.id) == col(Enrollment.sequence_id))
    )


def _page_ids(
    session: Session, ids: Any, id_column: Any, *, limit: int, offset: int, total: int | None
) -> list[int]:
    """The ids of one page, newest first, read from an index before any row is fetched.

    With ``total`` known, a page past the middle is read from the oldest end (ascending, with
    the smaller offset) and reversed, so the last page costs what the first does and no page
    skips more than half of the matches.
    """
    if total is not None and offset > total // 2:
        count = min(limit, total - offset)
        if count <= 0:
            return []
        query = ids.order_by(id_column.asc()).offset(total - offset - count).limit(count)
        return list(reversed(session.exec(query).all()))
    return list(session.exec(ids.order_by(id_column.desc()).offset(offset).limit(limit)).all())


@dataclass(frozen=True)
class _FirmRef:
    """Where the account's people are: its firm and the connection's base URL."""

    name: str
    base_url: str


def _firm(session: Session, account_id: int) -> _FirmRef | None:
    connection = get_connection(session=session, account_id=account_id)
    return _FirmRef(connection.firm, connection.base_url) if connection else None


def _row(
    enrollment: Enrollment,
    contact: Contact,
    sequence: str,
    firm: _FirmRef | None,
    attempts: int,
) -> EnrollmentRow:
    """``attempts``: every attempt made at the enrollment (:func:`attempts_made`)."""
    assert enrollment.id is not None
    info = reason_info(enrollment.reason)
    person_id = enrollment.clockwork_person_id
    return EnrollmentRow(
        enrollment_id=enrollment.id,
        email=contact.email,
        name=f"{contact.first_name} {contact.last_name}".strip(),
        sequence=sequence,
        status=enrollment.status,
        status_label=status_label(enrollment.status, attempts=attempts),
        reason=enrollment.reason,
        reason_message=info.message if info else None,
        action=info.action if info else None,
        exists_in_clockwork=enrollment.exists_in_clockwork,
        link=enrollment.link,
        clockwork_person_id=person_id,
        person_url=person_url(
            firm.name if firm else None, person_id, base_url=firm.base_url if firm else ""
        ),
        project_id=enrollment.project_id,
        attempts=attempts,
        last_attempt_at=enrollment.last_attempt_at,
        added_at=enrollment.added_at,
        synced_at=enrollment.synced_at,
        last_error=enrollment.last_error,
        next_attempt_at=(
            enrollment.next_attempt_at if enrollment.status == EnrollmentStatus.RETRYING else None
        ),
    )


def list_enrollments(
    *,
    session: Session,
    where: EnrollmentFilter,
    limit: int = 50,
    offset: int = 0,
    total: int | None = None,
) -> list[EnrollmentRow]:
    """One page of matching enrollments, newest first.

    ``total`` is :func:`count_enrollments` for ``where``, which the pager has anyway: with it,
    the last pages are as fast as the first (see :func:`_page_ids`).
    """
    ids_query = _filtered(select(Enrollment.id), where, session=session, joined_contact=False)
    ids = _page_ids(session, ids_query, col(Enrollment.id), limit=limit, offset=offset, total=total)
    if not ids:
        return []
    firm = _firm(session, where.account_id)
    made = attempts_made(session=session, enrollment_ids=ids)
    query = _rows_select().where(col(Enrollment.id).in_(ids))
    found = {
        e.id: _row(e, c, name, firm, made.get(e.id or 0, 0))
        for e, c, name in session.exec(query).all()
    }
    return [found[i] for i in ids if i in found]


def iso_utc(moment: datetime | None) -> str:
    """A timestamp as the exports write it: ISO 8601 in UTC, to the second, with its Z
    ("2026-11-30T21:58:04Z"); empty for none. The store's naive values are UTC."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def yes_no(value: bool | None) -> str:
    """A flag as the exports write it."""
    return "Yes" if value else "No"


_LINK_WORDS = {"created": "Created a new person", "linked": "Linked an existing person"}

# The export's columns: a header staff read, and the cell of a row. Ids stand next to the names
# they belong to (the project's name comes from the firm: see export_enrollments_csv).
EXPORT_FIELDS: tuple[tuple[str, Callable[[EnrollmentRow, Mapping[str, str]], object]], ...] = (
    ("Enrollment ID", lambda row, _: row.enrollment_id),
    ("Email", lambda row, _: row.email),
    ("Name", lambda row, _: row.name),
    ("Sequence", lambda row, _: row.sequence),
    ("Status", lambda row, _: STATUS_LABELS.get(row.status, row.status)),
    ("Reason", lambda row, _: row.reason_message),
    ("What to do", lambda row, _: row.action),
    ("Reason code", lambda row, _: row.reason),
    ("Exists in Clockwork", lambda row, _: yes_no(row.exists_in_clockwork)),
    ("Created or linked", lambda row, _: _LINK_WORDS.get(row.link or "", row.link)),
    ("Clockwork person ID", lambda row, _: row.clockwork_person_id),
    ("Clockwork person link", lambda row, _: row.person_url),
    ("Project", lambda row, names: names.get(row.project_id or "", "") if row.project_id else ""),
    ("Project ID", lambda row, _: row.project_id),
    ("Attempts", lambda row, _: row.attempts),
    ("Last attempt (UTC)", lambda row, _: iso_utc(row.last_attempt_at)),
    ("Next attempt (UTC)", lambda row, _: iso_utc(row.next_attempt_at)),
    ("Added (UTC)", lambda row, _: iso_utc(row.added_at)),
    ("Synced (UTC)", lambda row, _: iso_utc(row.synced_at)),
    ("Last error (technical)", lambda row, _: row.last_error),
)
EXPORT_COLUMNS = tuple(header for header, _ in EXPORT_FIELDS)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """A cell value that a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_utc(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


EXPORT_CHUNK_ROWS = 1000


def _export_select() -> Any:
    """What :func:`_rows_select` reads, as plain rows: every enrollment column, the contact's
    email and name, the sequence's name as ``sequence_name`` and every attempt made as
    ``attempts_made`` (a count over the attempts' enrollment index, row by row)."""
    made = (
        sa.select(func.count())
        .select_from(SyncAttempt)
        .where(col(SyncAttempt.enrollment_id) == col(Enrollment.id))
        .scalar_subquery()
    )
    return (
        sa.select(
            *Enrollment.__table__.columns,  # type: ignore[attr-defined]
            col(Contact.email),
            col(Contact.first_name),
            col(Contact.last_name),
            col(Sequence.name).label("sequence_name"),
            made.label("attempts_made"),
        )
        .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
        .join(Sequence, col(Sequence.id) == col(Enrollment.sequence_id))
    )


def export_enrollments_csv(
    *,
    session: Session,
    where: EnrollmentFilter,
    progress: Callable[[int], None] | None = None,
    project_names: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The filtered audit table as CSV text, streamed from the store in chunks (B9).

    Each chunk holds the header or up to ``EXPORT_CHUNK_ROWS`` rows, so memory stays the same at
    any size; ``progress`` is told the number of rows written so far before each chunk leaves.
    Headers are in words (:data:`EXPORT_FIELDS`), times ISO 8601 in UTC, flags Yes or No, and
    ``project_names`` (id → name, from the firm) puts each project's name next to its id.
    """
    names = project_names or {}
    firm = _firm(session, where.account_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()  # the header at once: a streamed download starts before any query
    buffer.seek(0)
    buffer.truncate()
    query = _filtered(_export_select(), where, session=session, joined_contact=True)
    query = query.order_by(col(Enrollment.id)).execution_options(yield_per=EXPORT_CHUNK_ROWS)
    count = 0
    for count, found in enumerate(session.exec(query), start=1):
        # A plain row carries the enrollment's columns and the contact's under the names _row
        # reads: no ORM object per row, which made the export 1.7x slower.
        row = _row(
            cast(Enrollment, found), cast(Contact, found), found.sequence_name, firm,
            int(found.attempts_made or 0),
        )  # fmt: skip
        writer.writerow([spreadsheet_safe(cell(row, names)) for _, cell in EXPORT_FIELDS])
        if count % EXPORT_CHUNK_ROWS == 0:
            if progress is not None:
                progress(count)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if progress is not None:
        progress(count)
    if buffer.tell():
        yield buffer.getvalue()


def filter_choices(*, session: Session, account_id: int) -> dict[str, list[Any]]:
    """The values the filters offer: statuses, reasons present, and the account's sequences."""
    reasons = session.exec(
        select(Enrollment.reason)
        .where(Enrollment.account_id == account_id, col(Enrollment.reason).is_not(None))
        .distinct()
    ).all()
    sequences = session.exec(
        select(Sequence.id, Sequence.name)
        .where(Sequence.account_id == account_id)
        .order_by(col(Sequence.name))
    ).all()
    return {
        "statuses": [status.value for status in EnrollmentStatus],
        "reasons": sorted(reason for reason in reasons if reason),
        "sequences": [(sequence_id, name) for sequence_id, name in sequences],
    }


# --- one enrollment's timeline --------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEvent:
    """One line of an enrollment's history."""

    at: datetime
    event: str
    detail: str  # in words, for staff
    technical: str = ""  # what an engineer needs: Clockwork's raw error, codes


@dataclass
class EnrollmentDetail:
    """An enrollment with its history, for the detail view."""

    row: EnrollmentRow
    account_id: int
    contact: dict[str, str]
    timeline: list[TimelineEvent]
    activity_counts: dict[str, int]
    review_candidates: list[dict[str, Any]] = field(default_factory=list)
    project: str = ""  # the Clockwork project, in words (see _project_of)


_OUTCOME_WORDS = {
    "started": "In progress",
    "synced": "Synced",
    "delivered": "Notes delivered",
    "retrying": "Failed; it will be retried automatically",
    "failed": "Failed",
    "needs_review": "Waiting for staff to choose the Clockwork person",
    "deferred": "Put back to respect Clockwork's pace",
    "paused": "Paused: Clockwork rejected the credentials",
    "lost_lease": "Handed over to another worker",
    "abandoned": "Cut off before it finished; it goes back to the queue",
}
_MODE_AT_ADD = {
    SyncMode.ON_ADD: "sync when added",
    SyncMode.ON_REPLY: "sync only on reply",
    SyncMode.OFF: "sync off",
}


def _project_of(enrollment: Enrollment, session: Session, names: dict[str, str]) -> str:
    """The Clockwork project of an enrollment in words: the one it joins, or why none yet."""
    if enrollment.project_id:
        name = names.get(enrollment.project_id)
        return name or "a project Clockwork does not list (see Technical details)"
    if enrollment.status == EnrollmentStatus.AWAITING_REPLY:
        sequence = session.get(Sequence, enrollment.sequence_id)
        settings = session.get(AccountSettings, enrollment.account_id)
        upcoming = (sequence.project_id if sequence else None) or (
            settings.default_project_id if settings else None
        )
        if upcoming:
            return (
                "decided when they reply: the sequence's project then "
                f"(now {names.get(upcoming, 'a project Clockwork does not list')})"
            )
        return "decided when they reply (the sequence and the account have none now)"
    if enrollment.status == EnrollmentStatus.SKIPPED:
        return "none (the contact is not synced)"
    return "none: the sequence had no project when it was decided (person only)"


_DECISION_WORDS = {
    "sync": "queued for sync",
    "await_reply": "waiting for a reply (sync on reply)",
    "skip": "skipped",
}


def enrollment_detail(
    *, session: Session, enrollment_id: int, project_names: dict[str, str] | None = None
) -> EnrollmentDetail:
    """The enrollment, its contact, and its timeline: added, decision, reply, attempts, activity.

    ``project_names`` (id → name, from the firm) makes the project readable when given.
    """
    found = session.exec(_rows_select().where(Enrollment.id == enrollment_id)).first()
    if found is None:
        raise NotFoundError(f"no enrollment {enrollment_id}")
    enrollment, contact, sequence = found
    made = attempts_made(session=session, enrollment_ids=[enrollment_id])
    row = _row(
        enrollment, contact, sequence, _firm(session, enrollment.account_id),
        made.get(enrollment_id, 0),
    )  # fmt: skip
    names = project_names or {}
    events = [TimelineEvent(enrollment.added_at, "Added", f"To the sequence {sequence}")]
    at_add = decide_on_add(
        AccountSnapshot(
            sync_mode=SyncMode(enrollment.sync_mode_at_add),
            connected=enrollment.connected_at_add,
            deduplication=enrollment.dedup_at_add,
            default_project_id=None,
            activity_tracking=False,
        ),
        SequenceSnapshot(disable_sync=enrollment.disable_sync_at_add, project_id=None),
    )
    words = _DECISION_WORDS[at_add.action].capitalize()
    if at_add.reason:
        info = reason_info(at_add.reason.value)
        assert info is not None
        words += f": {info.message[0].lower()}{info.message[1:]}"
    settings = (
        f"settings then: {_MODE_AT_ADD.get(SyncMode(enrollment.sync_mode_at_add), 'sync')}, "
        f"Clockwork {'connected' if enrollment.connected_at_add else 'not connected'}, "
        f"deduplication {'on' if enrollment.dedup_at_add else 'off'}"
        + (", Disable Sync on" if enrollment.disable_sync_at_add else "")
    )
    events.append(
        TimelineEvent(
            enrollment.added_at,
            "Decision when added",
            f"{words} ({settings})",
            technical=f"reason code {at_add.reason.value}" if at_add.reason else "",
        )
    )
    if enrollment.replied_at is not None:
        detail = "the reply trigger was applied"
        if enrollment.decided_at and enrollment.decided_at >= enrollment.replied_at:
            detail = f"decided again on reply: {STATUS_LABELS.get(enrollment.status, '')}"
        events.append(TimelineEvent(enrollment.replied_at, "Replied", detail))
    if enrollment.project_id and enrollment.decided_at:
        events.append(
            TimelineEvent(
                enrollment.decided_at,
                "Project",
                "Joins " + _project_of(enrollment, session, names),
                technical=f"project id {enrollment.project_id}",
            )
        )
    for attempt in session.exec(
        select(SyncAttempt)
        .where(SyncAttempt.enrollment_id == enrollment_id)
        .order_by(col(SyncAttempt.started_at), col(SyncAttempt.id))
    ).all():
        info = reason_info(attempt.reason)
        detail = _OUTCOME_WORDS.get(attempt.outcome, attempt.outcome.replace("_", " ").capitalize())
        if info:
            detail += f" — {info.message}"
        if attempt.calls:
            detail += f"; {_plural(attempt.calls, 'request to Clockwork')}"
        technical = "; ".join(
            part
            for part in (
                f"outcome {attempt.outcome}",
                f"reason code {attempt.reason}" if attempt.reason else "",
                attempt.error or "",
            )
            if part
        )
        events.append(TimelineEvent(attempt.started_at, "Sync attempt", detail, technical))
    if enrollment.synced_at is not None:
        detail = _LINK_WORDS.get(enrollment.link or "", "Synced")
        if enrollment.exists_in_clockwork:
            detail += " — Exists in Clockwork (entered before this integration)"
        events.append(TimelineEvent(enrollment.synced_at, "Synced", detail))
    counts = {state.value: 0 for state in ActivityState}
    for activity in session.exec(
        select(Activity)
        .where(Activity.enrollment_id == enrollment_id)
        .order_by(col(Activity.occurred_at), col(Activity.id))
    ).all():
        counts[activity.state] = counts.get(activity.state, 0) + 1
        why = reason_info(activity.reason)
        note = {
            ActivityState.SYNCED: "note written to Clockwork",
            ActivityState.PENDING: "note waiting to be written",
            ActivityState.FAILED: "note failed" + (f": {why.message}" if why else ""),
            ActivityState.SKIPPED: "not sent" + (f": {why.message}" if why else ""),
        }.get(ActivityState(activity.state), activity.state)
        subject = f" “{activity.subject}”" if activity.subject else ""
        events.append(
            TimelineEvent(
                activity.occurred_at,
                f"Email {activity.kind}",
                f"{subject} — {note}".strip(" —"),
                technical=activity.last_error or "",
            )
        )
    events.sort(key=lambda event: event.at)
    return EnrollmentDetail(
        row=row,
        account_id=enrollment.account_id,
        contact={
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "title": contact.title,
            "company": contact.company,
            "linkedin_url": contact.linkedin_url,
        },
        timeline=events,
        activity_counts=counts,
        review_candidates=list(enrollment.review_candidates or []),
        project=_project_of(enrollment, session, names),
    )


# --- activity -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityRow:
    """One email event and what became of its Clockwork note."""

    activity_id: int
    enrollment_id: int
    occurred_at: datetime
    kind: str
    subject: str
    email: str
    sequence: str
    state: str
    reason_message: str | None
    attempts: int
    synced_at: datetime | None
    last_error: str | None


def activity_counts_by_state(*, session: Session, account_id: int) -> dict[str, int]:
    """The account's activities by delivery state."""
    # Each state counted in its range of the (account, state) index: PostgreSQL grouped the
    # account's rows from the table instead (~210 ms at 550k activities).
    counts = {}
    for state in ActivityState:
        counts[state.value] = int(
            session.exec(
                select(func.count())
                .select_from(Activity)
                .where(Activity.account_id == account_id, Activity.state == state.value)
            ).one()
        )
    return counts


def _activity_query(
    query: Any, account_id: int, states: tuple[str, ...], kinds: tuple[str, ...]
) -> Any:
    query = query.where(Activity.account_id == account_id)
    if states:
        query = query.where(col(Activity.state).in_(states))
    if kinds:
        query = query.where(col(Activity.kind).in_(kinds))
    return query


def count_activities(
    *, session: Session, account_id: int, states: tuple[str, ...] = (), kinds: tuple[str, ...] = ()
) -> int:
    """How many activities match."""
    query = select(func.count()).select_from(Activity)
    return int(session.exec(_activity_query(query, account_id, states, kinds)).one())


def list_activities(
    *,
    session: Session,
    account_id: int,
    states: tuple[str, ...] = (),
    kinds: tuple[str, ...] = (),
    limit: int = 50,
    offset: int = 0,
    total: int | None = None,
) -> list[ActivityRow]:
    """One page of the account's activities, most recently recorded first.

    ``total`` is :func:`count_activities` for the same filters (see :func:`_page_ids`).
    """
    ids_query = _activity_query(select(Activity.id), account_id, states, kinds)
    ids = _page_ids(session, ids_query, col(Activity.id), limit=limit, offset=offset, total=total)
    if not ids:
        return []
    query = (
        select(Activity, Contact.email, Sequence.name)
        .join(Enrollment, col(Enrollment.id) == col(Activity.enrollment_id))
        .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
        .join(Sequence, col(Sequence.id) == col(Enrollment.sequence_id))
        .where(col(Activity.id).in_(ids))
    )
    found = {
        activity.id: (activity, email, sequence)
        for activity, email, sequence in session.exec(query).all()
    }
    rows = []
    for activity, email, sequence in (found[i] for i in ids if i in found):
        info = reason_info(activity.reason)
        rows.append(
            ActivityRow(
                activity_id=activity.id or 0,
                enrollment_id=activity.enrollment_id,
                occurred_at=activity.occurred_at,
                kind=activity.kind,
                subject=activity.subject,
                email=email,
                sequence=sequence,
                state=activity.state,
                reason_message=info.message if info else None,
                attempts=activity.attempts,
                synced_at=activity.synced_at,
                last_error=activity.last_error,
            )
        )
    return rows


# --- sync log (B7) --------------------------------------------------------------------------


def list_engine_runs(
    *, session: Session, limit: int = 50, offset: int = 0, include_idle: bool = True
) -> list[EngineRun]:
    """Engine passes and scheduler events, newest first; optionally without idle passes."""
    query = select(EngineRun)
    if not include_idle:
        claimed = col(EngineRun.counts)["claimed"].as_integer()
        query = query.where((sa.func.coalesce(claimed, 0) > 0) | col(EngineRun.error).is_not(None))
    query = query.order_by(col(EngineRun.started_at).desc(), col(EngineRun.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


def list_api_calls(
    *,
    session: Session,
    account_id: int | None = None,
    errors_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[ApiCall]:
    """Recent Clockwork requests (secrets never stored), newest first."""
    query = select(ApiCall)
    if account_id is not None:
        query = query.where(ApiCall.account_id == account_id)
    if errors_only:
        query = query.where(
            col(ApiCall.error).is_not(None)
            | col(ApiCall.status).is_(None)
            | (col(ApiCall.status) >= 400)
        )
    query = query.order_by(col(ApiCall.at).desc(), col(ApiCall.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


@dataclass(frozen=True)
class ApiCallStats:
    """Recent Clockwork traffic of an account in numbers."""

    calls: int
    errors: int
    rate_limited: int
    median_latency_ms: float | None


def api_call_stats(*, session: Session, account_id: int, since: datetime) -> ApiCallStats:
    """Calls, errors and 429s since ``since``, and an average latency (all in SQL)."""
    base = select(func.count()).select_from(ApiCall)
    base = base.where(ApiCall.account_id == account_id, col(ApiCall.at) >= since)
    calls = session.exec(base).one()
    errors = session.exec(
        base.where(col(ApiCall.status).is_(None) | (col(ApiCall.status) >= 400))
    ).one()
    limited = session.exec(base.where(ApiCall.status == 429)).one()
    latency = session.exec(
        select(func.avg(ApiCall.latency_ms)).where(
            ApiCall.account_id == account_id, col(ApiCall.at) >= since
        )
    ).one()
    return ApiCallStats(
        calls=int(calls),
        errors=int(errors),
        rate_limited=int(limited),
        median_latency_ms=float(latency) if latency is not None else None,
    )


# --- audit log (B11) ------------------------------------------------------------------------


def count_audit_entries(*, session: Session, account_id: int | None = None) -> int:
    """How many audit entries there are (for one account, or all)."""
    query = select(func.count()).select_from(AuditEntry)
    if account_id is not None:
        query = query.where(AuditEntry.account_id == account_id)
    return int(session.exec(query).one())


def account_names(*, session: Session) -> dict[int, str]:
    """Account id → name."""
    rows = session.exec(select(Account.id, Account.name)).all()
    return {a_id: name for a_id, name in rows if a_id is not None}


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as the Audit log shows it: in words, the stored entry alongside."""

    at: datetime
    who: str
    account: str
    what: str
    field: str
    old: str
    new: str
    entry: AuditEntry  # as stored, for the Technical details


_PROJECT_FIELDS = ("default_project_id", "project_id", "resync_project")


def audit_projects_needed(entries: list[AuditEntry]) -> set[int]:
    """The accounts whose project names the entries need (a project is named by its id)."""
    return {
        entry.account_id
        for entry in entries
        if entry.field in _PROJECT_FIELDS and entry.account_id is not None
    }


def audit_rows(
    *,
    session: Session,
    entries: list[AuditEntry],
    project_names: Mapping[int, Mapping[str, str]] | None = None,
) -> list[AuditRow]:
    """Audit entries in words: who, what (a sequence by its name, a contact by its email), the
    field and its old and new values as staff read them. ``project_names`` maps an account to
    its firm's projects (id → name), for the accounts :func:`audit_projects_needed` lists."""
    ids: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.entity_id and entry.entity_id.isdecimal():
            ids[entry.entity].add(int(entry.entity_id))
    subjects: dict[tuple[str, str], str] = {}
    if ids["sequence"]:
        for sequence_id, name in session.exec(
            select(Sequence.id, Sequence.name).where(col(Sequence.id).in_(ids["sequence"]))
        ).all():
            subjects["sequence", str(sequence_id)] = name
    if ids["contact"]:
        for contact_id, email in session.exec(
            select(Contact.id, Contact.email).where(col(Contact.id).in_(ids["contact"]))
        ).all():
            subjects["contact", str(contact_id)] = email
    if ids["enrollment"]:
        for enrollment_id, email, sequence in session.exec(
            select(Enrollment.id, Contact.email, Sequence.name)
            .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
            .join(Sequence, col(Sequence.id) == col(Enrollment.sequence_id))
            .where(col(Enrollment.id).in_(ids["enrollment"]))
        ).all():
            subjects["enrollment", str(enrollment_id)] = f"{email} ({sequence})"
    accounts = account_names(session=session)
    reasons = {code: info.message for code in _REASONS if (info := reason_info(code))}
    rows = []
    for entry in entries:
        words = wording.audit_words(
            entity=entry.entity,
            field=entry.field,
            old=entry.old_value,
            new=entry.new_value,
            subject=subjects.get((entry.entity, entry.entity_id or "")),
            projects=(project_names or {}).get(entry.account_id or 0, {}),
            status_words=STATUS_LABELS,
            reason_words=reasons,
        )
        rows.append(
            AuditRow(
                at=entry.at,
                who=wording.actor_words(entry.actor),
                account=accounts.get(entry.account_id or 0, ""),
                what=words.what,
                field=words.field,
                old=words.old,
                new=words.new,
                entry=entry,
            )
        )
    return rows


# --- sequences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequenceRow:
    """A sequence with its Syncing tab and how its enrollments stand."""

    sequence_id: int
    name: str
    disable_sync: bool
    project_id: str | None
    effective_project_id: str | None
    total: int = 0
    failed: int = 0


def sequence_overview(*, session: Session, account_id: int) -> list[SequenceRow]:
    """The account's sequences by name, with the project new contacts would join, and how many
    enrollments each holds and how many failed (the breakdown is :func:`sequence_status_counts`).

    Totals and failures are counted per sequence in the (sequence, status) index, which holds
    both: failures found through the account's status index read each failed row for its
    sequence, and one grouped pass cost PostgreSQL ~0.25 s at 1M (~0.08 s this way).
    """
    settings = session.get(AccountSettings, account_id)
    default = settings.default_project_id if settings else None

    def per_sequence(*conditions: Any) -> Any:
        return (
            select(func.count())
            .select_from(Enrollment)
            .where(col(Enrollment.sequence_id) == col(Sequence.id), *conditions)
            .correlate(Sequence)
            .scalar_subquery()
        )

    rows = []
    for sequence, total, failed in session.exec(
        select(Sequence, per_sequence(), per_sequence(Enrollment.status == EnrollmentStatus.FAILED))
        .where(Sequence.account_id == account_id)
        .order_by(col(Sequence.name))
    ).all():
        assert sequence.id is not None
        rows.append(
            SequenceRow(
                sequence_id=sequence.id,
                name=sequence.name,
                disable_sync=sequence.disable_sync,
                project_id=sequence.project_id,
                effective_project_id=sequence.project_id or default,
                total=int(total or 0),
                failed=int(failed or 0),
            )
        )
    return rows


def sequence_status_counts(*, session: Session, sequence_id: int) -> dict[str, int]:
    """One sequence's enrollments by status; every status present."""
    counts = {status.value: 0 for status in EnrollmentStatus}
    for status, count in session.exec(
        select(Enrollment.status, func.count())
        .where(Enrollment.sequence_id == sequence_id)
        .group_by(col(Enrollment.status))
    ).all():
        counts[status] = count
    return counts


# --- previews before saving (B12) -----------------------------------------------------------


@dataclass
class ChangePreview:
    """What saving a change will affect, and what it will not, in sentences."""

    will: list[str] = field(default_factory=list)
    will_not: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing changes."""
        return not (self.will or self.will_not)


def _count(session: Session, *conditions: Any) -> int:
    query = select(func.count()).select_from(Enrollment)
    for condition in conditions:
        query = query.where(condition)
    return int(session.exec(query).one())


_plural = wording.plural


def _verb(count: int, one: str, many: str) -> str:
    """The verb that agrees with ``count``: "1 contact keeps", "3 contacts keep"."""
    return one if count == 1 else many


_MODE_WORDS = {
    SyncMode.ON_ADD: "sync when added to a sequence",
    SyncMode.ON_REPLY: "sync only when they reply",
    SyncMode.OFF: "not sync",
}


def _project_words(project_id: str | None, names: dict[str, str] | None, blank: str) -> str:
    if not project_id:
        return blank
    name = (names or {}).get(project_id)
    return f"the project {name}" if name else "a project Clockwork does not list"


def preview_settings_change(
    *,
    session: Session,
    account_id: int,
    changes: dict[str, Any],
    project_names: dict[str, str] | None = None,
) -> ChangePreview:
    """What changing the account's settings to ``changes`` will and will not affect (R1, R2, R5).

    Only fields whose value differs from the current one are described.
    """
    current = session.get(AccountSettings, account_id)
    if current is None:
        raise NotFoundError(f"no settings for account {account_id}")
    preview = ChangePreview()
    of_account = Enrollment.account_id == account_id
    awaiting = _count(session, of_account, Enrollment.status == EnrollmentStatus.AWAITING_REPLY)
    synced = _count(session, of_account, Enrollment.status == EnrollmentStatus.SYNCED)
    pending = _count(
        session,
        of_account,
        col(Enrollment.status).in_((EnrollmentStatus.QUEUED, EnrollmentStatus.RETRYING)),
    )
    mode = changes.get("sync_mode")
    if mode is not None and SyncMode(mode) != current.sync_mode:
        mode = SyncMode(mode)
        preview.will.append(f"Contacts added from now on will {_MODE_WORDS[mode]}.")
        if mode == SyncMode.OFF and awaiting:
            preview.will.append(
                f"{_plural(awaiting, 'contact')} awaiting a reply will not sync if they reply "
                "while sync is off."
            )
        elif awaiting:
            preview.will.append(
                f"{_plural(awaiting, 'contact')} awaiting a reply will still sync when they reply."
            )
        skipped_off = _count(
            session, of_account, Enrollment.status == EnrollmentStatus.SKIPPED,
            Enrollment.reason == "sync_off",
        )  # fmt: skip
        if mode != SyncMode.OFF and skipped_off:
            preview.will_not.append(
                f"{_plural(skipped_off, 'contact')} skipped while sync was off "
                f"{_verb(skipped_off, 'is', 'are')} not backfilled (they sync only if they reply)."
            )
        if pending:
            preview.will_not.append(
                f"{_plural(pending, 'contact')} already queued {_verb(pending, 'keeps', 'keep')} "
                "the decision made when added."
            )
    if "default_project_id" in changes and (changes["default_project_id"] or None) != (
        current.default_project_id or None
    ):
        without_override = col(Enrollment.sequence_id).in_(
            select(Sequence.id).where(
                Sequence.account_id == account_id, col(Sequence.project_id).is_(None)
            )
        )
        follow = _count(
            session, of_account, without_override,
            Enrollment.status == EnrollmentStatus.AWAITING_REPLY,
        )  # fmt: skip
        target = _project_words(changes["default_project_id"], project_names, "no project")
        preview.will.append(
            f"New contacts in sequences without their own project will join {target}."
        )
        if follow:
            preview.will.append(
                f"{_plural(follow, 'contact')} awaiting a reply will join the new project "
                "when they reply."
            )
        if pending:
            preview.will_not.append(
                f"{_plural(pending, 'contact')} already queued {_verb(pending, 'keeps', 'keep')} "
                "the project decided when added."
            )
        if synced:
            preview.will_not.append(
                f"{_plural(synced, 'contact')} already synced {_verb(synced, 'is', 'are')} not "
                "re-synced to the new project."
            )
    dedup = changes.get("deduplication")
    if dedup is not None and dedup != current.deduplication:
        if dedup:
            preview.will.append(
                "Contacts added from now on are checked against Clockwork and flagged "
                "Exists in Clockwork when a recruiter already entered them."
            )
        else:
            preview.will.append(
                "Contacts added from now on are not checked or flagged (no duplicate person is "
                "created either way)."
            )
        flagged = _count(session, of_account, col(Enrollment.exists_in_clockwork).is_(True))
        preview.will_not.append(
            "Contacts already added keep their check; "
            f"{_plural(flagged, 'Exists in Clockwork flag')} {_verb(flagged, 'stays', 'stay')} "
            "as they are."
        )
    linkedin = changes.get("link_by_linkedin")
    if linkedin is not None and linkedin != current.link_by_linkedin:
        if linkedin:
            preview.will.append(
                "Contacts synced from now on are linked to a Clockwork person with the same "
                "LinkedIn profile when no email matches (ambiguous matches wait for review)."
            )
        else:
            preview.will.append(
                "Contacts synced from now on are matched by email only; without a match a new "
                "person is created."
            )
        preview.will_not.append("People already linked or created stay as they are.")
    tracking = changes.get("activity_tracking")
    if tracking is not None and tracking != current.activity_tracking:
        if tracking:
            preview.will.append("Email activity from now on is written to Clockwork as notes.")
            preview.will_not.append("Activity recorded while tracking was off is not backfilled.")
        else:
            preview.will.append("Email activity from now on is not sent to Clockwork.")
            preview.will_not.append("Notes already written stay in Clockwork.")
    return preview


def preview_sequence_change(
    *,
    session: Session,
    sequence_id: int,
    changes: dict[str, Any],
    project_names: dict[str, str] | None = None,
) -> ChangePreview:
    """What changing a sequence's Syncing tab will and will not affect (R1, R2)."""
    sequence = session.get(Sequence, sequence_id)
    if sequence is None:
        raise NotFoundError(f"no sequence {sequence_id}")
    preview = ChangePreview()
    in_sequence = Enrollment.sequence_id == sequence_id
    awaiting = _count(session, in_sequence, Enrollment.status == EnrollmentStatus.AWAITING_REPLY)
    synced = _count(session, in_sequence, Enrollment.status == EnrollmentStatus.SYNCED)
    pending = _count(
        session,
        in_sequence,
        col(Enrollment.status).in_((EnrollmentStatus.QUEUED, EnrollmentStatus.RETRYING)),
    )
    disable = changes.get("disable_sync")
    if disable is not None and disable != sequence.disable_sync:
        if disable:
            preview.will.append("Contacts added from now on will never sync, even if they reply.")
            preview.will_not.append(
                f"{_plural(pending + awaiting + synced, 'contact')} already in the sequence "
                f"{_verb(pending + awaiting + synced, 'keeps', 'keep')} their decision (queued "
                "ones still sync, synced ones stay in Clockwork)."
            )
        else:
            preview.will.append("Contacts added from now on sync by the account's sync mode.")
            disabled = _count(session, in_sequence, Enrollment.reason == "sequence_sync_disabled")
            if disabled:
                preview.will_not.append(
                    f"{_plural(disabled, 'contact')} added while sync was disabled "
                    f"{_verb(disabled, 'never syncs', 'never sync')}."
                )
    if "project_id" in changes and (changes["project_id"] or None) != (sequence.project_id or None):
        target = _project_words(
            changes["project_id"], project_names, "the account's default project"
        )
        preview.will.append(f"Contacts added from now on will join {target}.")
        if awaiting:
            preview.will.append(
                f"{_plural(awaiting, 'contact')} awaiting a reply will join it when they reply."
            )
        if pending:
            preview.will_not.append(
                f"{_plural(pending, 'contact')} already queued {_verb(pending, 'keeps', 'keep')} "
                "the project decided when added."
            )
        if synced:
            preview.will_not.append(
                f"{_plural(synced, 'contact')} already synced {_verb(synced, 'is', 'are')} not "
                "re-synced to it."
            )
    return preview


# --- the firm's projects (over HTTP, outside any transaction): see services/projects.py -------

ProjectChoice = projects.ProjectChoice
firm_projects = projects.firm_projects


def check_connection(runtime: Runtime, *, account_id: int) -> None:
    """Test the account's stored credentials against Clockwork now; raise a clear reason if not.

    The credentials are decrypted for the HTTP client only; nothing is stored or returned.
    """
    with runtime.db.read() as session:
        credentials = connection_credentials(
            session=session, box=runtime.box, account_id=account_id
        )
    if credentials is None:
        raise ConnectionRejectedError("the account is not connected to Clockwork")
    verify_credentials(runtime, credentials)
