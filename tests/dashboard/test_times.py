"""Times as the dashboard shows them (``dashboard/times.py``): the viewer's zone, always named."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from dashboard import times

MOMENT = datetime(2026, 11, 30, 21, 58, 4, tzinfo=UTC)
PARIS = times.zone_from("Europe/Paris", -60)


def test_a_timestamp_is_in_the_browsers_zone_and_names_it() -> None:
    assert times.timestamp(MOMENT, PARIS) == "2026-11-30 22:58:04 CET"
    assert times.timestamp(MOMENT, times.zone_from("Asia/Kolkata", -330)) == (
        "2026-12-01 03:28:04 IST"
    )
    summer = MOMENT.replace(month=7)
    assert times.timestamp(summer, PARIS) == "2026-07-30 23:58:04 CEST"


def test_a_zone_without_letters_is_written_as_its_offset() -> None:
    sao_paulo = times.zone_from("America/Sao_Paulo", 180)
    assert times.timestamp(MOMENT, sao_paulo) == "2026-11-30 18:58:04 UTC-03:00"


def test_an_unknown_zone_name_falls_back_to_the_offset_then_to_utc() -> None:
    by_offset = times.zone_from("Mars/Olympus_Mons", -330)  # 5 h 30 ahead of UTC
    assert by_offset.name == "UTC+05:30" and by_offset.from_browser
    assert times.timestamp(MOMENT, by_offset) == "2026-12-01 03:28:04 UTC+05:30"
    nothing = times.zone_from(None, None)
    assert nothing == times.UTC_ZONE and not nothing.from_browser
    assert times.timestamp(MOMENT, nothing) == "2026-11-30 21:58:04 UTC"
    assert "did not tell" in times.zone_note(nothing)
    assert "Europe/Paris" in times.zone_note(PARIS)


def test_naive_store_values_are_read_as_utc() -> None:
    assert times.timestamp(MOMENT.replace(tzinfo=None), PARIS) == "2026-11-30 22:58:04 CET"
    assert times.timestamp(None, PARIS) is None


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=12), "12 s ago"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(seconds=-40), "in 40 s"),
        (timedelta(minutes=-10), "in 10 min"),
    ],
)
def test_relative_times_say_how_long_ago_or_how_soon(delta: timedelta, words: str) -> None:
    assert times.relative(MOMENT - delta, at=MOMENT, zone=PARIS) == words


def test_past_a_day_and_a_half_a_relative_time_is_a_timestamp_with_its_zone() -> None:
    old = MOMENT - timedelta(days=3)
    assert times.relative(old, at=MOMENT, zone=PARIS) == "2026-11-27 22:58 CET"
    assert times.relative(None) == "—"


def test_every_time_string_carries_a_zone_or_is_relative() -> None:
    zoned = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? ([A-Z]{2,5}|UTC[+-]\d\d:\d\d))")
    relative = re.compile(r"(just now|now|\d+ (s|min|h) ago|in \d+ (s|min|h))")
    zones = [PARIS, times.UTC_ZONE, times.zone_from("America/Sao_Paulo", 180)]
    for zone in zones:
        for delta in (timedelta(seconds=s) for s in (-3600, -5, 0, 30, 4000, 90000, 400000)):
            text = times.relative(MOMENT - delta, at=MOMENT, zone=zone)
            assert zoned.fullmatch(text) or relative.fullmatch(text), text
        assert zoned.fullmatch(times.timestamp(MOMENT, zone) or ""), zone


def test_outside_a_browser_session_times_are_utc() -> None:
    assert times.viewer_zone() == times.UTC_ZONE
