"""The Contacts table as a CSV file (B9): words for staff, streamed from the store in chunks.

Headers are in words, times ISO 8601 in UTC, flags Yes or No, and every cell is made safe to
open in a spreadsheet (no formula runs). Memory stays the same at any size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, func

from sync_engine.models import Contact, Enrollment, Sequence, SyncAttempt
from sync_engine.services.queries import contact_table
from sync_engine.services.queries.reason_texts import LINK_WORDS, STATUS_LABELS


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


# The export's columns: a header staff read, and the cell of a row. Ids stand next to the names
# they belong to (the project's name comes from the firm: see export_enrollments_csv).
_Cell = Callable[[contact_table.EnrollmentRow, Mapping[str, str]], object]
EXPORT_FIELDS: tuple[tuple[str, _Cell], ...] = (
    ("Enrollment ID", lambda row, _: row.enrollment_id),
    ("Email", lambda row, _: row.email),
    ("Name", lambda row, _: row.name),
    ("Sequence", lambda row, _: row.sequence),
    ("Status", lambda row, _: STATUS_LABELS.get(row.status, row.status)),
    ("Reason", lambda row, _: row.reason_message),
    ("What to do", lambda row, _: row.action),
    ("Reason code", lambda row, _: row.reason),
    ("Exists in Clockwork", lambda row, _: yes_no(row.exists_in_clockwork)),
    ("Created or linked", lambda row, _: LINK_WORDS.get(row.link or "", row.link)),
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
    """What :func:`contact_table.rows_select` reads, as plain rows: every enrollment column,
    the contact's email and name, the sequence's name as ``sequence_name`` and every attempt made
    as ``attempts_made`` (a count over the attempts' enrollment index, row by row)."""
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
    where: contact_table.EnrollmentFilter,
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
    firm = contact_table.firm_ref(session, where.account_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()  # the header at once: a streamed download starts before any query
    buffer.seek(0)
    buffer.truncate()
    query = contact_table.filtered(_export_select(), where, session=session, joined_contact=True)
    query = query.order_by(col(Enrollment.id)).execution_options(yield_per=EXPORT_CHUNK_ROWS)
    count = 0
    for count, found in enumerate(session.exec(query), start=1):
        # A plain row carries the columns under the names make_row reads: no ORM object per row.
        row = contact_table.make_row(
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
