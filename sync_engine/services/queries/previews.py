"""What saving a settings or Syncing-tab change will and will not affect, in sentences (B12).

Each field of a change form is a row of a table (:data:`SETTINGS_FIELDS`, :data:`SEQUENCE_FIELDS`):
how its new value is read, and the sentences saving it says for that value. A sentence may depend
on a count of enrollments (:class:`Count`), counted in SQL only when a change needs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from sqlmodel import Session, col, func, select

from sync_engine.models import (
    AccountSettings,
    Enrollment,
    EnrollmentStatus,
    Reason,
    Sequence,
    SyncMode,
)
from sync_engine.services.errors import NotFoundError
from sync_engine.services.wording import plural


@dataclass
class ChangePreview:
    """What saving a change will affect, and what it will not, in sentences."""

    will: list[str] = field(default_factory=list)
    will_not: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing changes."""
        return not (self.will or self.will_not)


class Count(StrEnum):
    """The enrollments a sentence counts, within the account or the sequence changed."""

    AWAITING = "awaiting"
    SYNCED = "synced"
    PENDING = "pending"  # queued or retrying: their decision is already made
    SKIPPED_SYNC_OFF = "skipped_sync_off"
    AWAITING_DEFAULT_PROJECT = "awaiting_default_project"  # in sequences without their own
    FLAGGED = "flagged"
    ADDED_WHILE_DISABLED = "added_while_disabled"
    IN_SEQUENCE = "in_sequence"  # awaiting, pending or synced


def _conditions(count: Count, account_id: int) -> tuple[Any, ...]:
    status = col(Enrollment.status)
    return {
        Count.AWAITING: (status == EnrollmentStatus.AWAITING_REPLY,),
        Count.SYNCED: (status == EnrollmentStatus.SYNCED,),
        Count.PENDING: (status.in_((EnrollmentStatus.QUEUED, EnrollmentStatus.RETRYING)),),
        Count.SKIPPED_SYNC_OFF: (
            status == EnrollmentStatus.SKIPPED,
            col(Enrollment.reason) == Reason.SYNC_OFF,
        ),
        Count.AWAITING_DEFAULT_PROJECT: (
            status == EnrollmentStatus.AWAITING_REPLY,
            col(Enrollment.sequence_id).in_(
                select(Sequence.id).where(
                    Sequence.account_id == account_id, col(Sequence.project_id).is_(None)
                )
            ),
        ),
        Count.FLAGGED: (col(Enrollment.exists_in_clockwork).is_(True),),
        Count.ADDED_WHILE_DISABLED: (col(Enrollment.reason) == Reason.SEQUENCE_SYNC_DISABLED,),
        Count.IN_SEQUENCE: (
            status.in_(
                (
                    EnrollmentStatus.AWAITING_REPLY,
                    EnrollmentStatus.QUEUED,
                    EnrollmentStatus.RETRYING,
                    EnrollmentStatus.SYNCED,
                )
            ),
        ),
    }[count]


@dataclass(frozen=True)
class Effect:
    """One sentence of a preview.

    ``text`` may hold ``{contacts}`` or ``{flags}`` (the count in words), ``{one|many}`` (the
    word that agrees with the count) and ``{target}`` (the new value in words). It is said when
    its count is not zero, or always when it has no count or ``even_if_none`` is set.
    """

    text: str
    will: bool = True  # False: something saving leaves as it is
    count: Count | None = None
    even_if_none: bool = False


_AGREEMENT = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")


def _say(effect: Effect, count: int, target: str) -> str:
    agreed = _AGREEMENT.sub(lambda m: m[1] if count == 1 else m[2], effect.text)
    return agreed.format(
        contacts=plural(count, "contact"),
        flags=plural(count, "Exists in Clockwork flag"),
        target=target,
    )


Names = Mapping[str, str]


@dataclass(frozen=True)
class FormField:
    """A field of a change form: how its value is read, and what saving a new value says."""

    read: Callable[[Any], Any]  # the value as compared with the stored one
    effects: Callable[[Any], tuple[Effect, ...]]  # by the new value (as read)
    target: Callable[[Any, Names], str] = lambda value, names: ""
    none_is_a_value: bool = False  # a None in the changes sets it (else: leaves it unchanged)


def _project_words(blank: str) -> Callable[[Any, Names], str]:
    def words(project_id: Any, names: Names) -> str:
        if not project_id:
            return blank
        name = names.get(project_id)
        return f"the project {name}" if name else "a project Clockwork does not list"

    return words


MODE_WORDS = {
    SyncMode.ON_ADD: "sync when added to a sequence",
    SyncMode.ON_REPLY: "sync only when they reply",
    SyncMode.OFF: "not sync",
}

_QUEUED_KEEP_DECISION = Effect(
    "{contacts} already queued {keeps|keep} the decision made when added.",
    will=False,
    count=Count.PENDING,
)
_QUEUED_KEEP_PROJECT = Effect(
    "{contacts} already queued {keeps|keep} the project decided when added.",
    will=False,
    count=Count.PENDING,
)
_SYNCING_MODE_EFFECTS = (
    Effect("Contacts added from now on will {target}."),
    Effect("{contacts} awaiting a reply will still sync when they reply.", count=Count.AWAITING),
    Effect(
        "{contacts} skipped while sync was off {is|are} not backfilled (they sync only if they "
        "reply).",
        will=False,
        count=Count.SKIPPED_SYNC_OFF,
    ),
    _QUEUED_KEEP_DECISION,
)
_MODE_EFFECTS: dict[SyncMode, tuple[Effect, ...]] = {
    SyncMode.ON_ADD: _SYNCING_MODE_EFFECTS,
    SyncMode.ON_REPLY: _SYNCING_MODE_EFFECTS,
    SyncMode.OFF: (
        Effect("Contacts added from now on will {target}."),
        Effect(
            "{contacts} awaiting a reply will not sync if they reply while sync is off.",
            count=Count.AWAITING,
        ),
        _QUEUED_KEEP_DECISION,
    ),
}
_FLAGS_STAY = Effect(
    "Contacts already added keep their check; {flags} {stays|stay} as they are.",
    will=False,
    count=Count.FLAGGED,
    even_if_none=True,
)
_LINKS_STAY = Effect("People already linked or created stay as they are.", will=False)
_TOGGLES: dict[str, dict[bool, tuple[Effect, ...]]] = {
    "deduplication": {
        True: (
            Effect(
                "Contacts added from now on are checked against Clockwork and flagged Exists in "
                "Clockwork when a recruiter already entered them."
            ),
            _FLAGS_STAY,
        ),
        False: (
            Effect(
                "Contacts added from now on are not checked or flagged (no duplicate person is "
                "created either way)."
            ),
            _FLAGS_STAY,
        ),
    },
    "link_by_linkedin": {
        True: (
            Effect(
                "Contacts synced from now on are linked to a Clockwork person with the same "
                "LinkedIn profile when no email matches (ambiguous matches wait for review)."
            ),
            _LINKS_STAY,
        ),
        False: (
            Effect(
                "Contacts synced from now on are matched by email only; without a match a new "
                "person is created."
            ),
            _LINKS_STAY,
        ),
    },
    "activity_tracking": {
        True: (
            Effect("Email activity from now on is written to Clockwork as notes."),
            Effect("Activity recorded while tracking was off is not backfilled.", will=False),
        ),
        False: (
            Effect("Email activity from now on is not sent to Clockwork."),
            Effect("Notes already written stay in Clockwork.", will=False),
        ),
    },
    "disable_sync": {
        True: (
            Effect("Contacts added from now on will never sync, even if they reply."),
            Effect(
                "{contacts} already in the sequence {keeps|keep} their decision (queued ones "
                "still sync, synced ones stay in Clockwork).",
                will=False,
                count=Count.IN_SEQUENCE,
                even_if_none=True,
            ),
        ),
        False: (
            Effect("Contacts added from now on sync by the account's sync mode."),
            Effect(
                "{contacts} added while sync was disabled {never syncs|never sync}.",
                will=False,
                count=Count.ADDED_WHILE_DISABLED,
            ),
        ),
    },
}


def _toggle(name: str) -> FormField:
    return FormField(read=bool, effects=_TOGGLES[name].__getitem__)


def _project_id(value: Any) -> str | None:
    return value or None


SETTINGS_FIELDS: dict[str, FormField] = {
    "sync_mode": FormField(
        read=SyncMode,
        effects=_MODE_EFFECTS.__getitem__,
        target=lambda mode, names: MODE_WORDS[mode],
    ),
    "default_project_id": FormField(
        read=_project_id,
        effects=lambda project: (
            Effect("New contacts in sequences without their own project will join {target}."),
            Effect(
                "{contacts} awaiting a reply will join the new project when they reply.",
                count=Count.AWAITING_DEFAULT_PROJECT,
            ),
            _QUEUED_KEEP_PROJECT,
            Effect(
                "{contacts} already synced {is|are} not re-synced to the new project.",
                will=False,
                count=Count.SYNCED,
            ),
        ),
        target=_project_words("no project"),
        none_is_a_value=True,
    ),
    "deduplication": _toggle("deduplication"),
    "link_by_linkedin": _toggle("link_by_linkedin"),
    "activity_tracking": _toggle("activity_tracking"),
}
"""The account's Sync settings form, field by field (R1, R2, R5), in the order they are told."""

SEQUENCE_FIELDS: dict[str, FormField] = {
    "disable_sync": _toggle("disable_sync"),
    "project_id": FormField(
        read=_project_id,
        effects=lambda project: (
            Effect("Contacts added from now on will join {target}."),
            Effect(
                "{contacts} awaiting a reply will join it when they reply.", count=Count.AWAITING
            ),
            _QUEUED_KEEP_PROJECT,
            Effect(
                "{contacts} already synced {is|are} not re-synced to it.",
                will=False,
                count=Count.SYNCED,
            ),
        ),
        target=_project_words("the account's default project"),
        none_is_a_value=True,
    ),
}
"""A sequence's Syncing tab, field by field (R1, R2)."""


def _preview(
    *,
    session: Session,
    form: Mapping[str, FormField],
    stored: Any,
    changes: Mapping[str, Any],
    scope: Any,
    account_id: int,
    names: Names,
) -> ChangePreview:
    """The sentences of every field of ``form`` whose value in ``changes`` differs from ``stored``."""

    @cache
    def counted(count: Count) -> int:
        query = select(func.count()).select_from(Enrollment).where(scope)
        return int(session.exec(query.where(*_conditions(count, account_id))).one())

    preview = ChangePreview()
    for name, form_field in form.items():
        if name not in changes or (changes[name] is None and not form_field.none_is_a_value):
            continue
        value = form_field.read(changes[name])
        if value == form_field.read(getattr(stored, name)):
            continue
        target = form_field.target(value, names)
        for effect in form_field.effects(value):
            count = counted(effect.count) if effect.count else 0
            if effect.count and not count and not effect.even_if_none:
                continue
            (preview.will if effect.will else preview.will_not).append(_say(effect, count, target))
    return preview


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
    return _preview(
        session=session, form=SETTINGS_FIELDS, stored=current, changes=changes,
        scope=Enrollment.account_id == account_id, account_id=account_id,
        names=project_names or {},
    )  # fmt: skip


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
    return _preview(
        session=session, form=SEQUENCE_FIELDS, stored=sequence, changes=changes,
        scope=Enrollment.sequence_id == sequence_id, account_id=sequence.account_id,
        names=project_names or {},
    )  # fmt: skip
