"""The Overview's sync chart: one time format per window, bars that span their bucket whatever
their number, whole counts, and no flat empty chart (issue 13 items 5 and 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard import charts
from sync_engine.services.queries.overview import TimelinePoint

START = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)


def points(count: int, bucket: int, *, synced: int = 0, failed: int = 0) -> list[TimelinePoint]:
    return [
        TimelinePoint(at=START + timedelta(seconds=i * bucket), synced=synced, failed=failed)
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("bucket", "count", "time_format"),
    [(60, 61, "%H:%M"), (3600, 25, "%H:%M"), (86_400, 8, "%a %d")],
)
def test_one_time_format_per_window_and_bars_that_span_their_bucket(
    bucket: int, count: int, time_format: str
) -> None:
    timeline = points(count, bucket, synced=2, failed=1)
    spec = charts.sync_chart(timeline, bucket, zone="Europe/Paris").to_dict()
    x = spec["encoding"]["x"]
    assert x["axis"]["format"] == time_format  # not Vega's mix of "09:55", "10 PM", "10:05"
    assert x["title"] == "Time (Europe/Paris)"
    assert spec["encoding"]["x2"]["field"] == "end"
    assert spec["encoding"]["y"]["axis"]["format"] == "d"  # no "0.000000"
    assert spec["encoding"]["y"]["title"] == "Syncs"  # failures count attempts, not contacts
    frame = charts.frame(timeline, bucket)
    assert len(frame) == 2 * count  # synced and failed for every bucket
    widths = {(row.end - row.start).total_seconds() for row in frame.itertuples()}
    assert widths == {bucket * 0.9}  # the bucket less a tenth of a gap, 8 buckets or 61


def test_a_quiet_window_is_said_not_drawn() -> None:
    assert not charts.has_activity(points(61, 60))
    assert charts.has_activity(points(61, 60, failed=1))


def test_the_axis_names_the_viewers_timezone_or_says_it_is_theirs() -> None:
    spec = charts.sync_chart(points(3, 60, synced=1), 60).to_dict()
    assert spec["encoding"]["x"]["title"] == "Time (your timezone)"
