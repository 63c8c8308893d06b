"""Reading a contacts CSV: any common encoding, one row per line, and why a line cannot be read.

A line that cannot be read becomes an :class:`UnreadableLine` reported against its line number;
the lines after it are still read (the import of SPEC §6 reports each bad row on its own line).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sync_engine.services.errors import InvalidInputError

CSV_COLUMNS = ("email", "first_name", "last_name", "title", "company", "linkedin_url")


@dataclass(frozen=True)
class UnreadableLine:
    """A CSV line the reader could not turn into a row, and why (reported against its line)."""

    reason: str


Row = dict[str, str] | UnreadableLine
"""One line of a contacts CSV: its values by column, or why it could not be read."""


def read_contacts_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, Row]], int]:
    """Open a contacts CSV: its header, an iterator of (line number, row), and the row count.

    Raises :class:`InvalidInputError` for an unreadable file, bytes that are not UTF-8, or a
    missing column, before any row is imported. Memory does not grow with the file: a first pass
    checks the encoding and counts lines a chunk at a time, and the iterator reads one line at a
    time. Each line is one row (no value may hold a line break): a quote left open is reported on
    its own line and never swallows the rows after it.
    """
    lines = _check_utf8(path)
    with _open_text(path) as text:
        first = next(_lines(text), (1, ""))[1]
    try:
        values = _values(first) if first is not None else None
    except csv.Error as exc:
        raise InvalidInputError(f"{path.name}: the header line is unreadable ({exc})") from None
    if values is None:
        raise InvalidInputError(
            f"{path.name}: the header line is unreadable (an unclosed quote, or over "
            f"{MAX_LINE_CHARS:,} characters)"
        )
    header = [name.strip().lower() for name in values]
    missing = [name for name in CSV_COLUMNS if name not in header]
    if missing:
        raise InvalidInputError(
            f"{path.name} lacks the column(s) {', '.join(missing)}; "
            f"expected header: {','.join(CSV_COLUMNS)}"
        )

    def rows() -> Iterator[tuple[int, Row]]:
        with _open_text(path) as text:
            for line, raw in _lines(text):
                if line == 1:
                    continue  # the header
                row = _row(raw, header)
                if row is not None:
                    yield line, row

    return header, rows(), max(lines - 1, 0)


MAX_LINE_CHARS = 1 << 20  # far beyond any contact row; a longer line is skipped unread
_CHUNK_BYTES = 1 << 18
_LINE_BREAKS = ("\n", "\r")
_UNCLOSED_QUOTE = 'an unclosed quote: a value opened with " does not close on this line'


def _check_utf8(path: Path) -> int:
    """The file's line count (a last line without a line break counts), once it is known to be
    UTF-8 throughout; read a chunk at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines, last = 0, b""
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(_CHUNK_BYTES):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:  # exc.object: this chunk after any held bytes
                    line = newlines + exc.object[: exc.start].count(b"\n") + 1
                    raise InvalidInputError(
                        f"{path.name} is not UTF-8 text (bad byte on line {line}); "
                        "save it as CSV UTF-8"
                    ) from None
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise InvalidInputError(
                    f"{path.name} is not UTF-8 text (its last character is cut short on line "
                    f"{newlines + 1}); save it as CSV UTF-8"
                ) from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from None
    return newlines + (1 if last not in (b"", b"\n") else 0)


def _open_text(path: Path) -> io.TextIOWrapper:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from None


def _lines(text: io.TextIOWrapper) -> Iterator[tuple[int, str | None]]:
    """(line number, line) for each line; None for a line over ``MAX_LINE_CHARS``, skipped
    without holding it."""
    number = 0
    while line := text.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith(_LINE_BREAKS):
            while (rest := text.readline(MAX_LINE_CHARS)) and not rest.endswith(_LINE_BREAKS):
                pass
            yield number, None
        else:
            yield number, line


def _values(line: str) -> list[str] | None:
    """The values of one CSV line, or None if a quoted value is still open at its end."""
    if not line.endswith(_LINE_BREAKS):
        line += "\n"  # so that an open quote shows as a line break inside the last value
    values = next(csv.reader((line,)), [])
    if values and values[-1].endswith(_LINE_BREAKS):
        return None
    return values


def _row(line: str | None, header: list[str]) -> Row | None:
    """One line as a row of the known columns, an :class:`UnreadableLine`, or None for a blank
    line."""
    if line is None:
        return UnreadableLine(f"the line is longer than {MAX_LINE_CHARS:,} characters")
    try:
        values = _values(line)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        return UnreadableLine(f"unreadable row: {exc}")
    if values is None:
        return UnreadableLine(_UNCLOSED_QUOTE)
    if not any(value.strip() for value in values):
        return None
    if len(values) > len(header):
        return UnreadableLine(f"{len(values)} values for {len(header)} columns")
    values += [""] * (len(header) - len(values))
    return {name: values[i] for i, name in enumerate(header) if name in CSV_COLUMNS}
