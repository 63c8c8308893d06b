"""The firm's Clockwork projects, as staff pick them: listed over HTTP (outside any transaction)
and a project named by id or by its exact name resolved to the firm's project, or refused.

The CLI (``cwsync projects``, ``--project``, ``--default-project``) and the dashboard's pickers
both go through here, so a project that is set is always one the firm has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync_engine.clockwork.errors import ClockworkError
from sync_engine.connections import connection_credentials
from sync_engine.services.errors import ConnectionRejectedError, InvalidInputError

if TYPE_CHECKING:
    from sync_engine.runtime import Runtime

__all__ = ["ProjectChoice", "firm_projects", "resolve_project"]


@dataclass(frozen=True)
class ProjectChoice:
    """A Clockwork project staff can pick."""

    project_id: str
    name: str
    status: str


def firm_projects(runtime: Runtime, *, account_id: int) -> list[ProjectChoice]:
    """The projects of the account's Clockwork firm, by name; raises if it is not connected."""
    with runtime.db.read() as session:
        credentials = connection_credentials(
            session=session, box=runtime.box, account_id=account_id
        )
    if credentials is None:
        raise ConnectionRejectedError("connect Clockwork first to choose from its projects")
    try:
        with runtime.client(credentials) as client:
            projects = list(client.iter_projects())
    except ClockworkError as exc:
        raise ConnectionRejectedError(f"could not list Clockwork projects: {exc}") from None
    choices = [
        ProjectChoice(
            project_id=str(p["id"]),
            name=str(p.get("name") or p["id"]),
            status=str(p.get("status") or ""),
        )
        for p in projects
    ]
    return sorted(choices, key=lambda choice: choice.name.lower())


def resolve_project(
    runtime: Runtime, *, account_id: int, ref: str, field: str = "project"
) -> ProjectChoice:
    """The firm's project whose id is ``ref``, else the one whose name is exactly ``ref``
    (surrounding spaces ignored).

    Raises `InvalidInputError` naming ``field`` when the firm has no such project, or several
    of that name (then its id must be given), and when the account is not connected (a project
    can only be checked against the firm's own).
    """
    wanted = ref.strip()
    if not wanted:
        raise InvalidInputError(f"{field}: give a project id or name")
    try:
        choices = firm_projects(runtime, account_id=account_id)
    except ConnectionRejectedError as exc:
        raise InvalidInputError(f"{field}: cannot check the project {wanted!r}: {exc}") from None
    for choice in choices:
        if choice.project_id == wanted:
            return choice
    named = [choice for choice in choices if choice.name == wanted]
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(choice.project_id for choice in named)
        raise InvalidInputError(
            f"{field}: {len(named)} Clockwork projects are named {wanted!r}; give one's id ({ids})"
        )
    raise InvalidInputError(
        f"{field}: the Clockwork firm has no project {wanted!r} (by id or exact name)"
    )
