"""``cwsync sync`` with a time line of what the engine did, for ``multi_tenant.py --trace``.

Run as ``python bench/engine_trace.py TRACE_FILE sync --until-idle …``: the same command as
``python -m sync_engine sync …``, with the engine's membership views, claims (per firm), every
Clockwork call (per firm, with its status) and its workers in flight (sampled every 0.25 s)
written as JSON lines to TRACE_FILE, wall-clock seconds. Only the bench's wrapper patches the
engine; the engine itself is not changed for the trace.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync_engine.engine import members, passes

_lock = threading.Lock()
_out: TextIO = sys.stderr  # the trace file, once main() opens it
_engines: list[passes.Engine] = []


def _emit(kind: str, **fields: Any) -> None:
    with _lock:
        _out.write(json.dumps({"t": time.time(), "kind": kind, **fields}) + "\n")


def _patch() -> None:
    see, claim_due, write_calls = members.Membership._see, passes.claim_due, passes.write_calls
    engine_init = passes.Engine.__init__

    def traced_see(self: members.Membership, alive: Any, accounts: frozenset[int]) -> None:
        before = self._alive  # a view from a beat or a look
        see(self, alive, accounts)
        if self._alive != before:
            _emit("members", me=self.member, alive=list(self._alive))

    def traced_claim(**kwargs: Any) -> Any:
        claims = claim_due(**kwargs)
        _emit("claim", account=kwargs.get("account_id"), wanted=kwargs["limit"], got=len(claims))
        return claims

    def traced_calls(db: Any, calls: list[Any], retention: int) -> None:
        with _lock:
            for account_id, call in calls:
                _out.write(json.dumps({"t": call.at.timestamp(), "kind": "call",
                                       "account": account_id, "status": call.status}) + "\n")  # fmt: skip
        write_calls(db, calls, retention)

    def traced_init(self: passes.Engine, *args: Any, **kwargs: Any) -> None:
        engine_init(self, *args, **kwargs)
        _engines.append(self)

    members.Membership._see = traced_see  # type: ignore[method-assign]
    passes.claim_due = traced_claim
    passes.write_calls = traced_calls
    passes.Engine.__init__ = traced_init  # type: ignore[method-assign]


def _sample() -> None:
    while True:
        time.sleep(0.25)
        for engine in list(_engines):
            lanes = list(engine._lanes.values())
            _emit("busy", in_flight=len(engine._in_flight),
                  backlog=sum(len(lane.backlog) for lane in lanes),
                  rates={lane.account_id: round(lane.pacer.rate, 2) for lane in lanes})  # fmt: skip
        _out.flush()


def main() -> None:
    global _out
    _out = open(sys.argv[1], "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    _emit("start")
    _patch()
    threading.Thread(target=_sample, daemon=True).start()
    from sync_engine.cli import main as cli_main

    sys.argv = ["cwsync", *sys.argv[2:]]
    try:
        cli_main()
    finally:
        _emit("end")
        with _lock:
            _out.flush()


if __name__ == "__main__":
    main()


def timeline(
    traces: list[list[dict[str, Any]]], names: dict[int, str], started: float
) -> list[str]:
    """What each engine process did, and where firms moved between them, as lines to print
    (seconds from ``started``, the wall time the bench started the processes)."""
    lines = []
    claimed_by: dict[int, list[tuple[float, int, float]]] = {}  # account -> (first, process, last)
    calls: dict[tuple[int, int], list[int]] = {}  # (account, process) -> [answers, 429s]
    for i, events in enumerate(traces):
        at = {e["kind"]: round(e["t"] - started, 2) for e in reversed(events)}  # first of each
        views = [e for e in events if e["kind"] == "members"]
        claims = [e for e in events if e["kind"] == "claim" and e["got"]]
        seen: dict[int, tuple[float, float]] = {}  # account -> (first claim, last claim)
        for e in claims:
            first = seen.get(e["account"], (e["t"] - started,))[0]
            seen[e["account"]] = (first, e["t"] - started)
        for account, (first, last) in seen.items():
            claimed_by.setdefault(account, []).append((first, i, last))
        for e in events:
            if e["kind"] == "call":
                tally = calls.setdefault((e["account"], i), [0, 0])
                tally[0] += 1
                tally[1] += e["status"] == 429
        busy = [e["in_flight"] for e in events if e["kind"] == "busy"]
        working = [b for b in busy if b] or [0]
        view_line = ", ".join(f"{round(v['t'] - started, 2)} s: {len(v['alive'])}" for v in views)
        lines.append(
            f"process {i}: started {at.get('start')} s, first claim {at.get('claim')} s, members "
            f"seen ({view_line or 'none'}); claimed {sum(e['got'] for e in claims)} in "
            f"{len(claims)} claims for {len(seen)} firms; workers in flight mean "
            f"{sum(working) / len(working):.1f} (max {max(working)}) while busy, "
            f"{sum(1 for b in busy if not b) * 0.25:.1f} s with none; ended {at.get('end')} s"
        )
    moved = {a: c for a, c in claimed_by.items() if len(c) > 1}
    lines.append(
        f"firms claimed by more than one process: {len(moved)} of {len(claimed_by)}"
        + "".join(
            f"; {names.get(a, a)}: "
            + " then ".join(f"p{i} {t:.1f}-{last:.1f} s" for t, i, last in sorted(c))
            for a, c in sorted(moved.items())[:8]
        )
    )
    final = {a: max(c, key=lambda claim: claim[2])[1] for a, c in claimed_by.items()}
    split = [sum(1 for i in final.values() if i == p) for p in range(len(traces))]
    lines.append(f"firms per process (the last to claim each): {split}")
    for account, name in sorted(names.items()):
        per = [(i, calls[(account, i)]) for i in range(len(traces)) if (account, i) in calls]
        if name.startswith("healthy") and len(per) < 2:
            continue
        lines.append(f"{name}: " + ", ".join(
            f"p{i} {n} calls {refused / n:.0%} 429" for i, (n, refused) in per))  # fmt: skip
    refused = sum(r for (a, _), (_, r) in calls.items() if names.get(a, "").startswith("healthy"))
    total = sum(n for (a, _), (n, _) in calls.items() if names.get(a, "").startswith("healthy"))
    lines.append(
        f"healthy firms: {refused} of {total} calls drew 429 ({refused / max(total, 1):.1%})"
    )
    return lines
