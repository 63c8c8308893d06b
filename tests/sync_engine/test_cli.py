"""The cwsync command line: SPEC §6 names, one-line errors, and a CSV synced end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from clockwork_simulator import SimulatorServer, SimulatorState
from tests.factories import SIM_FIRM, SIM_KEYS, connect_args


def test_help_lists_the_commands_of_spec_section_6(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("--help")
    assert code == 0
    for command in ("account", "connect", "disconnect", "settings", "sequence", "contact",
                    "event", "sync", "status", "simulator", "demo"):  # fmt: skip
        assert command in out


# Every command and group in the order `--help` lists them; each module of sync_engine.cli adds
# its own, so a module left out of the root's assembly, or added out of turn, shows here.
COMMAND_TREE = {
    "": [
        "projects", "connect", "disconnect", "settings", "event", "status", "sync",
        "resync-project", "backfill-activity", "review", "simulator", "demo", "dashboard",
        "serve", "verify", "repair", "account", "sequence", "contact", "alerts", "token",
    ],
    "account": ["add", "list"],
    "sequence": ["add", "set", "list"],
    "contact": ["add", "import"],
    "alerts": ["add", "remove", "list", "rule", "test", "log", "check"],
    "token": ["create", "list", "revoke", "secret"],
}  # fmt: skip


@pytest.mark.parametrize("group", list(COMMAND_TREE))
def test_help_lists_every_command_once_in_order(cli, group: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(*group.split(), "--help")
    assert (code, err) == (0, "")
    listing = out.split("\nCommands:\n", 1)[1]
    assert [line.split()[0] for line in listing.splitlines() if line.strip()] == COMMAND_TREE[group]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", "Nobody", "--json"), "no account 'Nobody'"),
        (("settings", "1", "--mode", "sometimes"), "Invalid value for '--mode'"),
        (("contact", "add", "1", "--email", "not-an-email"), "invalid email"),
        (("contact", "add", "abc", "--email", "a@b.co"), "Invalid value for 'sequence_id'"),
        (("event", "99", "opened"), "no enrollment 99"),
        (("event", "1", "teleported"), "Invalid value for 'kind'"),
    ],
)
def test_bad_input_gets_one_line_on_stderr_and_a_nonzero_exit(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    cli("account", "add", "Acme")
    code, out, err = cli(*args)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_status_json_of_an_account_without_enrollments_is_an_empty_array(cli) -> None:  # type: ignore[no-untyped-def]
    cli("account", "add", "Quiet")
    assert cli("status", "Quiet", "--json") == (0, "[]\n", "")


def test_csv_import_syncs_end_to_end_and_status_json_shows_it(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    sim.seed_person(SIM_FIRM, first_name="Known", last_name="Person", emails=["known@example.com"])
    project = sim.snapshot(SIM_FIRM)["projects"][0]["id"]
    assert cli("account", "add", "Acme") == (0, "1\n", "")
    code, _, err = cli(*connect_args(sim_server.base_url))
    assert code == 0 and SIM_KEYS["api_secret"] not in err
    assert cli("sequence", "add", "Acme", "VP Eng", "--project", project)[1] == "1\n"
    csv = tmp_path / "contacts.csv"
    csv.write_text(
        "email,first_name,last_name,title,company,linkedin_url\n"
        "new@example.com,New,Person,CTO,Initech,https://linkedin.com/in/new\n"
        "KNOWN@example.com,Known,Person,,,\n"
        "broken,Bad,Row,,,\n"
    )
    code, out, err = cli("contact", "import", "1", str(csv))
    assert (code, out) == (1, "imported 2 of 3 rows\n") and "line 4:" in err
    code, out, _ = cli("sync", "--until-idle", "--timeout", "30")
    assert code == 0 and json.loads(out)["synced"] == 2
    code, out, _ = cli("status", "Acme", "--json")
    assert out.count("\n") == 4  # streamed: "[", one line per enrollment, "]"
    rows = {row["email"]: row for row in json.loads(out)}
    assert rows["new@example.com"]["status"] == "synced"
    assert rows["new@example.com"]["link"] == "created"
    assert rows["known@example.com"]["link"] == "linked"
    assert rows["known@example.com"]["exists_in_clockwork"] is True
    assert rows["known@example.com"]["project_id"] == project


def test_a_command_lines_timeout_counts_from_the_process_start(  # type: ignore[no-untyped-def]
    cli, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    """`cwsync sync --until-idle --timeout T` returns by T after the command was typed: the
    interpreter's start-up counts (here 1.5 s of it, over a 1 s timeout: no pass is run)."""
    cli("account", "add", "Acme")
    assert cli(*connect_args(sim_server.base_url))[0] == 0
    cli("sequence", "add", "Acme", "VP Eng")
    assert cli("contact", "add", "1", "--email", "new@example.com")[0] == 0
    slow_start = (
        "import sys, time; time.sleep(1.5); "
        "sys.argv = ['cwsync', 'sync', '--until-idle', '--timeout', '1']; "
        "from sync_engine.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", slow_start], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout) == {"remaining": 1, "timed_out": 1}
    assert "timed out after 1s with 1 enrollment(s) still queued" in done.stderr


def test_connect_with_rejected_keys_exits_nonzero_with_the_reason(  # type: ignore[no-untyped-def]
    cli, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    cli("account", "add", "Acme")
    code, _out, err = cli(*connect_args(sim_server.base_url, api_secret="wrong-secret"))
    assert code == 2 and "rejected the credentials" in err and "wrong-secret" not in err


# --- issue 12 item 8: what used to end in a traceback ends in one line -----------------------

HUGE = "99999999999999999999999"


def _one_line(code: int, out: str, err: str) -> str:
    assert code != 0 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("cwsync: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("contact", "add", HUGE, "--email", "a@b.co"), "Invalid value for 'sequence_id'"),
        (("contact", "import", HUGE, "contacts.csv"), "Invalid value for 'sequence_id'"),
        (("sequence", "set", HUGE, "--enable-sync"), "Invalid value for 'sequence_id'"),
        (("event", HUGE, "opened"), "Invalid value for 'enrollment_id'"),
        (("resync-project", HUGE, "--dry-run"), "Invalid value for 'sequence_id'"),
        (("review", HUGE, "--new"), "Invalid value for 'enrollment_id'"),
        (("backfill-activity", "Acme", "--sequence", HUGE), "Invalid value for '--sequence'"),
        (("status", HUGE, "--json"), f"no account '{HUGE}'"),
        (("status", "\u00b2", "--json"), "no account '\u00b2'"),  # a digit int() refuses
    ],
)
def test_an_id_too_large_for_the_store_gets_one_line(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    cli("account", "add", "Acme")
    assert message in _one_line(*cli(*args))


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--api-key", "sim api key", "api_key must be non-empty printable ASCII without spaces"),
        ("--base-url", "http://127.0.0.1:9/?firm=x", "must be an http(s) URL with a host and no"),
    ],
)
def test_credentials_the_client_cannot_send_get_one_line(cli, option, value, message) -> None:  # type: ignore[no-untyped-def]
    cli("account", "add", "Acme")
    given = {
        "--firm": SIM_FIRM, "--api-key": "sim-api-key", "--api-secret": "sim-api-secret",
        "--firm-service-key": "sim-firm-service-key", "--base-url": "http://127.0.0.1:9",
        option: value,
    }  # fmt: skip
    err = _one_line(*cli("connect", "Acme", *[part for pair in given.items() for part in pair]))
    assert message in err and "sim-api-secret" not in err


def test_a_read_only_store_gets_one_line(cli, sqlite_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = sqlite_url.removeprefix("sqlite:///")
    monkeypatch.setenv("CWSYNC_DATABASE_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    err = _one_line(*cli("account", "add", "Acme"))
    assert "cannot be used: attempt to write a readonly database" in err


def test_an_unreachable_postgresql_gets_one_line_without_its_password(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = "postgresql+psycopg://cwsync:hunter2-secret@127.0.0.1:1/cwsync"
    monkeypatch.setenv("CWSYNC_DATABASE_URL", url)
    err = _one_line(*cli("status", "Acme", "--json"))
    assert "cannot be used: connection failed" in err and "hunter2-secret" not in err


def test_a_key_file_that_is_a_directory_gets_one_line(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CWSYNC_ENCRYPTION_KEY")
    monkeypatch.setenv("CWSYNC_KEY_FILE", str(tmp_path))
    err = _one_line(*cli("account", "add", "Acme"))
    assert str(tmp_path) in err and "Is a directory" in err


@pytest.mark.slow  # a process of its own
def test_a_full_disk_gets_one_line(sqlite_url: str, tmp_path: Path) -> None:
    """The store's files may not grow (RLIMIT_FSIZE, the way a full disk refuses a write)."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    def no_room() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    environment = {
        **os.environ,
        "CWSYNC_DATABASE_URL": sqlite_url,
        "CWSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),  # this checkout's code
    }
    done = subprocess.run(
        [sys.executable, "-m", "sync_engine", "account", "add", "Acme"],
        env=environment, cwd=tmp_path, preexec_fn=no_room, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    err = _one_line(done.returncode, done.stdout, done.stderr)
    assert "cannot be used: disk I/O error" in err
