"""The Overview's "Syncs over time" chart, readable with 8 buckets or 60.

Each bar spans its whole bucket (start to end, less a small gap), so a week of 8 days and an
hour of 60 minutes both fill the axis evenly; synced and failed are stacked, green on red. The
time axis has one format per window ("14:05" within a day, "Mon 30" over a week) instead of
Vega's mix of "09:55", "10 PM" and "10:05", and is drawn in the viewer's (the browser's)
timezone, which its title names. The count axis has whole numbers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import altair as alt
import pandas as pd

from sync_engine.services.queries import overview

HEIGHT = 280  # px, the whole chart: legend, bars and time axis
SERIES = {"Synced": "#2f9e6e", "Failed or retried": "#d9534f"}


def axis_format(bucket_seconds: int) -> str:
    """The time axis's format for a bucket size: clock time within a day, weekday and day beyond."""
    return "%a %d" if bucket_seconds >= 86_400 else "%H:%M"


def frame(points: Sequence[overview.TimelinePoint], bucket_seconds: int) -> pd.DataFrame:
    """One row per bucket and series: start, end (less a gap of a tenth), series, count."""
    gap = timedelta(seconds=bucket_seconds * 0.1)
    span = timedelta(seconds=bucket_seconds)
    rows = [
        {"start": point.at, "end": point.at + span - gap, "series": name, "count": value}
        for point in points
        for name, value in (("Synced", point.synced), ("Failed or retried", point.failed))
    ]
    return pd.DataFrame(rows, columns=["start", "end", "series", "count"])


def has_activity(points: Sequence[overview.TimelinePoint]) -> bool:
    """Whether anything synced or failed in the window (else the page says so, not a flat axis)."""
    return any(point.synced or point.failed for point in points)


def sync_chart(
    points: Sequence[overview.TimelinePoint], bucket_seconds: int, *, zone: str | None = None
) -> alt.Chart:
    """Stacked bars of the syncs that succeeded and those that failed or will retry, per bucket."""
    data = frame(points, bucket_seconds)
    time_format = axis_format(bucket_seconds)
    title = f"Time ({zone})" if zone else "Time (your timezone)"
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "start:T",
                title=title,
                axis=alt.Axis(format=time_format, labelOverlap=True, grid=False, tickCount=8),
            ),
            x2="end:T",
            y=alt.Y(
                "sum(count):Q",
                title="Syncs",  # a contact's sync may fail twice: these are syncs, not contacts
                stack="zero",
                axis=alt.Axis(format="d", tickMinStep=1),
            ),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=list(SERIES), range=list(SERIES.values())),
                legend=alt.Legend(orient="top", title=None, padding=0, offset=8),
            ),
            order=alt.Order("series:N", sort="descending"),
            tooltip=[
                alt.Tooltip("start:T", title="From", format="%a %d %b, %H:%M"),
                alt.Tooltip("series:N", title="What"),
                alt.Tooltip("sum(count):Q", title="Syncs", format=",d"),
            ],
        )
    )
