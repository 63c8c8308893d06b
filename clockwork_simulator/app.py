"""The simulator as a Starlette ASGI app: the contract under ``/v3.0/{firm}/...`` and an admin
surface under ``/_admin/``.

Contract requests go straight to `Simulator.handle` (no thread-pool hop); this module only
carries out the fault it decides: latency and slow responses as ``asyncio.sleep``, a dropped
connection as a response cut off mid-body, and a dripped response through `drip` (served by
`SimulatorServer`, the whole response leaves one byte at a time). Every other path is rejected
loudly by the handler. Every response, admin ones included, carries a ``Date`` header from the
simulator's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clockwork_simulator.core import SimRequest, Simulator
from clockwork_simulator.drip import drip_this_response
from clockwork_simulator.faults import FaultConfig
from clockwork_simulator.person_page import (
    CONTENT_SECURITY_POLICY,
    PERSON_PAGE_PATH,
    not_found_page,
    person_page,
)
from clockwork_simulator.state import RecordInvalid, UnknownFirm, UnknownRecord

__all__ = ["create_app"]

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_Body = TypeVar("_Body", bound=BaseModel)


class _AdminBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _NewFirm(_AdminBody):
    name: str
    api_key: str
    api_secret: str
    firm_service_key: str
    seed_projects: bool = True


class _SeedPerson(_AdminBody):
    first_name: str
    last_name: str
    emails: list[str] = Field(default_factory=list)
    title: str | None = None
    company: str | None = None
    linkedin_urls: list[str] = Field(default_factory=list)


class _NewUser(_AdminBody):
    api_key: str
    api_secret: str


class _NewProject(_AdminBody):
    name: str
    status: str = "Active"


class _Key(_AdminBody):
    key: str


class _Reset(_AdminBody):
    keep_firms: bool = False


class _Merge(_AdminBody):
    into: str


class _DroppedResponse(Response):
    """Announces the full Content-Length, sends half the body, then lets the connection drop.

    Returning from the ASGI call with the response incomplete makes uvicorn close the socket,
    so the client sees a broken connection mid-body (httpx: `RemoteProtocolError`).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )


class _DrippedResponse(Response):
    """Sent one byte every ``interval`` seconds, status line and headers included (see `drip`)."""

    def __init__(self, *args: Any, interval: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.interval = interval

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        drip_this_response(self.interval)
        await super().__call__(scope, receive, send)


class _DateHeader:
    """Adds a ``Date`` header from the simulator's clock to every response that has none.

    Contract answers get theirs from `Simulator.handle` (so the mock transport has it too); this
    covers the admin surface and errors raised before a handler runs. uvicorn's own ``Date``
    (the machine's clock) is turned off by `server`.
    """

    def __init__(self, app: ASGIApp, simulator: Simulator) -> None:
        self._app = app
        self._simulator = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"date" for name, _ in headers):
                    headers.append((b"date", self._simulator.http_date().encode("latin-1")))
                    message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_date)


async def _sleep_unless_disconnected(request: Request, seconds: float) -> None:
    """Sleep, but stop early once the client has hung up (so shutdown never waits on it)."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), timeout=seconds)


def create_app(simulator: Simulator) -> ASGIApp:
    """The ASGI app serving ``simulator`` (its state and faults may be swapped at run time).

    Admin routes (JSON in and out, not counted, no faults)::

        GET  /_admin/health                    {"status": "ok"}
        GET  /_admin/firms                     {"firms": [name, ...]}
        POST /_admin/firms                     {name, api_key, api_secret, firm_service_key,
                                                seed_projects?} -> 201
        GET  /_admin/firms/{firm}/state        everything the firm holds (`snapshot`)
        GET  /_admin/firms/{firm}/stats        {"total", "routes": {"GET /people": n, ...}}
        POST /_admin/firms/{firm}/people       {first_name, last_name, emails?, title?,
                                                company?, linkedin_urls?} -> 201 {"person"}
        POST /_admin/firms/{firm}/projects     {name, status?} -> 201 {"project"}
        POST /_admin/firms/{firm}/users        {api_key, api_secret} -> 201 (another user's
                                                key pair, e.g. the key a customer rotated to)
        POST /_admin/reset                     {keep_firms?: false} -> 204
        GET  /_admin/firms/{firm}/answers      {"total", "statuses": {"200": n, "429": n, ...},
                                                "faults": {"drip": n, ...}, "ok",
                                                "first_request_at", "last_success_at"}
                                                (`SimulatorState.answer_counts`)
        GET  /_admin/faults                    the `FaultConfig` of firms without their own
        PUT  /_admin/faults                    a whole `FaultConfig` (omitted fields = default)
                                                for every firm; drops every firm's own config
        GET  /_admin/firms/{firm}/faults       the config in force for the firm, plus
                                                "own": true when it is the firm's own
        PUT  /_admin/firms/{firm}/faults       a whole `FaultConfig` for this firm only (omitted
                                                fields = default, not the global config's)
        DELETE /_admin/firms/{firm}/faults     the firm back on the global config -> 204
        GET  /_admin/faults/firms              {firm: its own `FaultConfig`, ...}
        POST /_admin/keys/revoke               {key} -> 204 (user API key or firm service key)
        POST /_admin/keys/restore              {key} -> 204

    Drift, what staff do in Clockwork behind the sync's back, for the verification to find::

        DELETE /_admin/firms/{firm}/people/{id}                      -> 204 (with its
                                                candidacies and notes)
        POST /_admin/firms/{firm}/people/{id}/merge  {into} -> 200 {"person": survivor} (the
                                                merged id then answers GET /people/{id} with it)
        DELETE /_admin/firms/{firm}/projects/{project}/candidacies/{person} -> 204
        DELETE /_admin/firms/{firm}/notes/{id}                       -> 204

    And one read-only HTML page, what "Open the person in Clockwork" shows in a demo (no
    credentials, not counted, no faults; every value escaped, see `person_page`)::

        GET  /people/{firm}/{person_id}        the person, its projects and notes (404 page)
    """

    async def contract(request: Request) -> Response:
        answer = simulator.handle(
            SimRequest(
                method=request.method,
                path=request.scope["path"],
                query=dict(request.query_params),
                headers=dict(request.headers),
                body=await request.body(),
            )
        )
        fault = answer.fault
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.slow:
            await _sleep_unless_disconnected(request, fault.slow)
        content, headers = answer.content(), dict(answer.headers)
        if fault.drip:
            return _DrippedResponse(
                content, answer.status, headers, "application/json", interval=fault.drip
            )
        response_type = _DroppedResponse if fault.drop else Response
        return response_type(content, answer.status, headers, "application/json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def list_firms(request: Request) -> Response:
        return JSONResponse({"firms": simulator.state.firms()})

    async def add_firm(request: Request) -> Response:
        body = await _parse(request, _NewFirm)
        try:
            simulator.state.add_firm(
                body.name,
                api_key=body.api_key,
                api_secret=body.api_secret,
                firm_service_key=body.firm_service_key,
                seed_projects=body.seed_projects,
            )
        except ValueError as exc:
            return _admin_error(422, str(exc))
        return JSONResponse({"firm": body.name}, status_code=201)

    async def firm_state(request: Request) -> Response:
        return JSONResponse(simulator.state.snapshot(request.path_params["firm"]))

    async def firm_stats(request: Request) -> Response:
        return JSONResponse(simulator.state.request_counts(request.path_params["firm"]))

    async def seed_person(request: Request) -> Response:
        body = await _parse(request, _SeedPerson)
        person = simulator.state.seed_person(
            request.path_params["firm"],
            first_name=body.first_name,
            last_name=body.last_name,
            emails=body.emails,
            title=body.title,
            company=body.company,
            linkedin_urls=body.linkedin_urls,
        )
        return JSONResponse({"person": person}, status_code=201)

    async def add_project(request: Request) -> Response:
        body = await _parse(request, _NewProject)
        try:
            project = simulator.state.add_project(
                request.path_params["firm"], body.name, status=body.status
            )
        except ValueError as exc:
            return _admin_error(422, str(exc))
        return JSONResponse({"project": project}, status_code=201)

    async def add_user(request: Request) -> Response:
        body = await _parse(request, _NewUser)
        try:
            simulator.state.add_user(
                request.path_params["firm"], api_key=body.api_key, api_secret=body.api_secret
            )
        except ValueError as exc:
            return _admin_error(422, str(exc))
        return JSONResponse({"firm": request.path_params["firm"]}, status_code=201)

    async def show_person(request: Request) -> Response:
        firm, person_id = request.path_params["firm"], request.path_params["person_id"]
        headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"}
        try:
            person = simulator.state.person_record(firm, person_id)
        except (UnknownFirm, UnknownRecord) as exc:
            return HTMLResponse(not_found_page(str(exc)), status_code=404, headers=headers)
        return HTMLResponse(person_page(firm, person), headers=headers)

    async def reset(request: Request) -> Response:
        body = await _parse(request, _Reset, allow_empty=True)
        simulator.state.reset(keep_firms=body.keep_firms)
        return Response(status_code=204)

    async def firm_answers(request: Request) -> Response:
        return JSONResponse(simulator.state.answer_counts(request.path_params["firm"]))

    async def get_faults(request: Request) -> Response:
        return JSONResponse(simulator.faults.config.model_dump(mode="json"))

    async def get_firms_faults(request: Request) -> Response:
        firms = simulator.faults.firm_configs()
        return JSONResponse(
            {firm: config.model_dump(mode="json") for firm, config in firms.items()}
        )

    async def put_faults(request: Request) -> Response:
        config = await _parse(request, FaultConfig)
        simulator.faults.configure(config)
        return JSONResponse(config.model_dump(mode="json"))

    def _known_firm(request: Request) -> str:
        firm: str = request.path_params["firm"]
        if not simulator.state.has_firm(firm):
            raise UnknownFirm(f"unknown firm: {firm}")
        return firm

    async def get_firm_faults(request: Request) -> Response:
        firm = _known_firm(request)
        own = simulator.faults.firm_config(firm)
        config = own or simulator.faults.config
        return JSONResponse({**config.model_dump(mode="json"), "own": own is not None})

    async def put_firm_faults(request: Request) -> Response:
        firm = _known_firm(request)
        config = await _parse(request, FaultConfig)
        simulator.faults.configure_firm(firm, config)
        return JSONResponse(config.model_dump(mode="json"))

    async def delete_firm_faults(request: Request) -> Response:
        simulator.faults.configure_firm(_known_firm(request), None)
        return Response(status_code=204)

    async def revoke_key(request: Request) -> Response:
        body = await _parse(request, _Key)
        try:
            simulator.state.revoke_key(body.key)
        except KeyError:
            return _admin_error(404, "unknown key")
        return Response(status_code=204)

    async def restore_key(request: Request) -> Response:
        body = await _parse(request, _Key)
        try:
            simulator.state.restore_key(body.key)
        except KeyError:
            return _admin_error(404, "unknown key")
        return Response(status_code=204)

    async def delete_person(request: Request) -> Response:
        params = request.path_params
        try:
            simulator.state.delete_person(params["firm"], params["person_id"])
        except UnknownRecord as exc:
            return _admin_error(404, str(exc))
        return Response(status_code=204)

    async def merge_person(request: Request) -> Response:
        body = await _parse(request, _Merge)
        params = request.path_params
        try:
            survivor = simulator.state.merge_person(
                params["firm"], params["person_id"], into=body.into
            )
        except UnknownRecord as exc:
            return _admin_error(404, str(exc))
        return JSONResponse({"person": survivor})

    async def remove_candidacy(request: Request) -> Response:
        params = request.path_params
        try:
            simulator.state.remove_candidacy(
                params["firm"], params["project_id"], params["person_id"]
            )
        except UnknownRecord as exc:
            return _admin_error(404, str(exc))
        return Response(status_code=204)

    async def delete_note(request: Request) -> Response:
        params = request.path_params
        try:
            simulator.state.delete_note(params["firm"], params["note_id"])
        except UnknownRecord as exc:
            return _admin_error(404, str(exc))
        return Response(status_code=204)

    admin = [
        Route("/health", health),
        Route("/firms", list_firms),
        Route("/firms", add_firm, methods=["POST"]),
        Route("/firms/{firm}/state", firm_state),
        Route("/firms/{firm}/stats", firm_stats),
        Route("/firms/{firm}/answers", firm_answers),
        Route("/firms/{firm}/faults", get_firm_faults),
        Route("/firms/{firm}/faults", put_firm_faults, methods=["PUT"]),
        Route("/firms/{firm}/faults", delete_firm_faults, methods=["DELETE"]),
        Route("/firms/{firm}/people", seed_person, methods=["POST"]),
        Route("/firms/{firm}/projects", add_project, methods=["POST"]),
        Route("/firms/{firm}/users", add_user, methods=["POST"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/faults", get_faults),
        Route("/faults", put_faults, methods=["PUT"]),
        Route("/faults/firms", get_firms_faults),
        Route("/keys/revoke", revoke_key, methods=["POST"]),
        Route("/keys/restore", restore_key, methods=["POST"]),
        Route("/firms/{firm}/people/{person_id}", delete_person, methods=["DELETE"]),
        Route("/firms/{firm}/people/{person_id}/merge", merge_person, methods=["POST"]),
        Route(
            "/firms/{firm}/projects/{project_id}/candidacies/{person_id}",
            remove_candidacy,
            methods=["DELETE"],
        ),
        Route("/firms/{firm}/notes/{note_id}", delete_note, methods=["DELETE"]),
    ]
    app = Starlette(
        routes=[
            Mount("/_admin", routes=admin),
            Route(PERSON_PAGE_PATH, show_person, methods=["GET", "HEAD"]),
            Route("/{path:path}", contract, methods=_ALL_METHODS),
        ],
        exception_handlers={
            UnknownFirm: _unknown_firm,
            RecordInvalid: _record_invalid,
            _BadAdminRequest: _bad_admin_request,
        },
    )
    return _DateHeader(app, simulator)


class _BadAdminRequest(Exception):
    def __init__(self, errors: Any) -> None:
        super().__init__("invalid admin request")
        self.errors = errors


async def _parse(request: Request, model: type[_Body], *, allow_empty: bool = False) -> _Body:
    raw = await request.body()
    if not raw.strip() and allow_empty:
        return model()
    try:
        # Text, not bytes: on invalid JSON the error echoes its input, and bytes are not JSON.
        return model.model_validate_json(raw.decode("utf-8", "replace"))
    except ValidationError as exc:
        raise _BadAdminRequest(exc.errors(include_url=False, include_context=False)) from None


def _admin_error(status: int, message: str, errors: Any = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


async def _unknown_firm(request: Request, exc: Exception) -> Response:
    return _admin_error(404, str(exc))


async def _record_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RecordInvalid)
    return _admin_error(422, str(exc), {exc.field: [exc.message]})


async def _bad_admin_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _BadAdminRequest)
    return _admin_error(422, "invalid admin request", exc.errors)
