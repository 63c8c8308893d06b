"""Reason codes, statuses and links in plain words (SPEC §4), and the action each reason calls for.

Every page, the export and the ingest API's status answer read their words from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_engine.domain import EnrollmentStatus, LinkKind, Reason
from sync_engine.services.wording import plural


@dataclass(frozen=True)
class ReasonInfo:
    """What a reason code means to a person, and the action that resolves it (None: nothing)."""

    code: str
    message: str
    action: str | None


# Every Reason has its words (a test checks); keyed by the enum, looked up by the stored text.
REASONS: dict[str, tuple[str, str | None]] = {
    Reason.SYNC_OFF: ("Sync was off when this contact was added or replied", None),
    Reason.SEQUENCE_SYNC_DISABLED: (
        "The sequence had Disable Sync on when the contact was added",
        None,
    ),
    Reason.NOT_CONNECTED: ("Clockwork was not connected when this contact was added", None),
    Reason.DISMISSED: ("Dismissed by staff; it will not sync", None),
    Reason.INVALID_EMAIL: ("The email address is not valid", "Fix the email"),
    Reason.AUTH_FAILED: ("Clockwork rejected the account's credentials", "Reconnect Clockwork"),
    Reason.RATE_LIMITED: ("Clockwork asked us to slow down; retrying automatically", "Retry"),
    Reason.CLOCKWORK_UNAVAILABLE: ("Clockwork was unavailable (server error or timeout)", "Retry"),
    Reason.NETWORK_ERROR: ("Clockwork could not be reached over the network", "Retry"),
    Reason.VALIDATION_ERROR: (
        "Clockwork refused the contact's data",
        "Fix the contact, then Retry",
    ),
    Reason.NOT_FOUND: ("A Clockwork record it needed no longer exists", "Retry"),
    Reason.ACCOUNT_PAUSED: ("Syncing is paused for this account", "Resume syncing"),
    Reason.TRACKING_OFF: (
        "Activity tracking was off when this happened (send it with an activity backfill)",
        "Backfill activity",
    ),
    Reason.BEFORE_CONNECTION: ("This happened before Clockwork was connected", None),
    Reason.UNEXPECTED_ANSWER: (
        "Clockwork answered something we could not use; it is retried automatically",
        "Retry",
    ),
    Reason.UNEXPECTED_ERROR: (
        "Something went wrong on our side while syncing this contact; it is retried "
        "automatically and the engineers have the details in the log",
        "Retry",
    ),
    Reason.AMBIGUOUS_LINKEDIN_MATCH: (
        "Several Clockwork people have this LinkedIn profile",
        "Choose the person",
    ),
}


def reason_info(code: str) -> ReasonInfo:
    """The plain-language message and action for any reason code: a code this version does not
    know (written by a newer one, say) is shown in words made from the code, with Retry."""
    message, action = REASONS.get(code) or (
        code.replace("_", " ").capitalize() or "No reason given",
        "Retry",
    )
    return ReasonInfo(code=code, message=message, action=action)


def reason_message(code: str | None) -> str | None:
    """What a stored reason (if any) means, for a table cell; None when there is no reason."""
    return reason_info(code).message if code else None


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

LINK_WORDS: dict[str, str] = {
    LinkKind.CREATED: "Created a new person",
    LinkKind.LINKED: "Linked an existing person",
}


def status_label(status: str, *, attempts: int = 0) -> str:
    """A status in words; a retry says how many attempts were made (SPEC §4).

    ``attempts`` counts every attempt the timeline lists, in every round (see
    :func:`~sync_engine.services.queries.contact_table.attempts_made`), as the Contacts table, the
    detail's header and the export do. When the next attempt is due is the page's to say, in the
    viewer's timezone (``next_attempt_at`` of the row).
    """
    label = STATUS_LABELS.get(status, status)
    if status == EnrollmentStatus.RETRYING and attempts:
        label = f"Retrying (after {plural(attempts, 'attempt')})"
    return label
