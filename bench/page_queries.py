"""Every query the dashboard pages run, called with the arguments the pages pass (SPEC B5-B13).

:func:`catalogue` lists them for a store made by ``bench/generated_data.py`` (its ``context``
names the account, sequence and contact the pages would show), each as a :class:`Query` that
``bench/dashboard_queries.py`` times in its own read session: the Contacts page's filters and
searches at the first, middle and last page, the detail of one enrollment, the Overview's and
Activity's counts and charts, the logs, the audit log, the previews, the CSV export (its first
chunk, and whole), and the CLI's ``status --json`` apart from the pages.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench
from bench.generated_data import DAY, SEARCH_DOMAIN, SEARCH_EMAIL, SEARCH_NAME
from sync_engine import audit
from sync_engine.db import Database
from sync_engine.services import accounts, status
from sync_engine.services.queries import (
    contact_table,
    csv_export,
    history,
    logs,
    overview,
    previews,
)

PAGE_SIZE = 50


@dataclass
class Query:
    """One page query: what it is called in the table, and the call as the page makes it."""

    group: str
    name: str
    run: Callable[[Session], Any]
    cli: bool = False  # the CLI's status --json, not a dashboard page
    max_runs: int | None = None  # long streams (the full export) are timed fewer times
    has_target: bool = True  # the full export is judged by its memory, not its latency


def result_size(result: Any) -> int | None:
    if isinstance(result, bool):
        return None
    if isinstance(result, int):
        return result
    if isinstance(result, list | dict):
        return len(result)
    return None


def _last_offset(total: int) -> int:
    return max(0, (math.ceil(total / PAGE_SIZE) - 1) * PAGE_SIZE)


def _middle_offset(total: int) -> int:
    """The page at the middle: the most a page skips when it may be read from either end."""
    return (total // 2) // PAGE_SIZE * PAGE_SIZE


def _export_first_chunk(session: Session, where: contact_table.EnrollmentFilter) -> int:
    chunks = csv_export.export_enrollments_csv(session=session, where=where)
    try:
        return len(next(chunks))
    finally:
        chunks.close()


def _export_full(session: Session, where: contact_table.EnrollmentFilter) -> int:
    written = 0
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for chunk in csv_export.export_enrollments_csv(session=session, where=where):
            written += sink.write(chunk)
    return written


def _status_first_row(session: Session, account_id: int) -> int:
    rows = status.iter_status(session=session, account_id=account_id)
    try:
        return len(next(rows))
    finally:
        rows.close()  # type: ignore[attr-defined]


def catalogue(db: Database, context: dict[str, Any]) -> list[Query]:
    """Every query the dashboard pages run, with the arguments the pages pass (SPEC B5-B13)."""
    account_id = context["account_id"]
    sequence_id = context["sequence_id"]
    now = datetime.fromtimestamp(context["now"], UTC)
    of = contact_table.EnrollmentFilter
    filters = {
        "all": of(account_id=account_id),
        "status=failed": of(account_id=account_id, statuses=("failed",)),
        "reason=rate_limited": of(account_id=account_id, reasons=("rate_limited",)),
        "one sequence": of(account_id=account_id, sequence_ids=(sequence_id,)),
        "exists in Clockwork": of(account_id=account_id, exists_in_clockwork=True),
        "search an email": of(account_id=account_id, search=context["sample_email"]),
        f"search {SEARCH_DOMAIN!r}": of(account_id=account_id, search=SEARCH_DOMAIN),
        f"search {SEARCH_EMAIL!r}": of(account_id=account_id, search=SEARCH_EMAIL),
        f"search {SEARCH_NAME!r}": of(account_id=account_id, search=SEARCH_NAME),
    }
    with db.read() as session:  # untimed: where the pager's last pages are
        totals = {
            label: contact_table.count_enrollments(session=session, where=where)
            for label, where in filters.items()
        }
        activity_total = logs.count_activities(session=session, account_id=account_id)
        audit_total = logs.count_audit_entries(session=session)
    queries: list[Query] = []

    def add(group: str, name: str, run: Callable[[Session], Any], **options: Any) -> None:
        queries.append(Query(group, name, run, **options))

    add("overview", "account_overview", lambda s: overview.account_overview(session=s))
    add(
        "overview",
        "status_counts",
        lambda s: overview.status_counts(session=s, account_id=account_id),
    )
    add(
        "overview",
        "reason_groups",
        lambda s: overview.reason_groups(session=s, account_id=account_id),
    )
    for label, span, bucket in (
        ("1h/min", 3600, 60),
        ("24h/h", DAY, 3600),
        ("7d/day", 7 * DAY, DAY),
    ):
        add(
            "overview",
            f"sync_timeline {label}",
            lambda s, span=span, bucket=bucket: overview.sync_timeline(
                session=s, account_id=account_id, since=now - timedelta(seconds=span), now=now,
                bucket_seconds=bucket,
            ),
        )  # fmt: skip
    add(
        "overview",
        "engine_health",
        lambda s: overview.engine_health(session=s, now=now, account_id=account_id),
    )
    add(
        "overview",
        "connection_summary",
        lambda s: accounts.connection_summary(session=s, account_id=account_id),
    )
    add(
        "overview",
        "last_successful_call",
        lambda s: overview.last_successful_call(session=s, account_id=account_id),
    )
    add(
        "contacts",
        "filter_choices",
        lambda s: contact_table.filter_choices(session=s, account_id=account_id),
    )
    for label, where in filters.items():
        add(
            "contacts",
            f"count [{label}]",
            lambda s, where=where: contact_table.count_enrollments(session=s, where=where),
        )
    for label, where in filters.items():
        add(
            "contacts",
            f"list page 1 [{label}]",
            lambda s, where=where: contact_table.list_enrollments(
                session=s, where=where, limit=PAGE_SIZE
            ),
        )
        total = totals[label]
        pages = [("last page", _last_offset(total))]
        if label == "all":  # the deepest a page can be read from either end
            pages.insert(0, ("middle page", _middle_offset(total)))
        for page, offset in pages:
            add(
                "contacts",
                f"list {page} [{label}]",
                lambda s, where=where, offset=offset, total=total: contact_table.list_enrollments(
                    session=s, where=where, limit=PAGE_SIZE, offset=offset, total=total
                ),
            )
    detail_id = context["detail_enrollment_id"]
    add(
        "contacts",
        "enrollment_detail",
        lambda s: history.enrollment_detail(session=s, enrollment_id=detail_id),
    )
    export_where = filters["status=failed"]
    add(
        "contacts",
        "export csv first 1,000 rows [status=failed]",
        lambda s: _export_first_chunk(s, export_where),
    )
    add(
        "contacts",
        "export csv full [status=failed]",
        lambda s: _export_full(s, export_where),
        max_runs=3,
        has_target=False,
    )
    add(
        "activity",
        "activity_counts_by_state",
        lambda s: logs.activity_counts_by_state(session=s, account_id=account_id),
    )
    add(
        "activity",
        "count_activities",
        lambda s: logs.count_activities(session=s, account_id=account_id),
    )
    add(
        "activity",
        "count_activities [failed]",
        lambda s: logs.count_activities(session=s, account_id=account_id, states=("failed",)),
    )
    add(
        "activity",
        "list_activities page 1",
        lambda s: logs.list_activities(session=s, account_id=account_id, limit=PAGE_SIZE),
    )
    activity_offset = _last_offset(activity_total)
    add(
        "activity",
        "list_activities last page",
        lambda s: logs.list_activities(
            session=s, account_id=account_id, limit=PAGE_SIZE, offset=activity_offset,
            total=activity_total,
        ),
    )  # fmt: skip
    middle_offset = _middle_offset(activity_total)
    add(
        "activity",
        "list_activities middle page",
        lambda s: logs.list_activities(
            session=s, account_id=account_id, limit=PAGE_SIZE, offset=middle_offset,
            total=activity_total,
        ),
    )  # fmt: skip
    add("sync log", "list_engine_runs", lambda s: logs.list_engine_runs(session=s, limit=100))
    add(
        "sync log",
        "list_engine_runs [no idle]",
        lambda s: logs.list_engine_runs(session=s, limit=100, include_idle=False),
    )
    add(
        "sync log",
        "api_call_stats [1h]",
        lambda s: logs.api_call_stats(
            session=s, account_id=account_id, since=now - timedelta(hours=1)
        ),
    )
    add(
        "sync log",
        "list_api_calls",
        lambda s: logs.list_api_calls(session=s, account_id=account_id, limit=200),
    )
    add(
        "sync log",
        "list_api_calls [errors]",
        lambda s: logs.list_api_calls(
            session=s, account_id=account_id, errors_only=True, limit=200
        ),
    )
    add("audit", "account_names", lambda s: logs.account_names(session=s))
    add("audit", "count_audit_entries", lambda s: logs.count_audit_entries(session=s))
    add("audit", "list_entries page 1", lambda s: audit.list_entries(session=s, limit=PAGE_SIZE))
    audit_offset = _last_offset(audit_total)
    add(
        "audit",
        "list_entries last page",
        lambda s: audit.list_entries(session=s, limit=PAGE_SIZE, offset=audit_offset),
    )
    add(
        "sequences",
        "sequence_overview",
        lambda s: overview.sequence_overview(session=s, account_id=account_id),
    )
    add(
        "sequences",
        "sequence_status_counts",
        lambda s: overview.sequence_status_counts(session=s, sequence_id=sequence_id),
    )
    add(
        "sequences",
        "preview_sequence_change",
        lambda s: previews.preview_sequence_change(
            session=s, sequence_id=sequence_id,
            changes={"disable_sync": True, "project_id": "proj-other"},
        ),
    )  # fmt: skip
    add(
        "settings",
        "preview_settings_change",
        lambda s: previews.preview_settings_change(
            session=s, account_id=account_id,
            changes={"sync_mode": "off", "default_project_id": "proj-new",
                     "deduplication": False, "activity_tracking": False},
        ),
    )  # fmt: skip
    add(
        "cli",
        "status.iter_status first row",
        lambda s: _status_first_row(s, account_id),
        cli=True,
    )
    add(
        "cli",
        "status.iter_status every row",
        lambda s: sum(1 for _ in status.iter_status(session=s, account_id=account_id)),
        cli=True,
        max_runs=3,
        has_target=False,
    )
    return queries
