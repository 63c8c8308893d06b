"""The command line tells the same story as the README (issue 13 item 10): the README's "Command
line" block, run as written, ends with every contact synced; projects are listed, named and
checked; help, success messages and the import say what they mean."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from clockwork_simulator.state import SEED_PROJECT_NAMES
from tests import loopback
from tests.factories import SIM_FIRM, SIM_KEYS, connect_args

README = Path(__file__).resolve().parents[2] / "README.md"
README_PORT = "8765"


def readme_commands() -> list[str]:
    """The commands of the README's "Command line" bash block, continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Command line\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the Command line section has no bash block"
    commands, current = [], ""
    for line in block.group(1).splitlines():
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            commands.append(current.strip())
        current = ""
    return commands


@pytest.fixture
def background() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        loopback.stop(process, grace=10)


def test_the_readme_command_line_block_run_as_written_syncs_every_contact(
    tmp_path: Path, background: list[subprocess.Popen[bytes]]
) -> None:
    commands = readme_commands()
    port = str(loopback.free_port())
    data = tmp_path / "data"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CWSYNC_") or key == "CWSYNC_TEST_POSTGRES_URL"
    }
    env |= {
        "CWSYNC_DATA_DIR": str(data),  # a throwaway store, key file and simulator state
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }
    last_out = ""
    for command in commands:
        assert "PROJECT_ID" not in command and "<" not in command, command
        line = command.replace(README_PORT, port)  # the only substitution besides the store
        words = shlex.split(line, comments=True)
        if words[-1] == "&":  # started in the background, as a shell would; waited for here
            process = subprocess.Popen(
                words[:-1], cwd=tmp_path, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            background.append(process)
            loopback.wait_until_answering(
                f"http://127.0.0.1:{port}/_admin/health", process, seconds=30
            )
            continue
        done = subprocess.run(
            ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, (line, done.stderr)
        last_out = done.stdout
    assert commands[-1].startswith("cwsync status") and "--json" in commands[-1]
    rows = json.loads(last_out)
    csv_rows = (tmp_path / "contacts.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == len(csv_rows) >= 2
    for row in rows:
        assert (row["status"], row["reason"]) == ("synced", None), row
        assert row["project_id"] and row["clockwork_person_id"]
    assert rows[0]["activities"]["synced"] == 1  # the reply became a note


# --- the CLI in-process --------------------------------------------------------------------


@pytest.fixture
def connected(cli, sim: SimulatorState, sim_server: SimulatorServer):  # type: ignore[no-untyped-def]
    cli("account", "add", "Acme")
    code, out, err = cli(*connect_args(sim_server.base_url))
    assert code == 0, err
    return cli, out, err


def _project(sim: SimulatorState, name: str) -> str:
    return next(p["id"] for p in sim.snapshot(SIM_FIRM)["projects"] if p["name"] == name)


def test_connect_prints_its_success_on_stdout(connected) -> None:  # type: ignore[no-untyped-def]
    _cli, out, err = connected
    assert out.startswith(f"connected {SIM_FIRM} (API key ****") and err == ""
    assert SIM_KEYS["api_key"] not in out


def test_projects_lists_the_firms_projects_by_name_as_text_and_json(  # type: ignore[no-untyped-def]
    connected, sim: SimulatorState
) -> None:
    cli = connected[0]
    code, out, _ = cli("projects", "Acme")
    lines = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and [name for _id, name in lines] == sorted(SEED_PROJECT_NAMES)
    assert all(project_id == _project(sim, name) for project_id, name in lines)
    code, out, _ = cli("projects", "Acme", "--json")
    shown = json.loads(out)
    assert code == 0 and {p["name"] for p in shown} == set(SEED_PROJECT_NAMES)
    assert set(shown[0]) == {"id", "name", "status"}


def test_projects_of_an_unconnected_account_is_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    cli("account", "add", "Quiet")
    code, out, err = cli("projects", "Quiet")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "connect Clockwork first" in err


def test_a_project_is_accepted_by_exact_name_or_id_on_sequences_and_settings(  # type: ignore[no-untyped-def]
    connected, sim: SimulatorState
) -> None:
    cli = connected[0]
    name = SEED_PROJECT_NAMES[0]
    assert cli("sequence", "add", "Acme", "VP Eng", "--project", name)[:2] == (0, "1\n")
    code, out, _ = cli("sequence", "list", "Acme")
    assert code == 0 and out.split("\t")[3].strip() == _project(sim, name)
    other = _project(sim, SEED_PROJECT_NAMES[1])
    assert cli("sequence", "set", "1", "--project", other)[0] == 0
    assert cli("sequence", "list", "Acme")[1].split("\t")[3].strip() == other
    code, out, _ = cli("settings", "Acme", "--default-project", SEED_PROJECT_NAMES[2])
    assert code == 0 and json.loads(out)["default_project_id"] == _project(
        sim, SEED_PROJECT_NAMES[2]
    )


@pytest.mark.parametrize(
    "args",
    [
        ("sequence", "add", "Acme", "VP Eng", "--project", "PROJECT_ID"),
        ("sequence", "add", "Acme", "VP Eng", "--project", "vp engineering"),  # not exact
        ("sequence", "set", "1", "--project", "PROJECT_ID"),
        ("settings", "Acme", "--default-project", "PROJECT_ID"),
        ("settings", "Acme", "--default-project", "00000000-0000-4000-8000-000000000000"),
    ],
)
def test_a_project_the_firm_does_not_have_is_refused_and_nothing_changes(  # type: ignore[no-untyped-def]
    connected, args: tuple[str, ...]
) -> None:
    cli = connected[0]
    if args[1] == "set":
        cli("sequence", "add", "Acme", "Existing")
    before = (cli("sequence", "list", "Acme")[1], cli("settings", "Acme")[1])
    code, out, err = cli(*args)
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert "has no project" in err and "Traceback" not in err
    assert (cli("sequence", "list", "Acme")[1], cli("settings", "Acme")[1]) == before


def test_a_project_on_an_unconnected_account_is_refused_with_the_reason(cli) -> None:  # type: ignore[no-untyped-def]
    cli("account", "add", "Quiet")
    code, out, err = cli("sequence", "add", "Quiet", "S", "--project", "PROJECT_ID")
    assert (code, out) == (2, "") and "connect Clockwork first" in err
    assert cli("sequence", "list", "Quiet")[1] == ""


@pytest.mark.parametrize(
    "command",
    [("settings",), ("sequence", "add"), ("sequence", "set"), ("resync-project",),
     ("backfill-activity",)],
)  # fmt: skip
def test_help_offers_no_doubled_negative_flags(cli, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(*command, "--help")
    assert code == 0 and "--no-no-" not in out
    assert not re.search(r"--(disable-sync|dry-run|include-before-connection) / --no-", out)
    if command == ("settings",):
        assert "--no-default-project" in out and "PROJECT" in out


def test_contact_import_says_what_it_imports_and_how_many(  # type: ignore[no-untyped-def]
    connected, tmp_path: Path
) -> None:
    cli = connected[0]
    cli("sequence", "add", "Acme", "VP Engineering")
    csv = tmp_path / "people.csv"
    csv.write_text(
        "email,first_name,last_name,title,company,linkedin_url\n"
        "a@example.com,A,One,,,\nb@example.com,B,Two,,,\nc@example.com,C,Three,,,\n"
    )
    code, out, err = cli("contact", "import", "1", str(csv))
    assert (code, out) == (0, "imported 3 of 3 rows\n")
    assert "importing 3 rows of people.csv into 'VP Engineering'" in err
    assert not re.search(r"^importing\s*$", err, re.MULTILINE)


def test_readme_block_names_a_seeded_project_not_a_placeholder() -> None:
    commands = readme_commands()
    sequence_add = next(c for c in commands if c.startswith("cwsync sequence add"))
    assert shlex.split(sequence_add)[-1] in SEED_PROJECT_NAMES
    assert any(c.startswith("cwsync sync") for c in commands)
