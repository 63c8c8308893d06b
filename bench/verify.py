"""Verify beside syncing: reads per contact, and who gets a firm's budget.

One firm on the simulator (in this process, on a loopback socket) limited to ``--rate`` req/s,
``--latency-ms`` per answer; its account is told the same budget (``max_rps``). The store holds
``--contacts`` contacts already synced (person, candidacy in the sequence's project, and for
``--activity-share`` of them a note; spread over ``--projects`` sequences, each with its own
project: the contract lists a project's candidates 100 a page, 100 pages at most), seeded straight into the simulator and the store, plus
``--new`` new contacts queued to sync (each a search, a create, an email, a position, a
candidacy: the sync wants the whole budget).

First a whole verification of the synced contacts with no limit and no latency: its reads per
contact (a person read each, a notes read for each contact with activity, each project's
candidates once, 100 a page). Then two runs of ``--seconds`` each, side by side:

- **sync alone**: the engine syncs the new contacts;
- **sync + verify**: the same, and a verification of every synced contact through the engine's
  own pacer for the firm, at most ``--share`` of it (``CWSYNC_VERIFY_SHARE``).

Printed per run: the firm's requests per second answered, the share of the budget each side used
(requests answered divided by rate x the run's seconds), 429s; for the verification, contacts checked and reads per contact.
A JSON line last.

    python bench/verify.py                              # 10,000 contacts, 10 req/s, 60 s a run
    python bench/verify.py --contacts 2000 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench
from bench.bench_account import (
    FIRM,
    KEYS,
    add_sequence,
    connected_account,
    enroll,
    set_settings,
)
from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.config import Settings
from sync_engine.engine.passes import Engine
from sync_engine.models import Activity, Contact, Enrollment, table_of
from sync_engine.runtime import Runtime, build_runtime
from sync_engine.verify.runs import advance, request_verification


def _seed_synced(
    rt: Runtime, state: SimulatorState, *, account_id: int, sequences: list[tuple[int, str]],
    contacts: int, activity_share: float,
) -> None:  # fmt: skip
    """``contacts`` people in Clockwork and the same contacts synced in the store, spread over
    the sequences (each with its project)."""
    now = datetime.now(UTC)
    every = max(1, round(1 / activity_share)) if activity_share > 0 else 0
    contact_rows, enrollment_rows, activity_rows = [], [], []
    for i in range(contacts):
        sequence_id, project_id = sequences[i % len(sequences)]
        email = f"synced{i}@example.com"
        person = state.seed_person(
            FIRM, first_name=f"Synced{i}", last_name="Person", emails=[email]
        )
        state.add_candidacy(FIRM, project_id, person_id=person["id"])
        key = None
        if every and i % every == 0:
            key = uuid.uuid4().hex
            state.create_note(
                FIRM, person["id"], content=f"<p>Replied</p><p>cwsync-activity:{key}</p>",
                content_type="text/html", category="Email",
            )  # fmt: skip
        contact_rows.append(
            {
                "id": i + 1,
                "account_id": account_id,
                "email": email,
                "first_name": f"Synced{i}",
                "last_name": "Person",
                "created_at": now,
                "clockwork_person_id": person["id"],
                "person_created_by_us": False,
                "email_attached": True,
                "position_attached": False,
                "linkedin_attached": False,
                "title": "",
                "company": "",
                "linkedin_url": "",
            }
        )
        enrollment_rows.append(
            {
                "id": i + 1,
                "account_id": account_id,
                "sequence_id": sequence_id,
                "contact_id": i + 1,
                "added_at": now,
                "sync_mode_at_add": "on_add",
                "disable_sync_at_add": False,
                "connected_at_add": True,
                "dedup_at_add": True,
                "project_id": project_id,
                "status": "synced",
                "exists_in_clockwork": True,
                "clockwork_person_id": person["id"],
                "candidacy_done": True,
                "synced_at": now,
                "attempts": 1,
            }
        )
        if key:
            activity_rows.append(
                {
                    "enrollment_id": i + 1,
                    "account_id": account_id,
                    "kind": "replied",
                    "occurred_at": now,
                    "subject": "Re",
                    "tracked": True,
                    "activity_key": key,
                    "state": "synced",
                    "note_id": str(uuid.uuid4()),
                    "attempts": 1,
                    "synced_at": now,
                }
            )
    with rt.db.transaction() as connection:
        connection.execute(sa.insert(table_of(Contact)), contact_rows)
        connection.execute(sa.insert(table_of(Enrollment)), enrollment_rows)
        if activity_rows:
            connection.execute(sa.insert(table_of(Activity)), activity_rows)


def _run(
    rt: Runtime, server: SimulatorServer, account_id: int, *, seconds: float, verify: bool,
    share: float,
) -> dict[str, float]:  # fmt: skip
    before = server.state.answer_counts(FIRM)
    engine = Engine(rt)
    result: dict[str, float] = {}

    def sync() -> None:
        engine.run_until_idle(timeout=seconds)

    def verification() -> None:
        while engine.pacer_for(account_id) is None:  # the lane exists after the first claim
            time.sleep(0.05)
        run = request_verification(rt, account_id=account_id, actor="bench")
        assert run.id is not None
        done = advance(
            rt, run.id, seconds=seconds - (time.monotonic() - started), share=share,
            firm_pacer=engine.pacer_for(account_id),
        )  # fmt: skip
        result.update(checked=done.checked, reads=done.reads)

    started = time.monotonic()
    threads = [threading.Thread(target=sync)]
    if verify:
        threads.append(threading.Thread(target=verification))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    engine.close()
    after = server.state.answer_counts(FIRM)
    ok = after["ok"] - before["ok"]
    refused = after["statuses"].get("429", 0) - before["statuses"].get("429", 0)
    reads = result.get("reads", 0.0)
    result.update(seconds=elapsed, ok=ok, refused=refused, sync=ok - reads, verify=reads)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=2_000, help="new contacts queued to sync")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--share", type=float, default=0.5)
    parser.add_argument("--activity-share", type=float, default=0.3)
    parser.add_argument(
        "--projects", type=int, default=10, help="sequences (and projects) the contacts are in"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="verify-bench-"))
    state = SimulatorState()
    state.add_firm(FIRM, **KEYS)
    faults = FaultConfig(rate_limit_rps=args.rate, latency_ms=args.latency_ms)
    with SimulatorServer(state, faults=faults) as server:
        settings = Settings(
            _env_file=None, database_url=f"sqlite:///{tmp / 'store.db'}",  # type: ignore[call-arg]
            encryption_key=Fernet.generate_key().decode(), demo=False, allow_insecure_http=True,
        )  # fmt: skip
        rt = build_runtime(settings)
        account_id = connected_account(rt, base_url=server.base_url, max_rps=args.rate)
        sequences = []
        for index in range(args.projects):
            project = state.add_project(FIRM, f"Bench project {index}")
            sequence_id = add_sequence(rt, account_id, f"Bench {index}", project_id=project["id"])
            sequences.append((sequence_id, project["id"]))
        seeded = time.monotonic()
        _seed_synced(
            rt, state, account_id=account_id, sequences=sequences, contacts=args.contacts,
            activity_share=args.activity_share,
        )  # fmt: skip
        print(f"seeded {args.contacts:,} synced contacts in {time.monotonic() - seeded:.1f} s")
        # Reads per contact over a whole verification: no limit, no latency, nothing else running.
        server.set_faults(None)
        set_settings(rt, account_id, max_rps=1000.0)
        full_started = time.monotonic()
        full = request_verification(rt, account_id=account_id, actor="bench")
        assert full.id is not None
        full = advance(rt, full.id, share=1.0)
        full_seconds = time.monotonic() - full_started
        print(
            f"whole verification: {full.checked:,} contacts, {full.reads:,} reads "
            f"({full.reads / max(full.checked, 1):.3f} per contact), {full.drifted} drifted, "
            f"{full_seconds:.1f} s"
        )
        server.set_faults(faults)
        set_settings(rt, account_id, max_rps=args.rate)
        rows = {}
        for name, verify in (("sync alone", False), ("sync + verify", True)):
            tag = name.replace(" ", "").replace("+", "v")
            enroll(
                rt, sequences[0][0],
                ({"email": f"new{tag}{i}@example.com", "first_name": "New", "last_name": f"C{i}",
                  "title": "CTO", "company": "Acme"} for i in range(args.new)),
            )  # fmt: skip
            rows[name] = _run(
                rt, server, account_id, seconds=args.seconds, verify=verify, share=args.share
            )
        rt.close()

    print(f"\nrate {args.rate:g} req/s told and enforced, {args.latency_ms:g} ms per answer, "
          f"{args.seconds:g} s per run, verify share {args.share:g}")  # fmt: skip
    print(
        "| run | answered req/s | sync: share of budget | verify: share of budget | 429s "
        "| verified contacts | reads per contact |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        budget = args.rate * row["seconds"]
        per = row["verify"] / row["checked"] if row.get("checked") else 0.0
        print(
            f"| {name} | {row['ok'] / row['seconds']:.2f} | {row['sync'] / budget:.0%} | "
            f"{row['verify'] / budget:.0%} | {row['refused']:g} | {row.get('checked', 0):,.0f} | "
            f"{per:.2f} |"
        )
    whole = {"checked": full.checked, "reads": full.reads, "drifted": full.drifted}
    print(json.dumps({"args": vars(args), "whole": whole, "runs": rows}))


if __name__ == "__main__":
    main()
