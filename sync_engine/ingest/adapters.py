"""Other platforms' webhook payloads, mapped to our events: Instantly and Smartlead.

Each adapter reads one delivery of the platform's documented payload and says which campaign
(our sequence, referenced as ``instantly:<campaign_id>`` / ``smartlead:<campaign_id>``), which
lead (email and name) and which event it is. An event type we have no activity for (a lead
marked interested, an unsubscribe, an auto-reply) maps to None: the delivery is acknowledged and
ignored, so the platform does not retry it. Field names follow the platforms' documentation:

- Instantly (developer.instantly.ai, "Webhook events"): ``event_type`` ``email_sent``,
  ``email_opened``, ``link_clicked`` (``email_link_clicked`` in older documents),
  ``reply_received``, ``email_bounced``; ``timestamp``, ``campaign_id``, ``campaign_name``,
  ``lead_email``, ``email_subject`` / ``reply_subject``; lead fields merged in as extra keys.
- Smartlead (help.smartlead.ai webhook guide): ``event_type`` ``EMAIL_SENT``,
  ``FIRST_EMAIL_SENT``, ``EMAIL_OPEN``, ``EMAIL_LINK_CLICK``, ``EMAIL_REPLY``, ``EMAIL_BOUNCE``;
  ``event_timestamp`` (older: ``time_sent``, ``time_opened``, …), ``to_email``, ``to_name``,
  ``subject``, ``campaign_id``, ``campaign_name``. The API reference's other form (``event``
  ``EMAIL_OPENED`` … with a ``lead`` object) is read too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync_engine.models import ActivityKind
from sync_engine.services.errors import InvalidInputError


@dataclass(frozen=True)
class PlatformEvent:
    """One platform delivery in our terms; ``kind`` None means acknowledged and ignored."""

    platform: str
    event_type: str
    kind: ActivityKind | None
    campaign_ref: str
    campaign_name: str
    contact: dict[str, str]
    occurred_at: datetime | None
    subject: str


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _time(value: Any, field: str) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{field} {text[:40]!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidInputError(f"{field} {text[:40]!r} has no timezone")
    return moment


def _first(payload: Mapping[str, Any], *names: str) -> tuple[str, Any]:
    for name in names:
        value = payload.get(name)
        if value not in (None, ""):
            return name, value
    return names[0], None


def _split_name(full: str) -> tuple[str, str]:
    first, _, last = full.strip().partition(" ")
    return first, last.strip()


def _campaign(payload: Mapping[str, Any], platform: str) -> tuple[str, str]:
    campaign_id = _text(payload.get("campaign_id"))
    if not campaign_id:
        raise InvalidInputError(f"a {platform} event without campaign_id")
    name = _text(payload.get("campaign_name")) or f"{platform.capitalize()} campaign {campaign_id}"
    return f"{platform}:{campaign_id}"[:200], name[:200]


_INSTANTLY_KINDS: dict[str, ActivityKind] = {
    "email_sent": ActivityKind.SENT,
    "email_opened": ActivityKind.OPENED,
    "link_clicked": ActivityKind.CLICKED,
    "email_link_clicked": ActivityKind.CLICKED,
    "reply_received": ActivityKind.REPLIED,
    "email_bounced": ActivityKind.BOUNCED,
}


def instantly(payload: Mapping[str, Any]) -> PlatformEvent:
    """An Instantly webhook delivery."""
    event_type = _text(payload.get("event_type"))
    if not event_type:
        raise InvalidInputError("an Instantly event without event_type")
    kind = _INSTANTLY_KINDS.get(event_type)
    ref, name = _campaign(payload, "instantly")
    email = _text(payload.get("lead_email"))
    if kind is not None and not email:
        raise InvalidInputError(f"an Instantly {event_type} event without lead_email")
    _, first = _first(payload, "firstName", "first_name")
    _, last = _first(payload, "lastName", "last_name")
    _, company = _first(payload, "companyName", "company_name")
    _, title = _first(payload, "jobTitle", "title")
    _, subject = _first(payload, "reply_subject", "email_subject")
    return PlatformEvent(
        platform="instantly", event_type=event_type, kind=kind, campaign_ref=ref,
        campaign_name=name,
        contact={"email": email, "first_name": _text(first), "last_name": _text(last),
                 "company": _text(company), "title": _text(title)},
        occurred_at=_time(payload.get("timestamp"), "timestamp"), subject=_text(subject)[:500],
    )  # fmt: skip


_SMARTLEAD_KINDS: dict[str, ActivityKind] = {
    "EMAIL_SENT": ActivityKind.SENT,
    "FIRST_EMAIL_SENT": ActivityKind.SENT,
    "EMAIL_OPEN": ActivityKind.OPENED,
    "EMAIL_OPENED": ActivityKind.OPENED,
    "EMAIL_LINK_CLICK": ActivityKind.CLICKED,
    "EMAIL_CLICKED": ActivityKind.CLICKED,
    "EMAIL_REPLY": ActivityKind.REPLIED,
    "EMAIL_REPLIED": ActivityKind.REPLIED,
    "EMAIL_BOUNCE": ActivityKind.BOUNCED,
    "EMAIL_BOUNCED": ActivityKind.BOUNCED,
}
_SMARTLEAD_TIMES = ("event_timestamp", "timestamp", "time_sent", "time_opened", "time_clicked",
                    "time_replied")  # fmt: skip


def smartlead(payload: Mapping[str, Any]) -> PlatformEvent:
    """A Smartlead webhook delivery (either documented form)."""
    event_type = _text(payload.get("event_type") or payload.get("event"))
    if not event_type:
        raise InvalidInputError("a Smartlead event without event_type")
    kind = _SMARTLEAD_KINDS.get(event_type.upper())
    ref, name = _campaign(payload, "smartlead")
    lead = payload.get("lead") if isinstance(payload.get("lead"), Mapping) else {}
    assert isinstance(lead, Mapping)
    email = _text(payload.get("to_email") or lead.get("email") or payload.get("sl_lead_email"))
    if kind is not None and not email:
        raise InvalidInputError(f"a Smartlead {event_type} event without to_email")
    first, last = _split_name(_text(payload.get("to_name")))
    reply = payload.get("reply") if isinstance(payload.get("reply"), Mapping) else {}
    email_part = payload.get("email") if isinstance(payload.get("email"), Mapping) else {}
    assert isinstance(reply, Mapping) and isinstance(email_part, Mapping)
    field, when = _first(payload, *_SMARTLEAD_TIMES)
    subject = _text(
        payload.get("subject") or payload.get("custom_subject") or reply.get("subject")
        or email_part.get("subject")
    )  # fmt: skip
    return PlatformEvent(
        platform="smartlead", event_type=event_type, kind=kind, campaign_ref=ref,
        campaign_name=name,
        contact={"email": email, "first_name": _text(lead.get("first_name")) or first,
                 "last_name": _text(lead.get("last_name")) or last,
                 "company": _text(lead.get("company_name"))},
        occurred_at=_time(when, field), subject=subject[:500],
    )  # fmt: skip


ADAPTERS: dict[str, Callable[[Mapping[str, Any]], PlatformEvent]] = {
    "instantly": instantly,
    "smartlead": smartlead,
}
