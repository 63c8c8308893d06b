"""The cwsync command line: SPEC §6 names, one-line errors, and a CSV synced end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from sync_engine.cli import main
from sync_engine.clockwork.simulator import SimulatorServer, SimulatorState
from tests.factories import SIM_FIRM, SIM_KEYS


@pytest.fixture
def cli(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CWSYNC_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CWSYNC_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("CWSYNC_DEFAULT_MAX_RPS", "500")
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        import sync_engine.cli as module

        module._state.runtime = None
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        captured = capsys.readouterr()
        if module._state.runtime is not None:
            module._state.runtime.close()
        return int(exit_info.value.code or 0), captured.out, captured.err

    return run


def test_help_lists_the_commands_of_spec_section_6(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("--help")
    assert code == 0
    for command in ("account", "connect", "disconnect", "settings", "sequence", "contact",
                    "event", "sync", "status", "simulator", "demo"):  # fmt: skip
        assert command in out


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
    code, _, err = cli(
        "connect", "Acme", "--firm", SIM_FIRM, "--base-url", sim_server.base_url,
        "--api-key", SIM_KEYS["api_key"], "--api-secret", SIM_KEYS["api_secret"],
        "--firm-service-key", SIM_KEYS["firm_service_key"],
    )  # fmt: skip
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


def test_connect_with_rejected_keys_exits_nonzero_with_the_reason(  # type: ignore[no-untyped-def]
    cli, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    cli("account", "add", "Acme")
    code, _out, err = cli(
        "connect", "Acme", "--firm", SIM_FIRM, "--base-url", sim_server.base_url,
        "--api-key", SIM_KEYS["api_key"], "--api-secret", "wrong-secret",
        "--firm-service-key", SIM_KEYS["firm_service_key"],
    )  # fmt: skip
    assert code == 2 and "rejected the credentials" in err and "wrong-secret" not in err
