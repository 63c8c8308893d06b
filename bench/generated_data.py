"""Generated data for the dashboard benches: realistic rows at any size, the same on both backends.

:func:`load` migrates a fresh store (``bench/bulk_store.py``) and fills it for a given number of
enrollments: four accounts (one holds 85% of the rows, one has rejected credentials, one is
paused, one never connected), 20 sequences (one with Disable Sync), contacts unique by email per
account (about 0.8 per enrollment), enrollments over 30 days with a realistic mix of statuses,
reasons, links, flags, attempts and queue state, ~0.55 activities and ~0.75 sync attempts per
enrollment, 10,000 engine runs, 5,000 API calls and 2,000 audit entries; deterministic for a
seed. Then the statistics the app gathers at every start-up (``migrate()``: ANALYZE; on
PostgreSQL ``VACUUM (ANALYZE)``, the state autovacuum leaves an insert-heavy table in).

``bench/dashboard_queries.py`` (the service-layer queries) and ``bench/dashboard_pages.py`` (the
pages in a browser) both measure this data. Past 500 lines as one module: the tables of names and
mixes and the one generator that draws from them are read together.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench
from bench.bulk_store import Loader, Store, progress
from sync_engine.db import Database, migrate

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
                progress(f"  {written:,} / {size:,} enrollments written")

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
        progress("  analyzing")
        loader.finish(analyze=analyze)
        if db.is_sqlite and analyze:
            migrate(db)  # what every start-up of the app does: statistics as the app keeps them
        return context, time.perf_counter() - started
    finally:
        db.dispose()
