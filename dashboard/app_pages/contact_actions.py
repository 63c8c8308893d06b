"""The Contacts page's changes (admins only): retry, retry all failed, dismiss, the Clockwork
person chosen for a contact under review, and a contact's corrected data. The table's toolbar and
the detail view both call them."""

from __future__ import annotations

from dashboard import identity, store, widgets
from dashboard.widgets import show_error
from sync_engine.services import actions, contact_edits, wording
from sync_engine.services.errors import ServiceError


def retry(enrollment_ids: list[int]) -> None:
    """Queue these enrollments for another attempt (admins only)."""
    actor = identity.require_admin("retry contacts")
    with store.writing() as session:
        done = actions.retry_enrollments(
            session=session, enrollment_ids=enrollment_ids, actor=actor,
        )  # fmt: skip
    widgets.flash(f"{wording.plural(done, 'contact')} queued for retry.")


def retry_all_failed(account_id: int) -> None:
    """Queue every failed enrollment of the account for another attempt (admins only)."""
    actor = identity.require_admin("retry contacts")
    with store.writing() as session:
        done = actions.retry_all_failed(session=session, account_id=account_id, actor=actor)
    widgets.flash(f"{wording.plural(done, 'contact')} queued for retry.")


def dismiss(enrollment_ids: list[int]) -> None:
    """Take these enrollments out of the problem list; they will not sync (admins only)."""
    actor = identity.require_admin("dismiss contacts")
    with store.writing() as session:
        done = actions.dismiss_enrollments(
            session=session, enrollment_ids=enrollment_ids, actor=actor,
        )  # fmt: skip
    widgets.flash(f"{wording.plural(done, 'contact')} dismissed.")


def choose_person(enrollment_id: int, person_id: str | None) -> bool:
    """B2: link the enrollment to the chosen Clockwork person, or to a new one when None
    (admins only); False with the reason on screen when it cannot."""
    actor = identity.require_admin("choose the Clockwork person")
    try:
        with store.writing() as session:
            actions.resolve_review(
                session=session, enrollment_id=enrollment_id, person_id=person_id,
                actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.flash("Choice saved: the contact is queued to sync.")
    return True


def correct_contact(
    enrollment_id: int, fields: dict[str, str]
) -> dict[str, tuple[str, str]] | None:
    """Save an admin's correction of an enrollment's contact (admins only); the changed fields'
    (old, new), or None with the reason on screen when it cannot be saved."""
    actor = identity.require_admin("correct a contact")
    try:
        with store.writing() as session:
            return contact_edits.correct_contact(
                session=session, enrollment_id=enrollment_id, fields=fields,
                actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return None
