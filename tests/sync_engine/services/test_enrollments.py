"""The triggers in the store: decisions snapshotted at add and reply, CSV import, R5 tracking."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_engine.matching import normalize_email
from sync_engine.models import ActivityKind, ActivityState, Reason
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, contacts_csv, enrollments, events
from sync_engine.services.errors import InvalidInputError
from sync_engine.services.status import iter_status
from tests.factories import FakeClock, enroll, make_connected_account, make_sequence, set_settings


def _enrollment(runtime: Runtime, enrollment_id: int) -> dict[str, object]:
    with runtime.db.read() as session:
        enrollment = events.get_enrollment(session=session, enrollment_id=enrollment_id)
        return enrollment.model_dump()


def _event(runtime: Runtime, enrollment_id: int, kind: ActivityKind, **kw: object) -> int:
    with runtime.db.write() as session:
        activity = events.record_event(
            session=session, enrollment_id=enrollment_id, kind=kind,
            at=kw.get("at"), subject=str(kw.get("subject", "Hello")),  # type: ignore[arg-type]
        )  # fmt: skip
    assert activity.id is not None
    return activity.id


def test_emails_are_normalised_and_contacts_shared_across_sequences(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)
    first = enroll(runtime, make_sequence(runtime, account_id, "A"), "  Ada@Example.COM ")
    second = enroll(runtime, make_sequence(runtime, account_id, "B"), "ada@example.com")
    a, b = _enrollment(runtime, first), _enrollment(runtime, second)
    assert a["contact_id"] == b["contact_id"]
    with runtime.db.read() as session:
        emails = {row["email"] for row in iter_status(session=session, account_id=account_id)}
    assert emails == {"ada@example.com"}


def test_same_contact_twice_in_one_sequence_is_refused(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)
    sequence_id = make_sequence(runtime, account_id)
    enroll(runtime, sequence_id, "ada@example.com")
    with pytest.raises(InvalidInputError, match="already in this sequence"):
        enroll(runtime, sequence_id, "ADA@example.com")


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "a@", "@b.com", "a b@c.com", "x" * 330 + "@a.com"]
)
def test_invalid_emails_are_refused_with_a_reason(email: str) -> None:
    with pytest.raises(InvalidInputError, match="email"):
        enrollments.parse_contact({"email": email})


def test_decision_is_snapshotted_at_add_and_later_changes_do_not_touch_it(
    runtime: Runtime,
) -> None:
    account_id = make_connected_account(runtime, default_project_id="proj-a")
    sequence_id = make_sequence(runtime, account_id)
    queued = enroll(runtime, sequence_id, "q@example.com")
    set_settings(runtime, account_id, sync_mode="off", default_project_id="proj-b")
    skipped = enroll(runtime, sequence_id, "s@example.com")
    q, s = _enrollment(runtime, queued), _enrollment(runtime, skipped)
    assert (q["status"], q["project_id"], q["sync_mode_at_add"]) == ("queued", "proj-a", "on_add")
    assert (s["status"], s["reason"]) == ("skipped", "sync_off")


def test_disable_sync_at_add_is_permanent_even_after_a_reply(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime, sync_mode="on_reply")
    sequence_id = make_sequence(runtime, account_id, disable_sync=True)
    enrollment_id = enroll(runtime, sequence_id, "d@example.com")
    with runtime.db.write() as session:
        accounts.update_sequence(
            session=session, sequence_id=sequence_id, changes={"disable_sync": False},
            actor="t",
        )  # fmt: skip
    _event(runtime, enrollment_id, ActivityKind.REPLIED)
    row = _enrollment(runtime, enrollment_id)
    assert (row["status"], row["reason"]) == ("skipped", "sequence_sync_disabled")


def test_reply_queues_an_awaiting_enrollment_with_the_project_in_force_then(
    runtime: Runtime, clock: FakeClock
) -> None:
    account_id = make_connected_account(runtime, sync_mode="on_reply")
    sequence_id = make_sequence(runtime, account_id)
    enrollment_id = enroll(runtime, sequence_id, "r@example.com")
    assert _enrollment(runtime, enrollment_id)["status"] == "awaiting_reply"
    set_settings(runtime, account_id, default_project_id="proj-later")
    clock.advance(60)
    _event(runtime, enrollment_id, ActivityKind.REPLIED)
    row = _enrollment(runtime, enrollment_id)
    assert (row["status"], row["project_id"]) == ("queued", "proj-later")
    assert row["replied_at"] == clock.now


def test_mode_off_then_on_does_not_backfill(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime, sync_mode="off")
    enrollment_id = enroll(runtime, make_sequence(runtime, account_id), "o@example.com")
    set_settings(runtime, account_id, sync_mode="on_add")
    row = _enrollment(runtime, enrollment_id)
    assert (row["status"], row["reason"]) == ("skipped", "sync_off")


def test_activity_is_tracked_by_the_settings_of_its_own_time(
    runtime: Runtime, clock: FakeClock
) -> None:
    before_connection = clock.now
    clock.advance(3600)
    account_id = make_connected_account(runtime)
    enrollment_id = enroll(runtime, make_sequence(runtime, account_id), "t@example.com")
    clock.advance(60)
    tracked_time = clock.now
    clock.advance(60)
    set_settings(runtime, account_id, activity_tracking=False)
    clock.advance(60)
    untracked_time = clock.now
    clock.advance(60)
    set_settings(runtime, account_id, activity_tracking=True)
    clock.advance(60)
    ids = {
        "now": _event(runtime, enrollment_id, ActivityKind.SENT),
        "while tracking": _event(runtime, enrollment_id, ActivityKind.OPENED, at=tracked_time),
        "tracking off": _event(runtime, enrollment_id, ActivityKind.CLICKED, at=untracked_time),
        "before connection": _event(
            runtime, enrollment_id, ActivityKind.OPENED, at=before_connection
        ),
    }
    from sync_engine.models import Activity

    with runtime.db.read() as session:
        states = {name: session.get(Activity, i).state for name, i in ids.items()}  # type: ignore[union-attr]
    assert states == {
        "now": ActivityState.PENDING,
        "while tracking": ActivityState.PENDING,
        "tracking off": ActivityState.SKIPPED,
        "before connection": ActivityState.SKIPPED,
    }


def test_events_in_the_future_or_without_zone_are_refused(
    runtime: Runtime, clock: FakeClock
) -> None:
    account_id = make_connected_account(runtime)
    enrollment_id = enroll(runtime, make_sequence(runtime, account_id), "f@example.com")
    with pytest.raises(InvalidInputError, match="future"):
        _event(runtime, enrollment_id, ActivityKind.SENT, at=clock.advance(0).replace(year=2030))


def test_activities_of_a_skipped_enrollment_are_skipped_with_its_reason(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime, sync_mode="off")
    enrollment_id = enroll(runtime, make_sequence(runtime, account_id), "k@example.com")
    _event(runtime, enrollment_id, ActivityKind.SENT)
    with runtime.db.read() as session:
        (row,) = list(iter_status(session=session, account_id=account_id))
    assert row["activities"] == {"pending": 0, "synced": 0, "skipped": 1, "failed": 0}
    assert row["reason"] == Reason.SYNC_OFF


def _csv(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


HEADER = "email,first_name,last_name,title,company,linkedin_url\n"


def _import(runtime: Runtime, sequence_id: int, path: Path) -> enrollments.ImportReport:
    _header, rows, _total = contacts_csv.read_contacts_csv(path)
    return enrollments.import_contacts(
        session_factory=runtime.db.write, sequence_id=sequence_id, rows=rows
    )


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(
    runtime: Runtime, tmp_path: Path
) -> None:
    account_id = make_connected_account(runtime)
    sequence_id = make_sequence(runtime, account_id)
    path = _csv(
        tmp_path,
        HEADER
        + "ada@example.com,Ada,Lovelace,CTO,Analytical,https://www.linkedin.com/in/ada\n"
        + "not-an-email,Bad,Row,,,\n"
        + "\n"
        + "ADA@example.com,Dup,Licate,,,\n"
        + "=cmd@example.com,Formula,Name,,,\n"
        + "grace@example.com,Grace,Hopper,,,,extra\n"
        + "لينا@example.com,لينا,حداد,,,\n",
    )
    report = _import(runtime, sequence_id, path)
    assert report.imported == 3
    assert [line for line, _ in report.rejected] == [3, 5, 7]
    assert "already in this sequence" in report.rejected[1][1]


def test_import_refuses_a_file_missing_a_column_before_importing_anything(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = _csv(tmp_path, "email,first_name\nada@example.com,Ada\n")
    with pytest.raises(InvalidInputError, match="lacks the column"):
        contacts_csv.read_contacts_csv(path)


def test_import_refuses_bytes_that_are_not_utf8_with_the_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, HEADER + "ada@example.com,Ada,,,,\n")
    path.write_bytes(path.read_bytes() + b"bob@example.com,B\xe9b,,,,\n")
    with pytest.raises(InvalidInputError, match="not UTF-8 text \\(bad byte on line 3\\)"):
        contacts_csv.read_contacts_csv(path)


def test_import_of_many_rows_reports_progress_in_batches(runtime: Runtime, tmp_path: Path) -> None:
    account_id = make_connected_account(runtime)
    sequence_id = make_sequence(runtime, account_id)
    rows = "".join(f"person{i}@example.com,P,{i},,,\n" for i in range(1200))
    _header, parsed, total = contacts_csv.read_contacts_csv(_csv(tmp_path, HEADER + rows))
    progress: list[int] = []
    report = enrollments.import_contacts(
        session_factory=runtime.db.write, sequence_id=sequence_id, rows=parsed,
        on_progress=progress.append,
    )  # fmt: skip
    assert (total, report.imported, progress) == (1200, 1200, [500, 500, 200])


def test_status_streams_every_enrollment_in_partitions_with_its_own_counts(
    runtime: Runtime,
) -> None:
    account_id = make_connected_account(runtime, sync_mode="off")
    sequence_id = make_sequence(runtime, account_id)
    ids = [enroll(runtime, sequence_id, f"p{n}@example.com") for n in range(5)]
    for _ in range(2):
        _event(runtime, ids[3], ActivityKind.SENT)
    other = make_connected_account(runtime, "Other")
    enroll(runtime, make_sequence(runtime, other), "p9@example.com")
    with runtime.db.read() as session:
        rows = list(iter_status(session=session, account_id=account_id, partition=2))
    assert [row["enrollment_id"] for row in rows] == ids
    assert [row["activities"]["skipped"] for row in rows] == [0, 0, 0, 2, 0]


def test_a_batch_redone_row_by_row_reports_each_row_once(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A contact added by another writer between the batch's reads and its insert: the batch
    # rolls back and is redone one row at a time.
    import sqlalchemy as sa

    batch = enrollments._import_batch

    def racing(*args: object) -> None:
        batch(*args)  # type: ignore[arg-type]
        raise sa.exc.IntegrityError("INSERT", None, Exception("UNIQUE constraint failed"))

    monkeypatch.setattr(enrollments, "_import_batch", racing)
    sequence_id = make_sequence(runtime, make_connected_account(runtime))
    path = _csv(
        tmp_path,
        HEADER + "ada@example.com,Ada,,,,\nnot-an-email,Bad,,,,\nADA@example.com,Dup,,,,\n",
    )
    report = _import(runtime, sequence_id, path)
    assert (report.imported, report.total) == (1, 3)
    assert [line for line, _ in report.rejected] == [3, 4]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("linkedin.com/in/ada", "https://linkedin.com/in/ada"),
        ("https://uk.linkedin.com/in/ada", "https://uk.linkedin.com/in/ada"),
        ("https://evil.example/linkedin.com/in/ada", None),
        ("ftp://linkedin.com/in/ada", None),
        ("https://example.com/not-linkedin", None),
    ],
)
def test_linkedin_urls_must_be_linkedin_profiles(given: str, stored: str | None) -> None:
    row = {"email": "ada@example.com", "linkedin_url": given}
    if stored is None:
        with pytest.raises(InvalidInputError, match="LinkedIn URL"):
            enrollments.parse_contact(row)
    else:
        assert enrollments.parse_contact(row).linkedin_url == stored


# --- internationalised domains (issue 12, item 9) -----------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("user@bücher.de", "user@bücher.de"),
        ("user@xn--bcher-kva.de", "user@bücher.de"),
        ("  USER@BÜCHER.DE ", "user@bücher.de"),
        ("user@XN--BCHER-KVA.DE", "user@bücher.de"),
        ("user@bu\u0308cher.de", "user@bücher.de"),  # u + combining diaeresis (NFD)
        ("user@bücher\u3002de", "user@bücher.de"),  # an ideographic full stop between labels
        ("Ada@Example.COM", "ada@example.com"),
    ],
)
def test_an_email_is_normalised_with_its_domain_in_unicode_form(
    given: str, normalised: str
) -> None:
    assert normalize_email(given) == normalised
    assert enrollments.check_email(given) == normalised


def test_an_internationalised_domain_can_be_looked_up_in_either_spelling() -> None:
    from sync_engine.matching import email_spellings

    assert email_spellings("USER@xn--bcher-kva.de") == ("user@bücher.de", "user@xn--bcher-kva.de")
    assert email_spellings("Ada@Example.com") == ("ada@example.com",)


def test_an_internationalised_domain_in_unicode_or_ascii_form_is_one_contact(
    runtime: Runtime, tmp_path: Path
) -> None:
    account_id = make_connected_account(runtime)
    first = enroll(runtime, make_sequence(runtime, account_id, "A"), "user@bücher.de")
    second = enroll(runtime, make_sequence(runtime, account_id, "B"), "user@xn--bcher-kva.de")
    assert _enrollment(runtime, first)["contact_id"] == _enrollment(runtime, second)["contact_id"]
    sequence_id = make_sequence(runtime, account_id, "C")
    path = _csv(tmp_path, HEADER + "user@xn--bcher-kva.de,U,,,,\nUSER@BÜCHER.DE,U,,,,\n")
    report = _import(runtime, sequence_id, path)
    assert report.imported == 1
    assert report.rejected == [(3, "user@bücher.de is already in this sequence")]
    with runtime.db.read() as session:
        emails = {row["email"] for row in iter_status(session=session, account_id=account_id)}
    assert emails == {"user@bücher.de"}


# --- CSV: an unclosed quote, and files larger than memory (issue 12, item 9) ----------------------


def test_an_unclosed_quote_rejects_its_own_line_and_keeps_the_rows_after_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    account_id = make_connected_account(runtime)
    sequence_id = make_sequence(runtime, account_id)
    path = _csv(
        tmp_path,
        HEADER
        + "one@example.com,One,,,,\n"
        + 'two@example.com,"Two,,,,\n'  # the quote never closes
        + "three@example.com,Three,,,,\n"
        + 'four@example.com,"Four, Jr.",,,,\n'  # a later quote must not close the one above
        + "five@example.com,Five,,,,\n"
        + "six@example.com,Six,,,,\n"
        + 'seven@example.com,Seven,,,,"',  # and again on the last line, with no line break
    )
    _header, rows, total = contacts_csv.read_contacts_csv(path)
    report = enrollments.import_contacts(
        session_factory=runtime.db.write, sequence_id=sequence_id, rows=rows
    )
    assert (total, report.imported, report.total) == (7, 5, 7)
    assert [line for line, _ in report.rejected] == [3, 8]
    assert all("unclosed quote" in reason for _, reason in report.rejected)
    with runtime.db.read() as session:
        emails = {row["email"] for row in iter_status(session=session, account_id=account_id)}
    assert emails == {"one@example.com", "three@example.com", "four@example.com",
                      "five@example.com", "six@example.com"}  # fmt: skip


def test_a_line_longer_than_any_contact_is_rejected_without_reading_it_whole(
    tmp_path: Path,
) -> None:
    path = _csv(
        tmp_path, HEADER + "a@example.com," + "y" * 3_000_000 + ",,,,\nb@example.com,B,,,,\n"
    )
    _header, rows, total = contacts_csv.read_contacts_csv(path)
    parsed = list(rows)
    assert total == 2
    assert parsed[0][0] == 2 and "longer than" in parsed[0][1].reason
    assert parsed[1] == (3, {"email": "b@example.com", "first_name": "B", "last_name": "",
                             "title": "", "company": "", "linkedin_url": ""})  # fmt: skip


def test_a_row_is_judged_on_its_data_even_with_a_key_the_reader_once_used_for_errors(
    runtime: Runtime,
) -> None:
    sequence_id = make_sequence(runtime, make_connected_account(runtime))
    rows = [(1, {"email": "ada@example.com", "__error__": "looks like ours"})]
    report = enrollments.import_contacts(
        session_factory=runtime.db.write, sequence_id=sequence_id, rows=rows
    )
    assert report.rejected == [(1, "__error__: Extra inputs are not permitted")]


@pytest.mark.slow  # a 9 MB file
def test_reading_a_large_csv_holds_one_line_at_a_time(tmp_path: Path) -> None:
    import tracemalloc

    row = "person{}@example.com,First,Last,Vice President,Company Holdings,https://linkedin.com/in/p\n"
    path = tmp_path / "large.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for start in range(0, 100_000, 10_000):
            out.write("".join(row.format(i) for i in range(start, start + 10_000)))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        _header, rows, total = contacts_csv.read_contacts_csv(path)
        seen = sum(1 for _ in rows)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (total, seen) == (100_000, 100_000)
    assert size > 9_000_000 and peak < 2_000_000, f"peak {peak:,} bytes for a {size:,}-byte file"
