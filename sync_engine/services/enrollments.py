"""Contacts, enrollments and activity events: the two triggers of SPEC R1 and the R5 record.

Adding a contact to a sequence and recording a reply are the triggers; each takes the settings in
force at that moment, asks :mod:`sync_engine.rules` for the decision and stores it with the
enrollment, where later setting changes never reach it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from sync_engine import domain
from sync_engine.domain import Clock
from sync_engine.matching import normalize_email, normalize_linkedin_url
from sync_engine.models import (
    AccountSettings,
    Activity,
    ActivityKind,
    ActivityState,
    AuditEntry,
    ClockworkConnection,
    ConnectionState,
    Contact,
    Enrollment,
    EnrollmentStatus,
    Reason,
    Sequence,
    SyncMode,
    table_of,
)
from sync_engine.rules import (
    AccountSnapshot,
    Decision,
    activity_is_tracked,
    decide_on_add,
    decide_on_reply,
)
from sync_engine.services.accounts import (
    account_snapshot,
    get_sequence,
    sequence_snapshot,
)
from sync_engine.services.errors import InvalidInputError, NotFoundError, invalid_input

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
CSV_COLUMNS = ("email", "first_name", "last_name", "title", "company", "linkedin_url")
IMPORT_BATCH = 500


def check_email(raw: str) -> str:
    """The normalised email, or :class:`InvalidInputError` saying what is wrong with it."""
    try:
        return domain.check_email(raw)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


class ContactInput(BaseModel):
    """One contact as typed or imported: the email is normalised, the other fields trimmed."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    email: str = Field(max_length=320)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=300)
    company: str = Field(default="", max_length=300)
    linkedin_url: str = Field(default="", max_length=500)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return check_email(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("linkedin_url")
    @classmethod
    def _linkedin(cls, value: str) -> str:
        if not value:
            return value
        url = value if "://" in value else f"https://{value}"
        if not url.lower().startswith(("https://", "http://")):
            raise ValueError("the LinkedIn URL must be a web address (https://…)")
        if not normalize_linkedin_url(url).startswith("linkedin.com/"):
            raise ValueError("the LinkedIn URL must be a linkedin.com address")
        return url

    @field_validator("first_name", "last_name", "title", "company", "linkedin_url", "email")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError(
                "contains a line break or control character (in a CSV: an unclosed quote?)"
            )
        return value


def parse_contact(fields: dict[str, Any]) -> ContactInput:
    """Validate a contact's fields, raising :class:`InvalidInputError` with the first problem."""
    try:
        return ContactInput(**{k: ("" if v is None else v) for k, v in fields.items()})
    except ValidationError as exc:
        raise invalid_input(exc) from None


def _decision_columns(decision: Decision, now: datetime) -> dict[str, Any]:
    return {
        "status": decision.status,
        "reason": decision.reason,
        "project_id": decision.project_id,
        "decided_at": now,
        "next_attempt_at": now if decision.status == EnrollmentStatus.QUEUED else None,
    }


def add_contact(
    *, session: Session, sequence_id: int, contact: ContactInput, clock: Clock
) -> Enrollment:
    """Enroll a contact in a sequence: the *add* trigger of R1, decided and stored now."""
    sequence, snapshot, decision = _decide_add(session, sequence_id)
    return _enroll(
        session=session,
        sequence_id=sequence_id,
        account_id=sequence.account_id,
        contact=contact,
        decision=decision,
        snapshot=snapshot,
        disable_sync=sequence.disable_sync,
        now=clock(),
    )


def _decide_add(session: Session, sequence_id: int) -> tuple[Sequence, AccountSnapshot, Decision]:
    """The sequence, its account's settings now, and R1's decision for a contact added now."""
    sequence = get_sequence(session=session, sequence_id=sequence_id)
    snapshot = account_snapshot(session=session, account_id=sequence.account_id)
    return sequence, snapshot, decide_on_add(snapshot, sequence_snapshot(sequence))


def _enroll(
    *,
    session: Session,
    sequence_id: int,
    account_id: int,
    contact: ContactInput,
    decision: Decision,
    snapshot: AccountSnapshot,
    disable_sync: bool,
    now: datetime,
) -> Enrollment:
    row = session.exec(
        select(Contact).where(Contact.account_id == account_id, Contact.email == contact.email)
    ).first()
    if row is None:
        row = Contact(account_id=account_id, created_at=now, **contact.model_dump())
        session.add(row)
        session.flush()
    else:
        for name, value in _blanks_filled(row, contact).items():
            setattr(row, name, value)
        session.add(row)
        existing = session.exec(
            select(Enrollment.id).where(
                Enrollment.sequence_id == sequence_id, Enrollment.contact_id == row.id
            )
        ).first()
        if existing is not None:
            raise InvalidInputError(f"{contact.email} is already in this sequence")
    assert row.id is not None
    enrollment = Enrollment(
        **_enrollment_columns(
            account_id=account_id, sequence_id=sequence_id, contact_id=row.id,
            person_id=row.clockwork_person_id, decision=decision, snapshot=snapshot,
            disable_sync=disable_sync, now=now,
        )
    )  # fmt: skip
    session.add(enrollment)
    session.flush()
    return enrollment


def _blanks_filled(row: Contact, given: ContactInput) -> dict[str, str]:
    """The fields ``given`` fills that the stored contact has empty (nothing is overwritten)."""
    return {
        name: value
        for name, value in given.model_dump(exclude={"email"}).items()
        if value and not getattr(row, name)
    }


def _enrollment_columns(
    *,
    account_id: int,
    sequence_id: int,
    contact_id: int,
    person_id: str | None,
    decision: Decision,
    snapshot: AccountSnapshot,
    disable_sync: bool,
    now: datetime,
) -> dict[str, Any]:
    """A new enrollment's columns: the contact, the R1 snapshot at add and the decision."""
    return {
        "account_id": account_id,
        "sequence_id": sequence_id,
        "contact_id": contact_id,
        "added_at": now,
        "sync_mode_at_add": snapshot.sync_mode,
        "disable_sync_at_add": disable_sync,
        "connected_at_add": snapshot.connected,
        "dedup_at_add": snapshot.deduplication and snapshot.connected,
        "action_at_add": decision.action,
        "reason_at_add": decision.reason,
        "clockwork_person_id": person_id,
        **_decision_columns(decision, now),
    }


@dataclass
class ImportReport:
    """What a CSV import did: rows imported, and each rejected row with its line and reason.

    No id per imported row: the report of a million-row file stays small.
    """

    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows read (imported + rejected)."""
        return self.imported + len(self.rejected)

    def merge(self, other: ImportReport) -> None:
        """Add another part of the same import."""
        self.imported += other.imported
        self.rejected += other.rejected


@dataclass(frozen=True)
class UnreadableLine:
    """A CSV line the reader could not turn into a row, and why (reported against its line)."""

    reason: str


Row = dict[str, str] | UnreadableLine
"""One line of a contacts CSV: its values by column, or why it could not be read."""


def read_contacts_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, Row]], int]:
    """Open a contacts CSV: its header, an iterator of (line number, row), and the row count.

    Raises :class:`InvalidInputError` for an unreadable file, bytes that are not UTF-8, or a
    missing column, before any row is imported. Memory does not grow with the file: a first pass
    checks the encoding and counts lines a chunk at a time, and the iterator reads one line at a
    time. Each line is one row (no value may hold a line break): a quote left open is reported on
    its own line and never swallows the rows after it.
    """
    lines = _check_utf8(path)
    with _open_text(path) as text:
        first = next(_lines(text), (1, ""))[1]
    try:
        values = _values(first) if first is not None else None
    except csv.Error as exc:
        raise InvalidInputError(f"{path.name}: the header line is unreadable ({exc})") from None
    if values is None:
        raise InvalidInputError(
            f"{path.name}: the header line is unreadable (an unclosed quote, or over "
            f"{MAX_LINE_CHARS:,} characters)"
        )
    header = [name.strip().lower() for name in values]
    missing = [name for name in CSV_COLUMNS if name not in header]
    if missing:
        raise InvalidInputError(
            f"{path.name} lacks the column(s) {', '.join(missing)}; "
            f"expected header: {','.join(CSV_COLUMNS)}"
        )

    def rows() -> Iterator[tuple[int, Row]]:
        with _open_text(path) as text:
            for line, raw in _lines(text):
                if line == 1:
                    continue  # the header
                row = _row(raw, header)
                if row is not None:
                    yield line, row

    return header, rows(), max(lines - 1, 0)


MAX_LINE_CHARS = 1 << 20  # far beyond any contact row; a longer line is skipped unread
_CHUNK_BYTES = 1 << 18
_LINE_BREAKS = ("\n", "\r")
_UNCLOSED_QUOTE = 'an unclosed quote: a value opened with " does not close on this line'


def _check_utf8(path: Path) -> int:
    """The file's line count (a last line without a line break counts), once it is known to be
    UTF-8 throughout; read a chunk at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines, last = 0, b""
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(_CHUNK_BYTES):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:  # exc.object: this chunk after any held bytes
                    line = newlines + exc.object[: exc.start].count(b"\n") + 1
                    raise InvalidInputError(
                        f"{path.name} is not UTF-8 text (bad byte on line {line}); "
                        "save it as CSV UTF-8"
                    ) from None
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise InvalidInputError(
                    f"{path.name} is not UTF-8 text (its last character is cut short on line "
                    f"{newlines + 1}); save it as CSV UTF-8"
                ) from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from None
    return newlines + (1 if last not in (b"", b"\n") else 0)


def _open_text(path: Path) -> io.TextIOWrapper:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from None


def _lines(text: io.TextIOWrapper) -> Iterator[tuple[int, str | None]]:
    """(line number, line) for each line; None for a line over ``MAX_LINE_CHARS``, skipped
    without holding it."""
    number = 0
    while line := text.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith(_LINE_BREAKS):
            while (rest := text.readline(MAX_LINE_CHARS)) and not rest.endswith(_LINE_BREAKS):
                pass
            yield number, None
        else:
            yield number, line


def _values(line: str) -> list[str] | None:
    """The values of one CSV line, or None if a quoted value is still open at its end."""
    if not line.endswith(_LINE_BREAKS):
        line += "\n"  # so that an open quote shows as a line break inside the last value
    values = next(csv.reader((line,)), [])
    if values and values[-1].endswith(_LINE_BREAKS):
        return None
    return values


def _row(line: str | None, header: list[str]) -> Row | None:
    """One line as a row of the known columns, an :class:`UnreadableLine`, or None for a blank
    line."""
    if line is None:
        return UnreadableLine(f"the line is longer than {MAX_LINE_CHARS:,} characters")
    try:
        values = _values(line)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        return UnreadableLine(f"unreadable row: {exc}")
    if values is None:
        return UnreadableLine(_UNCLOSED_QUOTE)
    if not any(value.strip() for value in values):
        return None
    if len(values) > len(header):
        return UnreadableLine(f"{len(values)} values for {len(header)} columns")
    values += [""] * (len(header) - len(values))
    return {name: values[i] for i, name in enumerate(header) if name in CSV_COLUMNS}


def import_contacts(
    *,
    session_factory: Callable[[], Any],
    sequence_id: int,
    rows: Iterable[tuple[int, Row]],
    clock: Clock,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every row, import the good ones in batches, report the bad ones by line.

    ``session_factory`` opens a write transaction (``Database.write``); each batch commits on its
    own so a large file holds no lock for long and a failure loses at most one batch.
    """
    report = ImportReport()
    batch: list[tuple[int, Row]] = []

    def flush() -> None:
        # Each attempt reports into its own ImportReport, merged once its transaction commits:
        # a batch redone row by row must not report its bad rows twice.
        part = ImportReport()
        try:
            with session_factory() as session:
                _import_batch(session, sequence_id, batch, clock(), part)
        except sa.exc.IntegrityError:  # a contact added concurrently: redo this batch row by row
            part = ImportReport()
            with session_factory() as session:
                _import_rows(session, sequence_id, batch, clock(), part)
        report.merge(part)
        if on_progress:
            on_progress(len(batch))
        batch.clear()

    with session_factory() as session:
        get_sequence(session=session, sequence_id=sequence_id)
    for item in rows:
        batch.append(item)
        if len(batch) >= IMPORT_BATCH:
            flush()
    if batch:
        flush()
    report.rejected.sort()
    return report


def _parse_rows(
    rows: list[tuple[int, Row]], report: ImportReport
) -> list[tuple[int, ContactInput]]:
    parsed = []
    for line, row in rows:
        if isinstance(row, UnreadableLine):
            report.rejected.append((line, row.reason))
            continue
        try:
            parsed.append((line, parse_contact(row)))
        except InvalidInputError as exc:
            report.rejected.append((line, str(exc)))
    return parsed


def _import_batch(
    session: Session,
    sequence_id: int,
    rows: list[tuple[int, Row]],
    now: datetime,
    report: ImportReport,
) -> None:
    """Enroll a batch with a handful of set-based statements (not a few queries per row)."""
    sequence, snapshot, decision = _decide_add(session, sequence_id)
    account_id = sequence.account_id
    parsed = _parse_rows(rows, report)
    emails = {contact.email for _, contact in parsed}
    contacts = {
        row.email: row
        for row in session.exec(
            select(Contact).where(Contact.account_id == account_id, col(Contact.email).in_(emails))
        ).all()
    }
    enrolled = set(
        session.exec(
            select(Enrollment.contact_id).where(
                Enrollment.sequence_id == sequence_id,
                col(Enrollment.contact_id).in_([c.id for c in contacts.values()]),
            )
        ).all()
    )
    seen: set[str] = set()
    fresh: list[dict[str, Any]] = []
    filled: list[dict[str, Any]] = []
    for line, given in parsed:
        row = contacts.get(given.email)
        if given.email in seen or (row is not None and row.id in enrolled):
            report.rejected.append((line, f"{given.email} is already in this sequence"))
            continue
        seen.add(given.email)
        if row is None:
            fresh.append({"account_id": account_id, "created_at": now, **given.model_dump()})
            continue
        blanks = _blanks_filled(row, given)
        if blanks:
            filled.append({"contact_id": row.id, **blanks})
    # Core statements: building ORM objects would cost more than the inserts themselves.
    if fresh:
        session.execute(sa.insert(Contact), fresh)
    for change in filled:
        contact_id = change.pop("contact_id")
        session.execute(sa.update(Contact).where(col(Contact.id) == contact_id).values(**change))
    ids: dict[str, int] = {
        email: contact_id
        for email, contact_id in session.exec(
            select(Contact.email, Contact.id).where(
                Contact.account_id == account_id, col(Contact.email).in_(seen)
            )
        ).all()
        if contact_id is not None
    }
    person_ids = {email: row.clockwork_person_id for email, row in contacts.items()}
    enrollments = [
        _enrollment_columns(
            account_id=account_id,
            sequence_id=sequence_id,
            contact_id=ids[email],
            person_id=person_ids.get(email),
            decision=decision,
            snapshot=snapshot,
            disable_sync=sequence.disable_sync,
            now=now,
        )
        for email in seen
    ]
    if enrollments:
        session.execute(sa.insert(Enrollment), enrollments)
    report.imported += len(enrollments)


def _import_rows(
    session: Session,
    sequence_id: int,
    rows: list[tuple[int, Row]],
    now: datetime,
    report: ImportReport,
) -> None:
    """The slow path, one savepoint per row, for a batch that raced with another writer."""
    sequence, snapshot, decision = _decide_add(session, sequence_id)
    for line, contact in _parse_rows(rows, report):
        try:
            with session.begin_nested():
                _enroll(
                    session=session, sequence_id=sequence_id, account_id=sequence.account_id,
                    contact=contact, decision=decision, snapshot=snapshot,
                    disable_sync=sequence.disable_sync, now=now,
                )  # fmt: skip
        except (InvalidInputError, sa.exc.IntegrityError) as exc:
            report.rejected.append((line, str(exc).splitlines()[0]))
            continue
        report.imported += 1


def get_enrollment(*, session: Session, enrollment_id: int) -> Enrollment:
    """An enrollment by id."""
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFoundError(f"no enrollment {enrollment_id}")
    return enrollment


_ACTIVITIES = table_of(Activity)
_ENROLLMENT_ROWS = table_of(Enrollment)
_SETTINGS = table_of(AccountSettings)
_CONNECTIONS = table_of(ClockworkConnection)
_AUDIT = table_of(AuditEntry)


def _logged_value_after(entity: str, field_name: str) -> sa.ScalarSelect[Any]:
    """The value a logged field had at ``:at``: the old value of its first change after then
    (NULL with no later change: the value is still the current one)."""
    return (
        sa.select(_AUDIT.c.old_value)
        .where(
            _AUDIT.c.account_id == _ENROLLMENT_ROWS.c.account_id,
            _AUDIT.c.entity == entity,
            _AUDIT.c.field == field_name,
            _AUDIT.c.at > sa.bindparam("at", type_=_AUDIT.c.at.type),
        )
        .order_by(_AUDIT.c.at, _AUDIT.c.id)
        .limit(1)
        .scalar_subquery()
    )


# Built once: everything recording an event needs to know, in one statement (the ingest API's
# hot path). The connection and tracking "then" columns are NULL when nothing changed since.
_EVENT_CONTEXT = (
    sa.select(
        _ENROLLMENT_ROWS.c.account_id,
        _ENROLLMENT_ROWS.c.status,
        _ENROLLMENT_ROWS.c.reason,
        _SETTINGS.c.account_id.label("has_settings"),
        _SETTINGS.c.sync_mode,
        _SETTINGS.c.deduplication,
        _SETTINGS.c.default_project_id,
        _SETTINGS.c.activity_tracking,
        _CONNECTIONS.c.state.label("connection_state"),
        sa.select(sa.func.min(_AUDIT.c.at))
        .where(
            _AUDIT.c.account_id == _ENROLLMENT_ROWS.c.account_id,
            _AUDIT.c.entity == "connection",
            _AUDIT.c.field == "state",
        )
        .scalar_subquery()
        .label("first_connected_at"),
        _logged_value_after("connection", "state").label("connection_state_then"),
        _logged_value_after("settings", "activity_tracking").label("tracking_then"),
    )
    .select_from(_ENROLLMENT_ROWS)
    .outerjoin(_SETTINGS, _SETTINGS.c.account_id == _ENROLLMENT_ROWS.c.account_id)
    .outerjoin(_CONNECTIONS, _CONNECTIONS.c.account_id == _ENROLLMENT_ROWS.c.account_id)
    .where(_ENROLLMENT_ROWS.c.id == sa.bindparam("id"))
)


@dataclass(frozen=True)
class _EventContext:
    """An enrollment's account as an event at ``at`` finds it: the settings now and R5's
    verdict for that moment."""

    account_id: int
    status: str
    reason: str | None
    snapshot: AccountSnapshot
    untracked: Reason | None


def _event_context(connection: sa.Connection, enrollment_id: int, at: datetime) -> _EventContext:
    row = connection.execute(_EVENT_CONTEXT, {"id": enrollment_id, "at": at}).first()
    if row is None:
        raise NotFoundError(f"no enrollment {enrollment_id}")
    if row.has_settings is None:
        raise NotFoundError(f"no settings for account {row.account_id}")
    snapshot = AccountSnapshot(
        sync_mode=SyncMode(row.sync_mode),
        connected=row.connection_state is not None
        and row.connection_state != ConnectionState.DISCONNECTED,
        deduplication=row.deduplication,
        default_project_id=row.default_project_id,
        activity_tracking=row.activity_tracking,
    )
    return _EventContext(
        account_id=row.account_id, status=row.status, reason=row.reason, snapshot=snapshot,
        untracked=_untracked_reason(row, at, snapshot),
    )  # fmt: skip


def _untracked_reason(row: sa.Row[Any], at: datetime, current: AccountSnapshot) -> Reason | None:
    """R5 for an event that happened at ``at``: None if it is to be synced, else why not.

    The connection state and the tracking setting at ``at`` come from the audit log's history of
    the account, so an event recorded late (``--at`` in the past) is judged by the settings of
    its own time, and nothing from before the first connection is ever sent. The reason tells an
    activity backfill (B4) what it may send later.
    """
    first = row.first_connected_at
    if row.connection_state is None or first is None or at < first:
        return Reason.BEFORE_CONNECTION
    state = row.connection_state_then or row.connection_state
    tracking = row.tracking_then or ("on" if current.activity_tracking else "off")
    then = replace(
        current,
        connected=state in (ConnectionState.CONNECTED, ConnectionState.NEEDS_ATTENTION),
        activity_tracking=tracking == "on",
    )
    if activity_is_tracked(then):
        return None
    return Reason.NOT_CONNECTED if not then.connected else Reason.TRACKING_OFF


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An activity just recorded: its row's values (a plain record, not an ORM object)."""

    id: int
    enrollment_id: int
    account_id: int
    kind: ActivityKind
    occurred_at: datetime
    subject: str
    tracked: bool
    activity_key: str
    state: ActivityState
    reason: str | None
    attempts: int


def record_event(
    *,
    session: Session,
    enrollment_id: int,
    kind: ActivityKind,
    at: datetime | None,
    subject: str,
    clock: Clock,
) -> RecordedEvent:
    """Record an email event; a reply is also the second trigger of R1.

    Core statements (one to read the context, one insert, one update), the ORM only for a
    reply's decision: the ingest API records hundreds of events a second through here.
    """
    if len(subject) > 500:
        raise InvalidInputError("subject is longer than 500 characters")
    now = clock()
    at = at or now
    if at.tzinfo is None:
        raise InvalidInputError("--at needs a timezone, e.g. 2026-11-28T09:30:00Z")
    session.flush()  # the statements below go to the connection, past the session
    connection = session.connection()
    context = _event_context(connection, enrollment_id, at)
    if at > now:
        raise InvalidInputError("an event cannot happen in the future")
    status, enrollment_reason = context.status, context.reason
    if kind == ActivityKind.REPLIED:
        enrollment = get_enrollment(session=session, enrollment_id=enrollment_id)
        _on_reply(session=session, enrollment=enrollment, snapshot=context.snapshot, now=now)
        session.flush()
        status, enrollment_reason = enrollment.status, enrollment.reason
    state = ActivityState.PENDING
    reason: str | None = None
    if context.untracked is not None:
        state, reason = ActivityState.SKIPPED, context.untracked
    elif status == EnrollmentStatus.SKIPPED:
        state, reason = ActivityState.SKIPPED, enrollment_reason
    columns: dict[str, Any] = {
        "enrollment_id": enrollment_id,
        "account_id": context.account_id,
        "kind": kind,
        "occurred_at": at,
        "subject": subject.strip(),
        "tracked": context.untracked is None,
        "activity_key": uuid.uuid4().hex,
        "state": state,
        "reason": reason,
        "attempts": 0,
    }
    activity_id = connection.execute(_INSERT_ACTIVITY, columns).scalar_one()
    if state == ActivityState.PENDING:
        # The engine has a note to deliver; a synced enrollment goes back in the queue for it.
        connection.execute(_REQUEUE_FOR_NOTE, {"enrollment_id": enrollment_id, "due": now})
        loaded = session.identity_map.get(session.identity_key(Enrollment, enrollment_id))
        if loaded is not None:  # the update went past the session
            session.expire(loaded, ["next_attempt_at"])
    return RecordedEvent(id=activity_id, **columns)


_ENGINE_OWNED = (
    EnrollmentStatus.QUEUED,
    EnrollmentStatus.RETRYING,
    EnrollmentStatus.SYNCING,
    EnrollmentStatus.SYNCED,
)
_INSERT_ACTIVITY = sa.insert(_ACTIVITIES).returning(_ACTIVITIES.c.id)
_REQUEUE_FOR_NOTE = (
    sa.update(_ENROLLMENT_ROWS)
    .where(
        _ENROLLMENT_ROWS.c.id == sa.bindparam("enrollment_id"),
        _ENROLLMENT_ROWS.c.status.in_(_ENGINE_OWNED),
        _ENROLLMENT_ROWS.c.next_attempt_at.is_(None),
    )
    .values(next_attempt_at=sa.bindparam("due", type_=_ENROLLMENT_ROWS.c.next_attempt_at.type))
)


def _on_reply(
    *, session: Session, enrollment: Enrollment, snapshot: AccountSnapshot, now: datetime
) -> None:
    if enrollment.replied_at is None:
        enrollment.replied_at = now
    sequence = get_sequence(session=session, sequence_id=enrollment.sequence_id)
    decision = decide_on_reply(
        status=EnrollmentStatus(enrollment.status),
        reason=Reason(enrollment.reason) if enrollment.reason else None,
        account=snapshot,
        sequence=sequence_snapshot(sequence),
    )
    if decision is not None:
        for name, value in _decision_columns(decision, now).items():
            setattr(enrollment, name, value)
        enrollment.dedup_at_add = enrollment.dedup_at_add or (
            snapshot.deduplication and snapshot.connected
        )
        _follow_enrollment(session=session, enrollment_id=enrollment.id, decision=decision)
    session.add(enrollment)


_REOPENABLE = (Reason.SYNC_OFF.value, Reason.NOT_CONNECTED.value)


def _follow_enrollment(*, session: Session, enrollment_id: int | None, decision: Decision) -> None:
    """Keep tracked activities in step with their enrollment after a reply's decision (R5).

    Skipped enrollment → its pending activities are skipped with the same reason; queued again →
    the activities skipped only because the enrollment was skipped become pending again.
    """
    skipping = decision.status == EnrollmentStatus.SKIPPED
    query = select(Activity).where(
        Activity.enrollment_id == enrollment_id, col(Activity.tracked).is_(True)
    )
    if skipping:
        query = query.where(Activity.state == ActivityState.PENDING)
    else:
        query = query.where(
            Activity.state == ActivityState.SKIPPED, col(Activity.reason).in_(_REOPENABLE)
        )
    for activity in session.exec(query).all():
        if skipping:
            activity.state, activity.reason = ActivityState.SKIPPED, decision.reason
        else:
            activity.state, activity.reason = ActivityState.PENDING, None
        session.add(activity)


__all__ = [
    "CSV_COLUMNS",
    "ContactInput",
    "ImportReport",
    "RecordedEvent",
    "Row",
    "SyncMode",
    "UnreadableLine",
    "add_contact",
    "check_email",
    "get_enrollment",
    "import_contacts",
    "normalize_email",
    "parse_contact",
    "read_contacts_csv",
    "record_event",
]
