"""Bad input through the CLI: one clear line per problem on stderr, good rows imported, no crash.

Each test drives ``sync_engine.cli.main`` in-process, as ``tests/sync_engine/test_cli.py`` does,
on SQLite and PostgreSQL. CSV imports mix good rows with malformed emails, duplicates, short
and long rows, very long fields, unicode and right-to-left names and spreadsheet-formula-like
values; whole files arrive with missing columns, the wrong encoding or delimiter, or not at all;
settings and the environment get values out of range. The 50,000-row import runs as a process
with a deadline.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.cli import main
from sync_engine.cli.common import state
from sync_engine.db import Database
from sync_engine.models import Contact
from tests.factories import SIM_FIRM, connect_args

HEADER = "email,first_name,last_name,title,company,linkedin_url"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Run]:
    """``cli(*args)`` runs one command in-process: (exit code, stdout, stderr)."""
    monkeypatch.setenv("CWSYNC_DATABASE_URL", database_url)
    monkeypatch.setenv("CWSYNC_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("CWSYNC_DEFAULT_MAX_RPS", "500")
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        state.runtime = None
        try:
            with pytest.raises(SystemExit) as exit_info:
                main(list(args))
        finally:  # also when main() crashes: no pooled connection may outlive the test
            if state.runtime is not None:
                state.runtime.close()
        captured = capsys.readouterr()
        return int(exit_info.value.code or 0), captured.out, captured.err

    yield run
    state.runtime = None


@pytest.fixture
def sequence(cli: Run) -> str:
    """An account "Acme" (not connected) with one sequence; returns the sequence id."""
    assert cli("account", "add", "Acme")[0] == 0
    code, out, _ = cli("sequence", "add", "Acme", "Outreach")
    assert code == 0
    return out.strip()


def _csv(tmp_path: Path, name: str, rows: list[list[str]], header: str = HEADER) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _contacts(database_url: str) -> dict[str, Contact]:
    database = Database(database_url)
    try:
        with database.read() as session:
            return {c.email: c for c in session.exec(select(Contact)).all()}
    finally:
        database.dispose()


def _problem_lines(err: str) -> list[str]:
    """stderr without the import's progress label ("importing N rows of FILE into 'SEQUENCE'",
    printed once when stderr is no TTY)."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith("importing ")]


# --- rows ---------------------------------------------------------------------------------------

LONG = "x" * 201
UNICODE = ["zoe@example.com", "Zoë", "Ångström-Ünal", "Directrice générale", "Société Générale", ""]
CJK = ["yamada@example.jp", "太郎", "山田", "最高技術責任者", "株式会社テスト", ""]
HEBREW = ["david@example.co.il", "דוד", "כהן", "מנהל", "חברה בע״מ", ""]
ARABIC = ["mohammed@example.ae", "محمد", "العلي", "مدير تنفيذي", "شركة", ""]
BIDI = ["bidi@example.com", "\u202eevil\u202c", "Override", "", "", ""]
EMOJI = ["emoji@example.com", "Ana 🚀", "Lima", "", "", ""]
FORMULAS = ["=formula@example.com", "=SUM(A1:A9)", "+1-555-0100", "-2+3", "@SUM(1)", ""]
GOOD = [UNICODE, CJK, HEBREW, ARABIC, BIDI, EMOJI, FORMULAS]

BAD_EMAILS = [
    "no-at-sign.example.com",
    "two@@example.com",
    "@example.com",
    "user@",
    "user@example",
    "spa ce@example.com",
    "user@exa_mple.com",
    "",
    '=HYPERLINK("http://evil")',
    "+cmd|' /C calc'!A0",
]


def test_a_csv_of_mixed_rows_imports_every_good_row_and_names_each_bad_line(
    cli: Run, sequence: str, tmp_path: Path, database_url: str
) -> None:
    rows: list[list[str]] = [["ada@example.com", "Ada", "Lovelace", "CTO", "Engines", ""]]
    rows += GOOD
    rows += [[email, "Bad", "Email", "", "", ""] for email in BAD_EMAILS]
    rows += [
        ["ada@example.com", "Ada", "Again", "", "", ""],  # the same row again
        ["  ADA@Example.COM ", "Ada", "Case", "", "", ""],  # the same email, other spelling
        ["short@example.com", "Short"],  # missing trailing values: padded, imported
        ["extra@example.com", "Extra", "Values", "", "", "", "surplus"],  # one value too many
        ["long-name@example.com", LONG, "", "", "", ""],  # over 200 characters
        ["x" * 310 + "@example.com", "Long", "Email", "", "", ""],  # over 320 characters
        ["li@example.com", "Bad", "Link", "", "", "https://example.com/not-linkedin"],
        [],  # a blank line is skipped, not an error
    ]
    path = _csv(tmp_path, "mixed.csv", rows)
    code, out, err = cli("contact", "import", sequence, str(path))

    good = 1 + len(GOOD) + 1  # ada, the unicode rows, "short"
    bad = len(BAD_EMAILS) + 6
    assert code == 1 and "Traceback" not in err
    assert out == f"imported {good} of {good + bad} rows\n"
    problems = _problem_lines(err)
    assert len(problems) == bad and all(line.startswith("line ") for line in problems)
    by_line = {int(line.split(":")[0].removeprefix("line ")): line for line in problems}
    assert "invalid email 'no-at-sign.example.com'" in by_line[10]
    assert "already in this sequence" in by_line[10 + len(BAD_EMAILS)]
    assert "already in this sequence" in by_line[11 + len(BAD_EMAILS)]
    assert "7 values for 6 columns" in by_line[13 + len(BAD_EMAILS)]
    assert "first_name" in by_line[14 + len(BAD_EMAILS)]
    assert "linkedin" in by_line[16 + len(BAD_EMAILS)].lower()
    stored = _contacts(database_url)
    for email, first, last, title, company, _ in GOOD:
        contact = stored[email]
        assert (contact.first_name, contact.last_name, contact.title, contact.company) == (
            first,
            last,
            title,
            company,
        )  # fmt: skip  (stored exactly as given: no stripping of RTL text or leading "=")
    assert stored["ada@example.com"].last_name == "Lovelace"  # the duplicate changed nothing
    assert set(stored) == {row[0] for row in GOOD} | {"ada@example.com", "short@example.com"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "lacks the column(s) email"),
        (b"email,first_name\nz@example.com,Z\n", "lacks the column(s) last_name, title"),
        (HEADER.replace(",", ";").encode() + b"\ns@example.com;A;B;;;\n", "lacks the column(s)"),
        (
            HEADER.encode() + b"\njose@example.com,Jos\xe9,,,,\n",
            "is not UTF-8 text (bad byte on line 2)",
        ),
        ((HEADER + "\nu@example.com,U,,,,\n").encode("utf-16"), "is not UTF-8 text"),
    ],
    ids=["empty", "missing-columns", "semicolons", "latin-1", "utf-16"],
)
def test_a_file_that_cannot_be_imported_gets_one_line_and_imports_nothing(
    cli: Run, sequence: str, tmp_path: Path, database_url: str, content: bytes, message: str
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    code, out, err = cli("contact", "import", sequence, str(path))
    assert (code, out) == (2, "") and "Traceback" not in err
    (line,) = _problem_lines(err)
    assert line.startswith("cwsync: contacts.csv") and message in line
    assert _contacts(database_url) == {}


@pytest.mark.parametrize(
    ("target", "message"),
    [("missing.csv", "cannot read"), (".", "cannot read"), ("SEQUENCE", "no sequence 999")],
    ids=["no-such-file", "a-directory", "no-such-sequence"],
)
def test_an_import_aimed_at_nothing_gets_one_line(
    cli: Run, sequence: str, tmp_path: Path, target: str, message: str
) -> None:
    path = _csv(tmp_path, "ok.csv", [["ok@example.com", "Ok", "", "", "", ""]])
    args = ("999", str(path)) if target == "SEQUENCE" else (sequence, str(tmp_path / target))
    code, out, err = cli("contact", "import", *args)
    assert (code, out) == (2, "") and "Traceback" not in err
    (line,) = _problem_lines(err)
    assert message in line


def test_extra_and_reordered_columns_are_accepted(
    cli: Run, sequence: str, tmp_path: Path, database_url: str
) -> None:
    header = "Phone, EMAIL ,company,Last_Name,first_name,title,linkedin_url,notes"
    path = _csv(
        tmp_path,
        "crm-export.csv",
        [["+1 555", "crm@example.com", "Initech", "Bolton", "Michael", "Engineer", "", "n/a"]],
        header=header,
    )
    code, out, err = cli("contact", "import", sequence, str(path))
    assert (code, out, _problem_lines(err)) == (0, "imported 1 of 1 rows\n", [])
    contact = _contacts(database_url)["crm@example.com"]
    assert (contact.first_name, contact.last_name, contact.company) == (
        "Michael",
        "Bolton",
        "Initech",
    )


def test_a_field_longer_than_the_csv_module_allows_rejects_that_row_only(
    cli: Run, sequence: str, tmp_path: Path, database_url: str
) -> None:
    path = _csv(
        tmp_path,
        "huge.csv",
        [
            ["ok@example.com", "Ok", "", "", "", ""],
            ["huge@example.com", "y" * 200_000, "", "", "", ""],
        ],
    )
    code, out, err = cli("contact", "import", sequence, str(path))
    assert (code, out) == (1, "imported 1 of 2 rows\n") and "Traceback" not in err
    (line,) = _problem_lines(err)
    assert line.startswith("line 3:")
    assert set(_contacts(database_url)) == {"ok@example.com"}


def test_a_nul_byte_in_a_field_rejects_that_row_only(
    cli: Run, sequence: str, tmp_path: Path, database_url: str
) -> None:
    path = _csv(
        tmp_path,
        "nul.csv",
        [["ok@example.com", "Ok", "", "", "", ""], ["nul@example.com", "A\x00B", "", "", "", ""]],
    )
    try:
        code, out, err = cli("contact", "import", sequence, str(path))
    except Exception as exc:
        pytest.fail(f"crashed: {type(exc).__name__}")
    assert (code, out) == (1, "imported 1 of 2 rows\n") and "Traceback" not in err
    assert set(_contacts(database_url)) == {"ok@example.com"}


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--max-rps", "0"), "max_rps: Input should be greater than or equal to 0.1"),
        (("--max-rps", "-5"), "max_rps: Input should be greater than or equal to 0.1"),
        (("--max-rps", "1e-300"), "max_rps: Input should be greater than or equal to 0.1"),
        (("--max-rps", "1e9"), "max_rps: Input should be less than or equal to 1000"),
        (("--max-rps", "inf"), "max_rps"),
        (("--max-rps", "nan"), "max_rps"),
        (("--max-rps", "fast"), "Invalid value for '--max-rps'"),
        (("--mode", "sometimes"), "Invalid value for '--mode'"),
        (("--mode", ""), "Invalid value for '--mode'"),
        (("--default-project", "not a project id!"), "default_project_id"),
        (("--default-project", "p", "--no-default-project"), "not both"),
    ],
)
def test_out_of_range_settings_get_one_line_and_change_nothing(
    cli: Run, args: tuple[str, ...], message: str
) -> None:
    cli("account", "add", "Acme")
    before = cli("settings", "Acme")[1]
    code, out, err = cli("settings", "Acme", *args)
    assert (code, out) == (2, "") and "Traceback" not in err
    assert err.count("\n") == 1 and message in err
    assert cli("settings", "Acme")[1] == before


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CWSYNC_WORKERS", "0"),
        ("CWSYNC_MAX_ATTEMPTS", "many"),
        ("CWSYNC_DATABASE_URL", "mysql://x"),
    ],
)
def test_out_of_range_environment_settings_get_one_line(
    cli: Run, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    try:
        code, _out, err = cli("account", "list")
    except Exception as exc:
        pytest.fail(f"crashed: {type(exc).__name__}")
    assert code == 2 and err.count("\n") == 1 and variable.removeprefix("CWSYNC_").lower() in err


# --- good but unusual rows reach Clockwork intact ------------------------------------------------


def _connect(cli: Run, server: SimulatorServer) -> None:
    code, _, err = cli(*connect_args(server.base_url))
    assert code == 0, err


def test_unicode_rtl_and_formula_like_names_reach_clockwork_unchanged(
    cli: Run, sequence: str, tmp_path: Path, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    _connect(cli, sim_server)
    path = _csv(tmp_path, "intl.csv", GOOD)
    assert cli("contact", "import", sequence, str(path))[:2] == (
        0,
        f"imported {len(GOOD)} of {len(GOOD)} rows\n",
    )
    code, out, _ = cli("sync", "--until-idle", "--timeout", "30")
    assert code == 0 and json.loads(out)["synced"] == len(GOOD)
    people = {p["preferredEmailAddress"]: p for p in sim.snapshot(SIM_FIRM)["people"]}
    for email, first, last, title, company, _ in GOOD:
        person = people[email]
        assert (person["firstName"], person["lastName"], person["name"]) == (
            first,
            last,
            f"{first} {last}",
        )
        if title or company:
            (position,) = person["positions"]
            assert (position["title"], position["companyName"]) == (title, company)
    code, out, _ = cli("status", "Acme", "--json")
    assert {row["status"] for row in json.loads(out)} == {"synced"}


def test_a_linkedin_url_the_import_accepts_is_one_clockwork_accepts(
    cli: Run, sequence: str, tmp_path: Path, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    _connect(cli, sim_server)
    path = _csv(
        tmp_path, "li.csv", [["jane@example.com", "Jane", "Doe", "", "", "linkedin.com/in/jane"]]
    )
    code, _out, err = cli("contact", "import", sequence, str(path))
    assert code == 0, err  # without a scheme it is completed, not refused
    cli("sync", "--until-idle", "--timeout", "30")
    (row,) = json.loads(cli("status", "Acme", "--json")[1])
    assert row["status"] == "synced", row["last_error"]
    (person,) = sim.snapshot(SIM_FIRM)["people"]
    assert "https://linkedin.com/in/jane" in json.dumps(person)


# --- 50,000 rows --------------------------------------------------------------------------------

ROWS = 50_000
HANG_GUARD = 300.0  # a hang guard, not a speed target (the run prints its time; README quotes it)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fifty_thousand_rows_import_with_each_bad_row_reported_on_its_own_line(
    cli: Run, sequence: str, tmp_path: Path, database_url: str
) -> None:
    lines = [HEADER]
    for i in range(ROWS):
        email = f"person{i}@example.com" if i % 100 else f"broken{i}.example.com"
        lines.append(f"{email},First{i},Last{i},VP,Company {i % 977},https://linkedin.com/in/p{i}")
    path = tmp_path / "fifty-thousand.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "CWSYNC_DATABASE_URL": database_url}
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sync_engine", "contact", "import", sequence, str(path)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG_GUARD,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"{ROWS} rows not imported within {HANG_GUARD:.0f}s")
    seconds = time.monotonic() - started
    print(f"\nimported {ROWS} rows in {seconds:.1f}s")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout == f"imported {ROWS - ROWS // 100} of {ROWS} rows\n"
    assert len(_problem_lines(done.stderr)) == ROWS // 100


# --- issue 12, item 9: an unclosed quote, internationalised domains ---------------------------------


def test_an_unclosed_quote_is_reported_on_its_line_and_the_rows_after_it_are_imported(
    cli: Run, sequence: str, tmp_path: Path, database_url: str
) -> None:
    # The file of the report: seven rows, an unclosed quote on the second; it used to swallow the
    # next five rows and say "imported 1 of 2 rows".
    path = tmp_path / "quote.csv"
    rows = [f"row{n}@example.com,Row,{n},,," for n in range(1, 8)]
    rows[1] = 'row2@example.com,"Row,2,,,'
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = cli("contact", "import", sequence, str(path))
    assert (code, out) == (1, "imported 6 of 7 rows\n") and "Traceback" not in err
    (line,) = _problem_lines(err)
    assert line.startswith("line 3: ") and "unclosed quote" in line
    assert set(_contacts(database_url)) == {f"row{n}@example.com" for n in (1, 3, 4, 5, 6, 7)}


def test_an_internationalised_domain_in_either_spelling_is_one_contact(
    cli: Run, sequence: str, database_url: str
) -> None:
    code, _, err = cli("contact", "add", sequence, "--email", "user@bücher.de")
    assert code == 0, err
    code, out, err = cli("contact", "add", sequence, "--email", "user@xn--bcher-kva.de")
    assert (code, out) == (2, "") and "user@bücher.de is already in this sequence" in err
    assert set(_contacts(database_url)) == {"user@bücher.de"}
