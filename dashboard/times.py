"""Times as the dashboard shows them: in the viewer's timezone, and never without saying which.

The viewer's timezone is the browser's (``st.context.timezone``, an IANA name such as
``Europe/Paris``, else ``st.context.timezone_offset``); when the browser tells neither, times are
shown in UTC and :func:`zone_note` says so. Every time on a page is either relative ("5 min ago",
"in 40 s") or a timestamp that ends with its zone ("2026-11-30 22:58:04 CET"). The Overview's
chart (``dashboard/charts.py``) is drawn by the browser in the same zone, one axis format per
window. CSV exports use UTC (``queries.csv_export.iso_utc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st


@dataclass(frozen=True)
class ViewerZone:
    """The timezone times are shown in, and where it came from."""

    tz: tzinfo
    name: str  # "Europe/Paris", "UTC+05:30" or "UTC"
    from_browser: bool


UTC_ZONE = ViewerZone(UTC, "UTC", from_browser=False)


def zone_from(name: str | None, offset_minutes: int | None) -> ViewerZone:
    """The zone a browser reported: its IANA name when this machine knows it, else its offset
    from UTC (JavaScript's ``getTimezoneOffset``: minutes *behind* UTC), else UTC."""
    if name:
        try:
            return ViewerZone(ZoneInfo(name), name, from_browser=True)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a name this machine's tz database lacks: the offset still tells the time
    if offset_minutes is not None and abs(offset_minutes) < 24 * 60:
        offset = timedelta(minutes=-offset_minutes)
        return ViewerZone(timezone(offset), _offset_words(offset), from_browser=True)
    return UTC_ZONE


def viewer_zone() -> ViewerZone:
    """The timezone of the browser viewing this page (UTC when it did not say)."""
    try:
        name, offset = st.context.timezone, st.context.timezone_offset
    except Exception:  # outside a browser session (bare mode, some tests)
        return UTC_ZONE
    return zone_from(name, offset)


def _offset_words(offset: timedelta | None) -> str:
    """An offset as "UTC", "UTC+01:00" or "UTC-03:30"."""
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def _aware(moment: datetime) -> datetime:
    """The store's timestamps are UTC; a naive one (SQLite aggregates) is read as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def zone_label(local: datetime) -> str:
    """The zone of an aware local time in its short form: "CET", "IST", "UTC", or "UTC-03:00"
    where the tz database has no letters for it."""
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    return _offset_words(local.utcoffset())


def local(moment: datetime, zone: ViewerZone | None = None) -> datetime:
    """``moment`` in the viewer's timezone."""
    return _aware(moment).astimezone((zone or viewer_zone()).tz)


def timestamp(
    moment: datetime | None, zone: ViewerZone | None = None, *, seconds: bool = True
) -> str | None:
    """A timestamp in the viewer's timezone, ending with its zone: "2026-11-30 22:58:04 CET"
    (None stays None: an empty cell)."""
    if moment is None:
        return None
    shown = local(moment, zone)
    return f"{shown:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {zone_label(shown)}"


def relative(
    moment: datetime | None, *, at: datetime | None = None, zone: ViewerZone | None = None
) -> str:
    """How long ago (or how soon) ``moment`` is: "just now", "12 s ago", "5 min ago", "3 h ago",
    "in 40 s"; beyond 36 hours the timestamp with its zone. "—" for never."""
    if moment is None:
        return "—"
    seconds = ((at or datetime.now(UTC)) - _aware(moment)).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 1:
        return "just now" if not ahead else "now"
    if seconds < 90:
        amount = f"{int(seconds)} s"
    elif seconds < 90 * 60:
        amount = f"{int(seconds // 60)} min"
    elif seconds < 36 * 3600:
        amount = f"{int(seconds // 3600)} h"
    else:
        return timestamp(moment, zone, seconds=False) or "—"
    return f"in {amount}" if ahead else f"{amount} ago"


def zone_note(zone: ViewerZone | None = None) -> str:
    """A caption saying which timezone the page's times are in."""
    zone = zone or viewer_zone()
    if zone.from_browser:
        return f"Times are in your browser's timezone ({zone.name})."
    return "Times are in UTC: your browser did not tell its timezone."
