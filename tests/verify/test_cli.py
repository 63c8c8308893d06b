"""``cwsync verify`` and ``cwsync repair`` against the simulator on a real socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.demo import SimulatorAdmin
from sync_engine.runtime import Runtime
from tests.factories import SIM_FIRM, make_runtime
from tests.verify.test_verify import _person, _synced_account

Run = Callable[..., tuple[int, str, str]]
KEY = Fernet.generate_key().decode()


@pytest.fixture
def rt(sqlite_url: str, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url, encryption_key=KEY, default_max_rps=500)
    yield runtime
    runtime.close()


@pytest.fixture
def cli(cli: Run, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The shared ``cli``, with the key of ``rt`` and the simulator's plain-HTTP address allowed."""
    monkeypatch.setenv("CWSYNC_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("CWSYNC_ALLOW_INSECURE_HTTP", "true")
    return cli


def test_verify_finds_drift_and_repair_previews_then_queues_it(
    rt: Runtime, sim_server: SimulatorServer, cli: Run
) -> None:
    _synced_account(rt, sim_server, count=3)
    with SimulatorAdmin(sim_server.base_url) as admin:
        admin.delete_person(SIM_FIRM, _person(rt, "person2@example.com"))

    code, _, err = cli("verify", "Acme Talent", "--dry-run")
    assert code == 0
    assert "would check 3 contacts (2 with notes, 1 projects) in about 6 reads" in err

    code, out, err = cli("verify", "Acme Talent")
    assert code == 0, err
    assert int(out.strip()) >= 1
    assert "checked 3 of 3, 1 drifted" in err
    assert "drifted\tperson2@example.com\tThe person is no longer in Clockwork" in err
    assert "verified 3 contacts: 1 drifted; 6 reads (2.00 per contact)" in err

    code, out, _ = cli("repair", "Acme Talent")
    assert code == 0 and out.startswith("person2@example.com\t")
    code, out, err = cli("repair", "Acme Talent", "--apply")
    assert "1 contacts queued for repair" in err
    code, out, err = cli("repair", "Acme Talent")
    assert out == "" and "nothing to repair" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("verify", "Nobody"), "no account 'Nobody'"),
        (("verify", "Acme Talent", "--sample", "0"), "--sample"),
        (("verify", "Acme Talent", "--sequence", "99"), "no sequence 99"),
    ],
)
def test_bad_input_is_one_line(
    rt: Runtime, sim_server: SimulatorServer, cli: Run, args: tuple[str, ...], message: str
) -> None:
    _synced_account(rt, sim_server, count=1)
    code, _, err = cli(*args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
