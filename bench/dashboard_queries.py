"""Dashboard query latency and memory at 10k, 100k and 1M enrollments, on SQLite and PostgreSQL.

Measures every service-layer query the dashboard pages run (``sync_engine/services/queries/``,
plus ``audit.list_entries``, ``accounts.connection_summary`` and the CLI's ``status.py``), each
called exactly as a page calls it, through :meth:`Database.read` sessions, on generated data.
Targets (SPEC §7): p95 ≤ 200 ms at 1M enrollments on PostgreSQL, ≤ 300 ms on SQLite, and memory
that does not grow with table size (no full-table loads).

Run from a clone after ``pip install -e .``::

    python bench/dashboard_queries.py --pg postgresql+psycopg://cwsync:cwsync@127.0.0.1:5432/postgres
    python bench/dashboard_queries.py --sizes 10000,100000 --backends sqlite --repeats 5 --explain

For each backend and size, a fresh store is created (a temporary SQLite file, or a PostgreSQL
database created from the admin URL and dropped afterwards), migrated with ``migrate()`` and
bulk-loaded: SQLite through the driver's ``executemany`` in chunked transactions, PostgreSQL with
``COPY``. The data: four accounts (one holds 85% of the rows, one has rejected credentials, one is
paused, one never connected), 20 sequences (one with Disable Sync), contacts unique by email per
account (about 0.8 per enrollment), enrollments over 30 days with a realistic mix of statuses,
reasons, links, flags, attempts and queue state, ~0.55 activities and ~0.75 sync attempts per
enrollment, 10,000 engine runs, 5,000 API calls and 2,000 audit entries. Then the statistics the
app gathers at every start-up (``migrate()``: ANALYZE of every table but the FTS5 shadow tables;
on PostgreSQL ``VACUUM (ANALYZE)``, the state autovacuum leaves an insert-heavy table in);
``--skip-sqlite-analyze`` leaves SQLite without statistics.

The queries are then timed in a fresh child process, so its memory figures are the query phase's
alone: one warm-up run, then ``--repeats`` runs each in its own session (as a page does), p50 and
p95 by linear interpolation. "last page" is the pager's last page of 50 (one click away);
"middle page" is the page in the middle, the deepest OFFSET there is, since the views read a page
past the middle from the oldest end. The full CSV export streams into a null sink. Memory: ``tracemalloc``
peak of Python allocations per query (one traced run each, after the timed runs), and the child's
RSS before the queries and its high-water mark after them. ``status.*`` rows are the CLI's
``status --json``, shown and measured apart from the dashboard. ``--explain`` prints the plan
(EXPLAIN QUERY PLAN / EXPLAIN (ANALYZE, BUFFERS)) of every statement of each query over target.

Prints a table per backend (query x size, p50 / p95 ms, ``!`` over target), a memory table, and
one JSON line at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import io
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.postgres
from sync_engine.db import Database, migrate
from sync_engine.services import accounts, audit, status
from sync_engine.services.queries import (
    contact_table,
    csv_export,
    history,
    logs,
    overview,
    previews,
)
from tests import postgres

TARGET_MS = {"sqlite": 300.0, "postgresql": 200.0}
PAGE_SIZE = 50
DAY = 86_400
SPAN_DAYS = 30
CHUNK = 20_000
SEED = 20_240_601

# name, share of enrollments, sequences, connection state (None: never connected), paused
ACCOUNTS = (
    ("Acme Talent", 0.85, 14, "connected", False),
    ("Globex Search", 0.08, 3, "needs_attention", False),
    ("Initech Partners", 0.05, 2, "connected", True),
    ("Umbrella Executive", 0.02, 1, None, False),
)
CONTACTS_PER_ENROLLMENT = 0.8
ENGINE_RUNS = 10_000
API_CALLS = 5_000
AUDIT_ENTRIES = 2_000

FIRST_NAMES = (
    "olivia", "liam", "emma", "noah", "amelia", "oliver", "ava", "elijah", "sophia", "james",
    "isabella", "william", "mia", "benjamin", "charlotte", "lucas", "harper", "henry", "evelyn",
    "theodore", "luna", "jack", "camila", "levi", "gianna", "alexander", "elizabeth", "owen",
    "eleanor", "mateo", "ella", "daniel", "abigail", "michael", "sofia", "mason", "avery",
    "sebastian", "scarlett", "ethan",
)  # fmt: skip
LAST_NAMES = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
    "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
    "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright",
    "scott", "torres", "nguyen", "hill", "flores", "green", "adams", "nelson", "baker", "hall",
    "rivera", "campbell", "mitchell", "carter", "roberts",
)  # fmt: skip
COMPANIES = (
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Litware", "Proseware",
    "Adventure Works", "Blue Yonder", "Coho Vineyard", "Fourth Coffee", "Lucerne Publishing",
    "Margie Travel", "Trey Research", "Wide World Importers", "Alpine Ski House", "Bellows College",
    "Humongous Insurance", "Southridge Video", "Woodgrove Bank",
)  # fmt: skip
TITLES = (
    "VP Engineering",
    "CFO",
    "Head of Sales",
    "CTO",
    "Director of Finance",
    "COO",
    "General Counsel",
)
SUBJECTS = (
    "Quick question",
    "Board opportunity",
    "Following up",
    "Introduction",
    "Re: the CFO search",
)
# The searches the Contacts page is timed with: a pasted email (matched from its start), a
# company's @domain, an email fragment and a full name (both matched anywhere).
SEARCH_DOMAIN = "@contoso.com"
SEARCH_EMAIL = "garcia42"
SEARCH_NAME = "olivia garcia"

STATUS_MIX = (
    ("synced", 55), ("awaiting_reply", 15), ("skipped", 10), ("queued", 6), ("failed", 5),
    ("retrying", 3), ("syncing", 1), ("needs_review", 1),
)  # fmt: skip
REASON_MIX = {
    "skipped": (("sync_off", 7), ("dismissed", 3)),
    "failed": (("validation_error", 4), ("invalid_email", 3), ("not_found", 2), ("auth_failed", 1)),
    "retrying": (("rate_limited", 5), ("clockwork_unavailable", 3), ("network_error", 2)),
}
ERRORS = {
    "validation_error": "422: first_name is required",
    "invalid_email": "not a valid email address",
    "not_found": "404: project no longer exists",
    "auth_failed": "401: credentials rejected",
    "rate_limited": "429: retry after 2 s",
    "clockwork_unavailable": "503: service unavailable",
    "network_error": "ConnectError: connection reset",
}
ACTIVITY_KINDS = (("sent", 60), ("opened", 25), ("clicked", 8), ("replied", 5), ("bounced", 2))


SERIAL_TABLES = (
    "account", "clockwork_connection", "sequence", "contact", "enrollment", "activity",
    "sync_attempt", "engine_run", "api_call", "audit_entry",
)  # fmt: skip
EPOCH_NAIVE = datetime(1970, 1, 1)
EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


# --- stores -----------------------------------------------------------------------------------


@dataclass
class Store:
    """A fresh, empty store of one backend and how to remove it."""

    backend: str
    url: str
    cleanup: Callable[[], None]


def open_store(backend: str, *, admin_url: str | None, workdir: Path) -> Store:
    """A temporary SQLite file, or a new PostgreSQL database created from the admin URL."""
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"

        def remove_file() -> None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return Store(backend, f"sqlite:///{path}", remove_file)
    assert admin_url is not None
    name, url = postgres.create_database(admin_url, "cwsync_bench")
    return Store(backend, url, lambda: postgres.drop_database(admin_url, name))


class Loader:
    """Bulk writes into a migrated store: the driver's executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.sqlite = db.is_sqlite
        self._pooled = db.engine.raw_connection()
        self.raw: Any = self._pooled.driver_connection
        self.rows: dict[str, int] = {}
        if self.sqlite:
            # The connect hook left the driver in autocommit mode; transactions are explicit here.
            self.raw.execute("PRAGMA synchronous=OFF")
            self.raw.execute("PRAGMA cache_size=-262144")
            self.raw.execute("BEGIN")

    def stamp(self, epoch: int) -> Any:
        """A timestamp as the column type stores it (SQLite: SQLAlchemy's naive-UTC text form)."""
        if self.sqlite:
            return (EPOCH_NAIVE + timedelta(seconds=epoch)).isoformat(" ", "microseconds")
        return EPOCH_UTC + timedelta(seconds=epoch)

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Append ``rows`` (tuples in ``columns`` order) to ``table``."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            self.raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        else:
            with (
                self.raw.cursor() as cursor,
                cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        self.rows[table] = self.rows.get(table, 0) + len(rows)

    def commit(self) -> None:
        """End the current chunk's transaction."""
        if self.sqlite:
            self.raw.execute("COMMIT")
            self.raw.execute("BEGIN")
        else:
            self.raw.commit()

    def finish(self, *, analyze: bool = True) -> None:
        """Commit, fix the id sequences, release the connection; PostgreSQL: VACUUM (ANALYZE)."""
        if self.sqlite:
            self.raw.execute("COMMIT")
            self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self.raw.cursor() as cursor:
                for table in SERIAL_TABLES:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
            self.raw.commit()
            self.raw.autocommit = True
            self.raw.execute("VACUUM (ANALYZE)")
            self.raw.autocommit = False
        self._pooled.close()


# --- data -------------------------------------------------------------------------------------

ENROLLMENT_COLUMNS = (
    "id", "account_id", "sequence_id", "contact_id", "added_at", "sync_mode_at_add",
    "disable_sync_at_add", "connected_at_add", "dedup_at_add", "project_id", "decided_at",
    "replied_at", "status", "reason", "last_error", "link", "match_rule", "review_candidates",
    "review_choice", "exists_in_clockwork", "clockwork_person_id", "candidacy_done", "synced_at",
    "attempts", "next_attempt_at", "last_attempt_at", "lease_owner", "lease_expires_at",
)  # fmt: skip
ACTIVITY_COLUMNS = (
    "id", "enrollment_id", "account_id", "kind", "occurred_at", "subject", "tracked",
    "activity_key", "state", "reason", "note_id", "attempts", "last_error", "synced_at",
)  # fmt: skip
ATTEMPT_COLUMNS = (
    "id", "enrollment_id", "account_id", "started_at", "finished_at", "outcome", "reason",
    "error", "calls",
)  # fmt: skip
CONTACT_COLUMNS = (
    "id", "account_id", "email", "first_name", "last_name", "title", "company", "linkedin_url",
    "created_at", "clockwork_person_id", "person_created_by_us",
    "person_created_by_enrollment_id", "person_creation_started_at", "email_attached",
    "position_attached", "linkedin_attached",
)  # fmt: skip


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    values = [value for value, _ in pairs]
    cumulative, total = [], 0
    for _, weight in pairs:
        total += weight
        cumulative.append(total)
    return values, cumulative


class DataGenerator:
    """Realistic rows for one store, deterministic for a seed (both backends get the same data)."""

    def __init__(self, loader: Loader, *, size: int, now: int, seed: int = SEED) -> None:
        self.loader = loader
        self.size = size
        self.now = now
        self.start = now - SPAN_DAYS * DAY
        self.rng = random.Random(seed)
        self.stamp = loader.stamp
        self.account_ids = list(range(1, len(ACCOUNTS) + 1))
        self.shares = [share for _, share, _, _, _ in ACCOUNTS]
        self.sequences: dict[int, list[int]] = {}
        self.sequence_project: dict[int, str] = {}
        self.disabled_sequences: set[int] = set()
        self.contact_start: dict[int, int] = {}
        self.contact_count: dict[int, int] = {}
        self.detail_enrollment_id = 0
        self.sample_email = ""

    def run(self) -> dict[str, Any]:
        """Write every table; returns what the measuring process needs to know about the data."""
        self._accounts()
        self._contacts()
        self._enrollments()
        self._engine_runs()
        self._api_calls()
        self._audit_entries()
        return {
            "account_id": 1,
            "sequence_id": self.sequences[1][1],
            "detail_enrollment_id": self.detail_enrollment_id,
            "sample_email": self.sample_email,
            "rows": dict(self.loader.rows),
        }

    def _accounts(self) -> None:
        st, start, now = self.stamp, self.start, self.now
        accounts, settings, connections, sequences = [], [], [], []
        sequence_id = 0
        for account_id, (name, _, n_sequences, state, paused) in enumerate(ACCOUNTS, start=1):
            accounts.append((account_id, name, st(start - 90 * DAY), paused))
            settings.append(
                (account_id, "on_add", True, f"proj-{account_id}00", True, account_id == 1, None,
                 st(start - 60 * DAY))
            )  # fmt: skip
            if state is not None:
                connections.append(
                    (account_id, account_id, f"firm{account_id}",
                     f"https://firm{account_id}.clockwork.test", "gAAAAB-key-token",
                     "gAAAAB-secret-token", "gAAAAB-fsk-token", "••••ab12", state,
                     st(start - 45 * DAY), None,
                     st(now - 120) if state == "connected" else st(now - 3 * DAY),
                     "401: credentials rejected" if state == "needs_attention" else None)
                )  # fmt: skip
            self.sequences[account_id] = []
            for index in range(n_sequences):
                sequence_id += 1
                self.sequences[account_id].append(sequence_id)
                disabled = account_id == 1 and index == 5
                project = f"proj-seq{sequence_id}" if index in (2, 7) else None
                if disabled:
                    self.disabled_sequences.add(sequence_id)
                if project:
                    self.sequence_project[sequence_id] = project
                sequences.append(
                    (sequence_id, account_id, f"{name.split()[0]} outreach {index + 1:02d}",
                     disabled, project, st(start - 40 * DAY + index * DAY))
                )  # fmt: skip
        self.loader.write("account", ("id", "name", "created_at", "sync_paused"), accounts)
        self.loader.write(
            "account_settings",
            ("account_id", "sync_mode", "deduplication", "default_project_id",
             "activity_tracking", "link_by_linkedin", "max_rps", "updated_at"),
            settings,
        )  # fmt: skip
        self.loader.write(
            "clockwork_connection",
            ("id", "account_id", "firm", "base_url", "api_key_token", "api_secret_token",
             "firm_service_key_token", "api_key_hint", "state", "connected_at", "disconnected_at",
             "last_success_at", "last_error"),
            connections,
        )  # fmt: skip
        self.loader.write(
            "sequence",
            ("id", "account_id", "name", "disable_sync", "project_id", "created_at"),
            sequences,
        )
        self.loader.commit()

    def _contacts(self) -> None:
        rng, st = self.rng, self.stamp
        rnd, pick = rng.random, rng.randrange
        next_id = 1
        for account_id, share in zip(self.account_ids, self.shares, strict=True):
            count = max(1, int(self.size * share * CONTACTS_PER_ENROLLMENT))
            self.contact_start[account_id] = next_id
            self.contact_count[account_id] = count
            rows = []
            for index in range(count):
                first = FIRST_NAMES[pick(len(FIRST_NAMES))]
                last = LAST_NAMES[pick(len(LAST_NAMES))]
                company = COMPANIES[pick(len(COMPANIES))]
                domain = company.lower().replace(" ", "") + ".com"
                has_person = rnd() < 0.55
                by_us = has_person and rnd() < 0.7
                created = st(self.start + int(index / count * SPAN_DAYS * DAY))
                if account_id == 1 and index == min(count - 1, 4242):
                    self.sample_email = f"{first}.{last}{index}@{domain}"
                rows.append(
                    (next_id, account_id, f"{first}.{last}{index}@{domain}", first.title(),
                     last.title(), TITLES[pick(len(TITLES))], company,
                     f"https://www.linkedin.com/in/{first}-{last}-{index}" if rnd() < 0.3 else "",
                     created, f"P{next_id}" if has_person else None, by_us, None,
                     created if by_us else None, has_person, has_person, False)
                )  # fmt: skip
                next_id += 1
                if len(rows) == CHUNK:
                    self.loader.write("contact", CONTACT_COLUMNS, rows)
                    self.loader.commit()
                    rows = []
            self.loader.write("contact", CONTACT_COLUMNS, rows)
            self.loader.commit()

    def _enrollments(self) -> None:
        rng, st, now, size = self.rng, self.stamp, self.now, self.size
        rnd, between = rng.random, rng.randint
        statuses, status_weights = _weighted(STATUS_MIX)
        reasons = {status: _weighted(pairs) for status, pairs in REASON_MIX.items()}
        kinds, kind_weights = _weighted(ACTIVITY_KINDS)
        connected = {i: state is not None for i, (_, _, _, state, _) in enumerate(ACCOUNTS, 1)}
        fresh_contacts = dict.fromkeys(self.account_ids, 0)
        span = SPAN_DAYS * DAY
        activity_id = attempt_id = 0
        for chunk_start in range(0, size, CHUNK):
            count = min(CHUNK, size - chunk_start)
            account_draws = rng.choices(self.account_ids, weights=self.shares, k=count)
            status_draws = rng.choices(statuses, cum_weights=status_weights, k=count)
            enrollments: list[tuple[Any, ...]] = []
            activities: list[tuple[Any, ...]] = []
            attempts_rows: list[tuple[Any, ...]] = []
            for offset in range(count):
                eid = chunk_start + offset + 1
                account_id = account_draws[offset]
                added = self.start + (eid - 1) * span // size + between(0, 59)
                sequence_list = self.sequences[account_id]
                sequence_id = sequence_list[int(len(sequence_list) * rnd() ** 2)]
                fresh = fresh_contacts[account_id]
                if fresh < self.contact_count[account_id] and (fresh == 0 or rnd() < 0.8):
                    contact_index = fresh
                    fresh_contacts[account_id] = fresh + 1
                else:
                    contact_index = int(rnd() * fresh)
                contact_id = self.contact_start[account_id] + contact_index
                is_connected = connected[account_id]
                status = status_draws[offset]
                reason = None
                if not is_connected:
                    status, reason = "skipped", "not_connected"
                elif sequence_id in self.disabled_sequences:
                    status, reason = "skipped", "sequence_sync_disabled"
                elif status in reasons:
                    values, weights = reasons[status]
                    reason = rng.choices(values, cum_weights=weights)[0]
                elif status == "needs_review":
                    reason = "ambiguous_linkedin_match"
                mode = "on_reply" if status == "awaiting_reply" else "on_add"
                if reason == "sync_off":
                    mode = "off"
                project = None
                if status in ("synced", "queued", "syncing", "retrying", "failed", "needs_review"):
                    project = self.sequence_project.get(sequence_id, f"proj-{account_id}00")
                decided, replied, synced = added, None, None
                link = match_rule = candidates = person = last_error = lease_owner = None
                exists = candidacy = False
                tries = 0
                next_at = last_at = lease_expires = None
                if status == "synced":
                    if rnd() < 0.1:
                        mode = "on_reply"
                        replied = decided = min(now - 60, added + between(3600, 5 * DAY))
                    synced = min(now - 1, decided + between(5, 3600))
                    linked = rnd() < 0.3
                    link = "linked" if linked else "created"
                    exists = linked and rnd() < 0.9
                    match_rule = "linkedin" if rnd() < 0.05 else "email"
                    person = f"P{contact_id}"
                    candidacy = True
                    tries = 1 if rnd() < 0.9 else between(2, 3)
                    last_at = synced
                    if rnd() < 0.03:  # activity notes still to deliver
                        next_at = now + between(-600, 600)
                elif status == "queued":
                    next_at = max(added, now - 3600) + between(0, 300)
                elif status == "syncing":
                    tries, last_at = 1, now - between(0, 30)
                    next_at, lease_owner, lease_expires = last_at, "bench-host:1a2b3c4d", now + 60
                elif status == "retrying":
                    tries, last_at = between(1, 5), now - between(0, 3600)
                    next_at, last_error = now + between(-60, 1800), ERRORS[reason or ""]
                elif status == "failed":
                    tries, last_at = between(1, 6), min(now - 1, added + between(5, 7200))
                    last_error = ERRORS[reason or ""]
                elif status == "needs_review":
                    tries, last_at, match_rule = 1, min(now - 1, added + between(5, 3600)), "review"
                    candidates = json.dumps(
                        [{"id": f"P{eid}a", "name": "Candidate A"},
                         {"id": f"P{eid}b", "name": "Candidate B"}]
                    )  # fmt: skip
                enrollments.append(
                    (eid, account_id, sequence_id, contact_id, st(added), mode,
                     sequence_id in self.disabled_sequences, is_connected, True, project,
                     st(decided), st(replied) if replied else None, status, reason, last_error,
                     link, match_rule, candidates, None, exists, person, candidacy,
                     st(synced) if synced else None, tries, st(next_at) if next_at else None,
                     st(last_at) if last_at else None, lease_owner,
                     st(lease_expires) if lease_expires else None)
                )  # fmt: skip
                if status in ("synced", "retrying", "failed", "needs_review", "syncing"):
                    outcome = "started" if status == "syncing" else status
                    rows = min(tries, 3)
                    for back in range(rows):
                        attempt_id += 1
                        finished = (last_at or now) - (rows - 1 - back) * between(60, 600)
                        last = back == rows - 1
                        attempts_rows.append(
                            (attempt_id, eid, account_id, st(finished - between(1, 5)),
                             None if last and outcome == "started" else st(finished),
                             outcome if last else "retrying",
                             reason if last and status != "synced" else
                             (None if last else "rate_limited"),
                             last_error if last else ERRORS["rate_limited"],
                             between(2, 4) if outcome == "synced" and last else 1)
                        )  # fmt: skip
                draw = rnd()
                n_activities = 0 if draw < 0.65 else 1 if draw < 0.85 else 2 if draw < 0.95 else 3
                for index in range(n_activities):
                    activity_id += 1
                    kind = "sent" if index == 0 else rng.choices(kinds, cum_weights=kind_weights)[0]
                    occurred = min(now - 1, added + between(60, 3 * DAY) * (index + 1))
                    state, why, note, done, error = "pending", None, None, None, None
                    if not is_connected:
                        state, why = "skipped", "before_connection"
                    elif status == "synced":
                        roll = rnd()
                        if roll < 0.85:
                            state, note, done = (
                                "synced",
                                f"N{activity_id}",
                                max(occurred, synced or 0),
                            )
                        elif roll < 0.95:
                            state = "pending"
                        else:
                            state, error = "failed", "503: service unavailable"
                    elif status == "skipped":
                        state, why = "skipped", reason
                    activities.append(
                        (activity_id, eid, account_id, kind, st(occurred),
                         SUBJECTS[activity_id % len(SUBJECTS)], is_connected, f"a{activity_id}",
                         state, why, note, 1 if state in ("synced", "failed") else 0, error,
                         st(done) if done else None)
                    )  # fmt: skip
                if account_id == 1 and status == "failed" and tries >= 2 and n_activities:
                    self.detail_enrollment_id = eid
            self.loader.write("enrollment", ENROLLMENT_COLUMNS, enrollments)
            self.loader.write("activity", ACTIVITY_COLUMNS, activities)
            self.loader.write("sync_attempt", ATTEMPT_COLUMNS, attempts_rows)
            self.loader.commit()
            written = chunk_start + count
            if written % 100_000 < CHUNK or written == size:
                _progress(f"  {written:,} / {size:,} enrollments written")

    def _engine_runs(self) -> None:
        rng, st = self.rng, self.stamp
        rows = []
        step = SPAN_DAYS * DAY / ENGINE_RUNS
        for run_id in range(1, ENGINE_RUNS + 1):
            started = self.start + int(run_id * step)
            roll = rng.random()
            trigger = "scheduler" if roll < 0.9 else "until_idle" if roll < 0.995 else "job_error"
            claimed = 0 if rng.random() < 0.7 else rng.randint(1, 64)
            counts = {"claimed": claimed}
            if claimed:
                counts["synced"] = rng.randint(0, claimed)
                counts["retrying"] = claimed - counts["synced"]
            error = "RuntimeError: store unavailable" if trigger == "job_error" else None
            if error:
                counts = {}
            rows.append(
                (run_id, st(started), st(started + rng.randint(0, 30)), trigger,
                 f"bench-host:{run_id % 4}", json.dumps(counts), error)
            )  # fmt: skip
        self.loader.write(
            "engine_run",
            ("id", "started_at", "finished_at", "trigger", "worker", "counts", "error"),
            rows,
        )
        self.loader.commit()

    def _api_calls(self) -> None:
        rng, st, now = self.rng, self.stamp, self.now
        paths = (("GET", "/people"), ("POST", "/people"), ("POST", "/people/{id}/notes"),
                 ("PUT", "/people/{id}/emails"), ("POST", "/projects/{id}/candidates"))  # fmt: skip
        rows = []
        for call_id in range(1, API_CALLS + 1):
            account_id = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
            method, path = paths[rng.randrange(len(paths))]
            roll = rng.random()
            status: int | None = 200 if roll < 0.8 else 201 if roll < 0.88 else 429
            error = None
            if account_id == 2 and roll > 0.5:
                status = 401
            elif 0.94 <= roll < 0.97:
                status = 503
            elif roll >= 0.97:
                status, error = None, "ReadTimeout: timed out"
            at = now - DAY + int(call_id * DAY / API_CALLS)
            rows.append(
                (call_id, account_id, st(at), method, path, status,
                 round(rng.uniform(40, 900), 1), error)
            )  # fmt: skip
        self.loader.write(
            "api_call",
            ("id", "account_id", "at", "method", "path", "status", "latency_ms", "error"),
            rows,
        )
        self.loader.commit()

    def _audit_entries(self) -> None:
        rng, st = self.rng, self.stamp
        fields = (("account_settings", "sync_mode", "on_add", "on_reply"),
                  ("account_settings", "deduplication", "True", "False"),
                  ("sequence", "disable_sync", "False", "True"),
                  ("connection", "api_key", "••••ab12", "••••cd34"))  # fmt: skip
        rows = []
        for entry_id in range(1, AUDIT_ENTRIES + 1):
            entity, name, old, new = fields[rng.randrange(len(fields))]
            account_id = rng.choices(self.account_ids, weights=self.shares)[0]
            at = self.start + int(entry_id * SPAN_DAYS * DAY / AUDIT_ENTRIES)
            rows.append(
                (entry_id, st(at), "staff@example.com", account_id, entity, str(account_id),
                 name, old, new)
            )  # fmt: skip
        self.loader.write(
            "audit_entry",
            ("id", "at", "actor", "account_id", "entity", "entity_id", "field", "old_value",
             "new_value"),
            rows,
        )  # fmt: skip
        self.loader.commit()


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- measuring (in a fresh child process) -----------------------------------------------------


@dataclass
class Query:
    """One page query: what it is called in the table, and the call as the page makes it."""

    group: str
    name: str
    run: Callable[[Session], Any]
    cli: bool = False  # the CLI's status --json, not a dashboard page
    max_runs: int | None = None  # long streams (the full export) are timed fewer times
    has_target: bool = True  # the full export is judged by its memory, not its latency


def _result_size(result: Any) -> int | None:
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


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _proc_status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_mb() -> float:
    kb = _proc_status_kb("VmRSS")
    return (kb or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _rss_peak_mb() -> float:
    kb = _proc_status_kb("VmHWM")
    return (kb or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _reset_rss_peak() -> None:
    # Linux: writing 5 resets the high-water mark (VmHWM) to the current RSS.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class StatementLog:
    """The SQL each query sends, captured while ``current`` names a query (for --explain)."""

    def __init__(self, db: Database) -> None:
        self.current: str | None = None
        self.statements: dict[str, list[tuple[str, Any]]] = {}
        sa.event.listen(db.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.current and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen = self.statements.setdefault(self.current, [])
            # Each distinct statement once, so a query of many partitions is not measured
            # holding every statement it sent.
            if all(statement != known for known, _ in seen):
                seen.append((statement, parameters))


def explain(db: Database, statement: str, parameters: Any) -> str:
    """The plan of one captured statement: EXPLAIN QUERY PLAN, or EXPLAIN (ANALYZE, BUFFERS)."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            depth: dict[int, int] = {0: 0}
            lines = []
            for node, parent, _, detail in rows:
                depth[node] = depth.get(parent, 0) + 1
                lines.append("  " * depth[node] + detail)
        else:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
            lines = ["  " + row[0] for row in rows]
        conn.rollback()
    sql = " ".join(statement.split())
    return "\n".join([f"  SQL: {sql[:600]}{' …' if len(sql) > 600 else ''}", *lines])


def _run_once(db: Database, query: Query) -> tuple[float, Any]:
    with db.read() as session:
        started = time.perf_counter()
        result = query.run(session)
        elapsed = time.perf_counter() - started
    return elapsed * 1000, result


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """Time and trace every query on one loaded store; the child process's whole job."""
    backend, size, repeats = job["backend"], job["size"], job["repeats"]
    target = TARGET_MS[backend]
    db = Database(job["url"])
    statements = StatementLog(db)
    queries = catalogue(db, job["context"])
    dashboard = [query for query in queries if not query.cli]
    cli = [query for query in queries if query.cli]
    gc.collect()
    rss_start = _rss_mb()
    _reset_rss_peak()
    timings: dict[str, dict[str, Any]] = {}

    def time_queries(selection: list[Query]) -> None:
        for query in selection:
            _, result = _run_once(db, query)  # warm-up: connection, compiled-statement caches
            runs = min(repeats, query.max_runs or repeats)
            samples = [_run_once(db, query)[0] for _ in range(runs)]
            p50, p95 = _percentile(samples, 0.5), _percentile(samples, 0.95)
            over = query.has_target and p95 > target
            timings[query.name] = {
                "group": query.group,
                "query": query.name,
                "cli": query.cli,
                "p50_ms": round(p50, 2),
                "p95_ms": round(p95, 2),
                "runs": runs,
                "result": _result_size(result),
                "over_target": over,
            }
            flag = "  OVER TARGET" if over else ""
            _progress(f"    {query.name:<48} p50 {p50:9.1f} ms  p95 {p95:9.1f} ms{flag}")

    def trace_queries(selection: list[Query]) -> dict[str, float]:
        peaks: dict[str, float] = {}
        tracemalloc.start()
        for query in selection:
            gc.collect()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            statements.current = query.name
            _run_once(db, query)
            statements.current = None
            peaks[query.name] = (tracemalloc.get_traced_memory()[1] - before) / 1024 / 1024
        tracemalloc.stop()
        return peaks

    _progress(f"  timing {len(dashboard)} dashboard queries, {repeats} runs each")
    time_queries(dashboard)
    dashboard_peaks = trace_queries(dashboard)
    rss_peak = _rss_peak_mb()
    gc.collect()
    _reset_rss_peak()
    cli_rss_start = _rss_mb()
    time_queries(cli)
    cli_peaks = trace_queries(cli)
    cli_rss_peak = _rss_peak_mb()
    plans: dict[str, list[str]] = {}
    if job["explain"]:
        for name, timing in timings.items():
            if timing["over_target"]:
                plans[name] = [
                    explain(db, statement, parameters)
                    for statement, parameters in statements.statements.get(name, [])
                ]
    db.dispose()
    worst = max(dashboard_peaks, key=lambda name: dashboard_peaks[name])
    return {
        "backend": backend,
        "size": size,
        "timings": list(timings.values()),
        "memory": {
            "tracemalloc_peak_mb": round(dashboard_peaks[worst], 2),
            "tracemalloc_peak_query": worst,
            "export_full_peak_mb": round(dashboard_peaks["export csv full [status=failed]"], 2),
            "per_query_peak_mb": {name: round(mb, 3) for name, mb in dashboard_peaks.items()},
            "rss_start_mb": round(rss_start, 1),
            "rss_peak_mb": round(rss_peak, 1),
            "cli_peak_mb": {name: round(mb, 2) for name, mb in cli_peaks.items()},
            "cli_rss_start_mb": round(cli_rss_start, 1),
            "cli_rss_peak_mb": round(cli_rss_peak, 1),
        },
        "plans": plans,
    }


# --- orchestration and report -----------------------------------------------------------------


def load(
    store: Store, *, size: int, now: int, analyze: bool = True
) -> tuple[dict[str, Any], float]:
    """Migrate and fill a fresh store; returns the data's context and the seconds it took."""
    db = Database(store.url)
    try:
        migrate(db)
        started = time.perf_counter()
        loader = Loader(db)
        context = DataGenerator(loader, size=size, now=now).run()
        _progress("  analyzing")
        loader.finish(analyze=analyze)
        if db.is_sqlite and analyze:
            migrate(db)  # what every start-up of the app does: statistics as the app keeps them
        return context, time.perf_counter() - started
    finally:
        db.dispose()


def run_one(
    backend: str,
    size: int,
    *,
    admin_url: str | None,
    workdir: Path,
    repeats: int,
    explain: bool,
    sqlite_analyze: bool = True,
) -> dict[str, Any]:
    """Load one store, measure it in a fresh process, remove it."""
    now = int(time.time()) // 60 * 60
    store = open_store(backend, admin_url=admin_url, workdir=workdir)
    try:
        _progress(f"{backend}, {size:,} enrollments: generating")
        analyze = sqlite_analyze or backend != "sqlite"
        context, seconds = load(store, size=size, now=now, analyze=analyze)
        _progress(f"  generated {sum(context['rows'].values()):,} rows in {seconds:.1f} s")
        job = {
            "backend": backend, "size": size, "url": store.url, "repeats": repeats,
            "explain": explain, "context": {**context, "now": now},
        }  # fmt: skip
        child = subprocess.run(
            [sys.executable, __file__, "--measure", json.dumps(job)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        line = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
        result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
        result["generation_s"] = round(seconds, 1)
        result["rows"] = context["rows"]
        result["analyzed"] = analyze
        return result
    finally:
        store.cleanup()


def _cell(timing: dict[str, Any] | None) -> str:
    if timing is None:
        return f"{'—':>19}"
    mark = "!" if timing["over_target"] else " "
    return f"{timing['p50_ms']:8.1f} /{timing['p95_ms']:8.1f}{mark}"


def report(results: list[dict[str, Any]]) -> str:
    """The tables: per backend, query x size (p50 / p95 ms); memory; generation."""
    out = io.StringIO()
    backends = list(dict.fromkeys(result["backend"] for result in results))
    for backend in backends:
        runs = sorted((r for r in results if r["backend"] == backend), key=lambda r: r["size"])
        names = list(dict.fromkeys(t["query"] for r in runs for t in r["timings"]))
        groups = {t["query"]: t["group"] for r in runs for t in r["timings"]}
        by_size = {r["size"]: {t["query"]: t for t in r["timings"]} for r in runs}
        width = max(len(f"{groups[n]}: {n}") for n in names)
        target = TARGET_MS[backend]
        stats = "" if all(r.get("analyzed", True) for r in runs) else " without ANALYZE"
        print(
            f"\n{backend}{stats}: p50 / p95 ms per query (target p95 <= {target:.0f} ms; ! = over)",
            file=out,
        )
        print(f"{'query':<{width}}" + "".join(f"{r['size']:>20,}" for r in runs), file=out)
        for name in names:
            cells = "".join(" " + _cell(by_size[r["size"]].get(name)) for r in runs)
            print(f"{f'{groups[name]}: {name}':<{width}}{cells}", file=out)
        largest = runs[-1]
        missing = [t["query"] for t in largest["timings"] if t["over_target"]]
        print(
            f"over target at {largest['size']:,}: {len(missing)} of {len(largest['timings'])}"
            + (f" ({', '.join(missing)})" if missing else ""),
            file=out,
        )
    print(
        "\nmemory of the query phase (fresh process per store; Python heap by tracemalloc)",
        file=out,
    )
    print(
        f"{'backend':<11}{'size':>11}{'heap peak MB':>14}  {'largest query':<42}"
        f"{'export MB':>10}{'RSS start':>11}{'RSS peak':>10}{'CLI status MB':>15}",
        file=out,
    )
    for result in results:
        memory = result["memory"]
        print(
            f"{result['backend']:<11}{result['size']:>11,}{memory['tracemalloc_peak_mb']:>14.2f}  "
            f"{memory['tracemalloc_peak_query'][:41]:<42}{memory['export_full_peak_mb']:>10.2f}"
            f"{memory['rss_start_mb']:>11.1f}{memory['rss_peak_mb']:>10.1f}"
            f"{max(memory['cli_peak_mb'].values()):>15.1f}",
            file=out,
        )
    print("\ndata generation", file=out)
    for result in results:
        print(
            f"{result['backend']:<11}{result['size']:>11,} enrollments: "
            f"{sum(result['rows'].values()):>10,} rows in {result['generation_s']:>6.1f} s",
            file=out,
        )
    return out.getvalue()


def source_revision() -> str:
    """The commit measured, marked ``+changes`` when ``sync_engine/`` differs from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "sync_engine"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if changed else "")


def source_digest() -> str:
    """A digest of ``sync_engine/``'s Python files, to notice an edit during a long run."""
    root = Path(__file__).resolve().parents[1] / "sync_engine"
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _postgres_reachable(admin_url: str | None) -> str | None:
    if not admin_url:
        return "no admin URL (give --pg or set CWSYNC_TEST_POSTGRES_URL)"
    engine = sa.create_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        return f"unreachable: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def main() -> None:
    """Parse options, run every backend x size, print the tables and a JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="enrollment counts")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg",
        default=os.environ.get("CWSYNC_TEST_POSTGRES_URL"),
        help="PostgreSQL admin URL (default: $CWSYNC_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per query")
    parser.add_argument(
        "--explain", action="store_true", help="print the plans of queries over target"
    )
    parser.add_argument(
        "--skip-sqlite-analyze",
        action="store_true",
        help="leave SQLite without planner statistics (the app gathers them at start-up)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where SQLite files go")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print("RESULT " + json.dumps(measure(json.loads(args.measure))), flush=True)
        return
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    backends = [backend.strip() for backend in args.backends.split(",") if backend.strip()]
    unknown = set(backends) - set(TARGET_MS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if "postgresql" in backends and (problem := _postgres_reachable(args.pg)):
        _progress(f"skipping postgresql: {problem}")
        backends.remove("postgresql")
    revision, digest = source_revision(), source_digest()
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="cwsync-bench-") as workdir:
        for backend in backends:
            for size in sizes:
                results.append(
                    run_one(
                        backend, size, admin_url=args.pg, workdir=Path(workdir),
                        repeats=args.repeats, explain=args.explain,
                        sqlite_analyze=not args.skip_sqlite_analyze,
                    )
                )  # fmt: skip
    if source_digest() != digest:
        _progress(f"warning: sync_engine/ changed during the run (started at {revision})")
    plans = [(r, name, text) for r in results for name, text in r.pop("plans").items()]
    if plans:
        print("plans of queries over target")
        for result, name, texts in plans:
            print(f"\n[{result['backend']} {result['size']:,}] {name}")
            print("\n".join(texts))
    print(f"measured: {revision}")
    print(report(results))
    summary = {"bench": "dashboard_queries", "revision": revision, "targets_ms": TARGET_MS}
    print(json.dumps({**summary, "runs": results}))


if __name__ == "__main__":
    main()
