"""What a firm's lane is built from, read for many firms at once, and the mark of a firm whose
stored connection cannot be used.

A pass reads each firm's connection row, told limit and (for a firm new to the engine) the pace
another engine learned for it once; one read serves many firms (one per firm cost 60 reads before
the first claim for 60 firms). A store that fails the read is the store's trouble, not the
firms': nothing is marked, and the firms are read again at the next look.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import col, select

from sync_engine.connections import mark_needs_attention
from sync_engine.crypto import SecretKeyError
from sync_engine.db import Database
from sync_engine.engine.paces import recall_many
from sync_engine.models import AccountSettings, ClockworkConnection

log = logging.getLogger(__name__)


class LaneRow(NamedTuple):
    """What a firm's lane is built from, read once per pass."""

    connection: ClockworkConnection | None  # None: never connected (or the account is gone)
    max_rps: float | None  # the told limit (None: adaptive)
    learned: tuple[float, float] | None  # another engine's pace, for a lane new here


def read_lane_rows(
    db: Database, account_ids: list[int], *, known: Container[int]
) -> dict[int, LaneRow | Exception]:
    """Each firm's :class:`LaneRow`, in one read; the learned pace only for firms not in
    ``known`` (those with a lane already keep theirs). When the store fails (a dropped
    connection, a restart) nothing is returned. Any other error (a row this version cannot load)
    is looked at firm by firm, so it stays the one firm's: that firm maps to its error."""
    try:
        with db.read() as session:
            rows = session.exec(
                select(ClockworkConnection).where(
                    col(ClockworkConnection.account_id).in_(account_ids)
                )
            ).all()
            told = dict(
                session.exec(
                    select(AccountSettings.account_id, AccountSettings.max_rps).where(
                        col(AccountSettings.account_id).in_(account_ids)
                    )
                ).all()
            )
            new = [a for a in account_ids if a not in known and told.get(a) is None]
            learned = recall_many(session, new)
    except (sa.exc.DBAPIError, sa.exc.DisconnectionError) as exc:
        log.warning("could not read %d firms' connections: %s", len(account_ids), exc)
        return {}
    except Exception as exc:
        if len(account_ids) == 1:
            return {account_ids[0]: exc}
        return {
            a: v for one in account_ids for a, v in read_lane_rows(db, [one], known=known).items()
        }
    by_account = {row.account_id: row for row in rows}
    return {a: LaneRow(by_account.get(a), told.get(a), learned.get(a)) for a in account_ids}


def mark_unusable(db: Database, account_id: int, error: Exception, *, key_file: Path) -> None:
    """Mark the account's connection *needs attention*, saying why in staff's words."""
    if isinstance(error, SecretKeyError):
        message = (
            "The stored Clockwork credentials cannot be read with this store's encryption key "
            f"(key file {key_file}, or CWSYNC_ENCRYPTION_KEY): re-enter the credentials"
        )
    else:  # a stored value this version no longer accepts (e.g. a base URL)
        reason = getattr(error, "orig", None) or error  # the cause, not a statement's text
        message = f"The stored connection cannot be used ({reason}): reconnect Clockwork"
    try:
        with db.write() as session:
            mark_needs_attention(session=session, account_id=account_id, error=message)
    except Exception:
        log.exception("account %s: could not mark the connection", account_id)
