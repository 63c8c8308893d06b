"""The Contacts page's audit table (SPEC §4, B5): filters, search, paging, one row per enrollment.

Filtering, searching and paging happen in SQL on indexed columns (the search reaches SQLite's
trigram table or PostgreSQL's trigram index), so a page of a million enrollments costs what a
page of a hundred does. The export and the detail build their rows with :func:`make_row`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from sync_engine.connections import get_connection
from sync_engine.models import Contact, Enrollment, EnrollmentStatus, Sequence, SyncAttempt
from sync_engine.services.queries.reason_texts import reason_info, status_label
from sync_engine.services.queries.sql import is_sqlite, page_ids
from sync_engine.verify.models import CheckStatus, ContactCheck


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
    drifted: bool = False  # only contacts a verification found changed in Clockwork


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


def filtered(query: Any, where: EnrollmentFilter, *, session: Session, joined_contact: bool) -> Any:
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
    if len(term) >= _TRIGRAM and not _is_email_start(term) and has_search_table(session):
        # Any substring of the email or name: the FTS5 trigram table (migration 0004).
        return query.where(col(Enrollment.contact_id).in_(_contact_search(term)))
    if not joined_contact:
        query = query.join(Contact, col(Contact.id) == col(Enrollment.contact_id))
    if _is_email_start(term):
        query = query.where(col(Contact.email).like(f"{_escape_like(term)}%", escape="\\"))
        if is_sqlite(session):  # LIKE ignores case there: only a range reaches the index
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
    query = filtered(query, where, session=session, joined_contact=False)
    return int(session.exec(query).one())


def has_search_table(session: Session) -> bool:
    """SQLite with the FTS5 trigram table (migration 0004 makes it where SQLite can have it)."""
    if not is_sqlite(session):
        return False
    info = session.connection().info
    if "contact_search" not in info:  # once per connection
        found = session.exec(
            sa.text("SELECT 1 FROM sqlite_master WHERE name = 'contact_search'")  # type: ignore[call-overload]
        ).first()
        info["contact_search"] = found is not None
    return bool(info["contact_search"])


def rows_select() -> Any:
    """Enrollments with their contact and sequence name, as the audit table shows them."""
    return (
        select(Enrollment, Contact, Sequence.name)
        .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
        .join(Sequence, col(Sequence.id) == col(Enrollment.sequence_id))
    )


@dataclass(frozen=True)
class FirmRef:
    """Where the account's people are: its firm and the connection's base URL."""

    name: str
    base_url: str


def firm_ref(session: Session, account_id: int) -> FirmRef | None:
    """Where the account's people are, or None while it has no connection."""
    connection = get_connection(session=session, account_id=account_id)
    return FirmRef(connection.firm, connection.base_url) if connection else None


def make_row(
    enrollment: Enrollment,
    contact: Contact,
    sequence: str,
    firm: FirmRef | None,
    attempts: int,
) -> EnrollmentRow:
    """``attempts``: every attempt made at the enrollment (:func:`attempts_made`)."""
    assert enrollment.id is not None
    info = reason_info(enrollment.reason) if enrollment.reason else None
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
    the last pages are as fast as the first (see :func:`~sync_engine.services.queries.sql.page_ids`).
    """
    ids_query = filtered(select(Enrollment.id), where, session=session, joined_contact=False)
    ids = page_ids(session, ids_query, col(Enrollment.id), limit=limit, offset=offset, total=total)
    if not ids:
        return []
    firm = firm_ref(session, where.account_id)
    made = attempts_made(session=session, enrollment_ids=ids)
    query = rows_select().where(col(Enrollment.id).in_(ids))
    found = {
        e.id: make_row(e, c, name, firm, made.get(e.id or 0, 0))
        for e, c, name in session.exec(query).all()
    }
    return [found[i] for i in ids if i in found]


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
