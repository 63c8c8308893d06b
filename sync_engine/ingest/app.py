"""The ingest API's routes (FastAPI): ``/v1/accounts/{account}/...`` and the OpenAPI document.

Each write route is a parser and a piece of work handed to :meth:`IngestApp.deliver`
(:mod:`sync_engine.ingest.delivery`: body cap, authentication, rate limit, idempotency, one
transaction); the work itself is :mod:`sync_engine.ingest.service`. An unknown sequence or
contact is a 404 that is not remembered: the platform's retry, once the sequence or contact
exists, succeeds. The API only writes the store; the engine picks the work up at its next pass.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from sync_engine.ingest import adapters, docs_page, event_batch, service
from sync_engine.ingest.credentials import Caller
from sync_engine.ingest.delivery import (
    IngestApp,
    IngestConfig,
    Refused,
    Result,
    Together,
    error_response,
)
from sync_engine.ingest.models import DeliveryOutcome
from sync_engine.runtime import Runtime
from sync_engine.services.accounts import MAX_RECORD_ID
from sync_engine.services.errors import InvalidInputError, invalid_input
from sync_engine.services.events import RecordedEvent

__all__ = ["IngestConfig", "create_app"]

API_VERSION = "v1"


# Ids are checked for range before a query sees them (SQLite refuses integers past 64 bits).
AccountId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID, description="The account's id")]
EnrollmentId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID)]


class ContactBatch(BaseModel):
    """Up to 1,000 contacts to add to one sequence."""

    contacts: list[Any] = Field(min_length=1, max_length=service.MAX_BATCH)


class EventBatch(BaseModel):
    """Up to 1,000 email events."""

    events: list[service.EventIn] = Field(min_length=1, max_length=service.MAX_BATCH)


def _actor(caller: Caller) -> str:
    return f"api:{caller.label}"


def _batch_result(results: list[service.ItemResult]) -> Result:
    accepted = sum(1 for item in results if item.ok)
    answer = {
        "accepted": accepted,
        "rejected": len(results) - accepted,
        "items": [item.as_dict() for item in results],
    }
    if accepted == 0:
        raise Refused(422, "invalid", _all_refused(results))
    outcome = DeliveryOutcome.ACCEPTED if accepted == len(results) else DeliveryOutcome.PARTIAL
    return Result(200, answer, outcome, len(results))


def _all_refused(results: list[service.ItemResult]) -> str:
    first = results[0]
    more = f" (and {len(results) - 1} more refused)" if len(results) > 1 else ""
    return f"item {first.index}: {first.error}{more}"


def event_work(
    clock: Callable[[], datetime],
) -> tuple[Callable[[Session, Caller, service.EventIn], Result], Together]:
    """The work of ``POST …/events``: one event alone, and the events of a group together."""

    def answer(activity: RecordedEvent) -> Result:
        return Result(
            201,
            {"result": "recorded", "activity_id": activity.id,
             "enrollment_id": activity.enrollment_id, "state": activity.state},
        )  # fmt: skip

    def one(session: Session, caller: Caller, event: service.EventIn) -> Result:
        return answer(
            service.record_one_event(
                session=session, account_id=caller.account_id, event=event, clock=clock
            )
        )

    def several(
        session: Session, items: list[tuple[Caller, service.EventIn]]
    ) -> list[Result | Exception]:
        recorded = event_batch.record_together(
            session=session, events=[(caller.account_id, event) for caller, event in items],
            clock=clock,
        )  # fmt: skip
        return [answer(r) if isinstance(r, RecordedEvent) else r for r in recorded]

    return one, Together(event_batch.batchable, several)


def create_app(runtime: Runtime, config: IngestConfig | None = None) -> FastAPI:
    """The ingest API over ``runtime``'s store."""
    state = IngestApp(runtime, config or IngestConfig())
    app = FastAPI(
        title="Clockwork Sync ingest API",
        version="1.0.0",
        description=(
            "Sequences, contacts and email events from the outreach platform. Authenticate "
            "with `Authorization: Bearer <token>` (cwsync token create) or sign each request "
            "the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature; "
            "cwsync token secret). Send `Idempotency-Key` (or webhook-id) so a retry is "
            "recorded once and answered the same."
        ),
        docs_url=None,  # Swagger UI loads from a CDN: /docs is docs_page, served offline
        redoc_url=None,
    )
    app.state.ingest = state
    base = f"/{API_VERSION}/accounts/{{account}}"

    @app.exception_handler(RequestValidationError)
    async def _invalid_path(_request: Request, exc: RequestValidationError) -> Response:
        error = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in error.get("loc", ())) or "request"
        return error_response(422, "invalid", f"{where}: {error.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def _httperror_response(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "no_such_route", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.put(
        f"{base}/sequences/{{ref}}",
        summary="Create or change a sequence (name, Disable Sync, project)",
        openapi_extra=_body(service.SequenceIn),
        responses=_responses("The sequence (201 when created)"),
    )
    async def upsert_sequence(account: AccountId, ref: str, request: Request) -> Response:
        def work(session: Session, caller: Caller, given: service.SequenceIn) -> Result:
            sequence, created = service.upsert_sequence(
                session=session, account_id=caller.account_id, ref=ref, given=given,
                clock=runtime.clock, actor=_actor(caller),
            )  # fmt: skip
            answer = service.sequence_answer(sequence, ref) | {"created": created}
            return Result(201 if created else 200, answer)

        return await state.deliver(
            request, account, f"PUT sequences/{ref}", service.SequenceIn.model_validate, work
        )

    @app.post(
        f"{base}/sequences/{{ref}}/contacts",
        summary="Add one contact to a sequence (the add trigger)",
        openapi_extra=_body(service.ContactIn),
        responses=_responses("The enrollment (201 when added, 200 when already there)"),
    )
    async def add_contact(account: AccountId, ref: str, request: Request) -> Response:
        def parse(document: Any) -> dict[str, Any]:
            if not isinstance(document, dict):
                raise InvalidInputError("the body must be a JSON object (one contact)")
            return document

        def work(session: Session, caller: Caller, contact: dict[str, Any]) -> Result:
            (item,) = service.add_contacts(
                session=session, account_id=caller.account_id, ref=ref, contacts=[contact],
            )  # fmt: skip
            if not item.ok:
                raise InvalidInputError(item.error or "the contact was refused")
            status = _enrollment_brief(session, item.enrollment_id)
            return Result(201 if item.result == "added" else 200, {"result": item.result, **status})

        return await state.deliver(request, account, f"POST sequences/{ref}/contacts", parse, work)

    @app.post(
        f"{base}/sequences/{{ref}}/contacts/batch",
        summary="Add up to 1,000 contacts to a sequence; results per item",
        openapi_extra=_body(ContactBatch),
        responses=_responses("Per-item results (422 when none was accepted)"),
    )
    async def add_contacts(account: AccountId, ref: str, request: Request) -> Response:
        def work(session: Session, caller: Caller, batch: ContactBatch) -> Result:
            return _batch_result(
                service.add_contacts(
                    session=session,
                    account_id=caller.account_id,
                    ref=ref,
                    contacts=batch.contacts,
                )
            )

        return await state.deliver(
            request, account, f"POST sequences/{ref}/contacts/batch", ContactBatch.model_validate,
            work,
        )  # fmt: skip

    record_one, events_together = event_work(runtime.clock)

    @app.post(
        f"{base}/events",
        summary="Record one email event (sent, opened, clicked, replied, bounced)",
        openapi_extra=_body(service.EventIn),
        responses=_responses("The recorded activity (201)"),
    )
    async def record_event(account: AccountId, request: Request) -> Response:
        return await state.deliver(
            request, account, "POST events", service.EventIn.model_validate, record_one,
            grouped=True, together=events_together,
        )  # fmt: skip

    @app.post(
        f"{base}/events/batch",
        summary="Record up to 1,000 email events; results per item",
        openapi_extra=_body(EventBatch),
        responses=_responses("Per-item results (422 when none was accepted)"),
    )
    async def record_events(account: AccountId, request: Request) -> Response:
        def parse(document: Any) -> list[service.EventIn | str]:
            # Items are validated one by one so a malformed item is refused alone.
            if not isinstance(document, dict) or not isinstance(document.get("events"), list):
                raise InvalidInputError('the body must be {"events": [...]}')
            items = document["events"]
            if not 1 <= len(items) <= service.MAX_BATCH:
                raise InvalidInputError(
                    f"events: 1 to {service.MAX_BATCH} items ({len(items)} given)"
                )
            parsed: list[service.EventIn | str] = []
            for item in items:
                try:
                    parsed.append(service.EventIn.model_validate(item))
                except ValidationError as exc:
                    parsed.append(invalid_input(exc).args[0])
            return parsed

        def work(session: Session, caller: Caller, items: list[service.EventIn | str]) -> Result:
            valid = [item for item in items if isinstance(item, service.EventIn)]
            recorded = iter(
                service.record_events(
                    session=session,
                    account_id=caller.account_id,
                    events=valid,
                    clock=runtime.clock,
                )
            )
            results = []
            for index, item in enumerate(items):
                if isinstance(item, str):
                    results.append(service.ItemResult(index, False, "rejected", error=item))
                else:
                    done = next(recorded)
                    results.append(
                        service.ItemResult(index, done.ok, done.result, done.enrollment_id,
                                           done.activity_id, done.error)
                    )  # fmt: skip
            return _batch_result(results)

        # Not grouped: a batch is a group already, and a group of batches would hold every one
        # of them until the last is done (seconds, for 64 batches of 1,000).
        return await state.deliver(request, account, "POST events/batch", parse, work)

    @app.post(
        f"{base}/adapters/{{platform}}",
        summary="An Instantly or Smartlead webhook delivery, as the platform sends it",
        openapi_extra=_body_any("The platform's own webhook payload"),
        responses=_responses("What was recorded (or ignored)"),
    )
    async def platform_webhook(account: AccountId, platform: str, request: Request) -> Response:
        adapter = adapters.ADAPTERS.get(platform)
        if adapter is None:
            known = ", ".join(sorted(adapters.ADAPTERS))
            return error_response(
                404, "no_such_adapter", f"no adapter {platform[:40]!r} (known: {known})"
            )

        def parse(document: Any) -> adapters.PlatformEvent:
            if not isinstance(document, dict):
                raise InvalidInputError("the body must be a JSON object")
            return adapter(document)

        def work(session: Session, caller: Caller, event: adapters.PlatformEvent) -> Result:
            answer = service.apply_platform_event(
                session=session, account_id=caller.account_id, event=event, clock=runtime.clock,
                actor=_actor(caller),
            )  # fmt: skip
            return Result(200, answer)

        return await state.deliver(
            request, account, f"POST adapters/{platform}", parse, work, adapter=True
        )

    @app.get(
        f"{base}/enrollments/{{enrollment_id}}",
        summary="An enrollment's sync status",
        responses=_responses("The enrollment's status", body=False),
    )
    async def enrollment_status(
        account: AccountId, enrollment_id: EnrollmentId, request: Request
    ) -> Response:
        return await state.read(
            request, account,
            lambda session: service.enrollment_status(
                session=session, account_id=account, enrollment_id=enrollment_id
            ),
        )  # fmt: skip

    @app.get(
        f"{base}/sequences/{{ref}}/contacts/{{email}}",
        summary="The sync status of a contact in a sequence",
        responses=_responses("The enrollment's status", body=False),
    )
    async def contact_status(
        account: AccountId, ref: str, email: str, request: Request
    ) -> Response:
        def work(session: Session) -> dict[str, Any]:
            enrollment_id = service.find_enrollment(
                session=session, account_id=account, sequence_ref=ref, email=email,
                enrollment_id=None,
            )  # fmt: skip
            return service.enrollment_status(
                session=session, account_id=account, enrollment_id=enrollment_id
            )

        return await state.read(request, account, work)

    app.add_middleware(
        EventRoutesFirst, handlers={"events": record_event, "events/batch": record_events}
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (service.SequenceIn, service.ContactIn, ContactBatch, service.EventIn,
                          EventBatch, ErrorBody):  # fmt: skip
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            document["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "standardWebhooks": {
                    "type": "apiKey", "in": "header", "name": "webhook-signature",
                    "description": "v1,<base64 HMAC-SHA256 of '{webhook-id}.{webhook-timestamp}."
                    "{body}'> with the account's whsec_ secret; timestamps older than 5 minutes "
                    "are refused",
                },
            }  # fmt: skip
            document["security"] = [{"bearer": []}, {"standardWebhooks": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def reference() -> Response:
        if getattr(app.state, "docs_page", None) is None:
            app.state.docs_page = docs_page.render(app.openapi())
        return HTMLResponse(
            app.state.docs_page,
            headers={"Content-Security-Policy": docs_page.CONTENT_SECURITY_POLICY},
        )

    return app


_EVENT_ROUTES = re.compile(rf"/{API_VERSION}/accounts/([1-9][0-9]{{0,18}})/(events|events/batch)")
EventHandler = Callable[[int, Request], Awaitable[Response]]


class EventRoutesFirst:
    """ASGI middleware: ``POST …/events`` and ``…/events/batch`` go straight to their handlers,
    past FastAPI's router, dependency solving and exception layers, which took more of the
    server's CPU per event than the store work. The handlers are the routes' own; an account id
    that FastAPI would refuse (out of range, ``01``) and every other request go through FastAPI
    as usual, so answers are the same either way."""

    def __init__(self, app: ASGIApp, handlers: dict[str, EventHandler]) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            match = _EVENT_ROUTES.fullmatch(path[len(root) :] if path.startswith(root) else path)
            if match and int(match[1]) <= MAX_RECORD_ID:
                handler = self.handlers[match[2]]
                response = await handler(int(match[1]), Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ErrorBody(BaseModel):
    """Every refusal: ``{"error": {"code": ..., "message": ...}}``."""

    error: dict[str, str]


def _body(model: type[BaseModel]) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": reference}}}
    }


def _body_any(description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }


def _responses(success: str, *, body: bool = True) -> dict[int | str, dict[str, Any]]:
    error = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    }
    answers: dict[int | str, dict[str, Any]] = {
        200: {"description": success},
        401: {"description": "Missing or invalid credentials", **error},
        404: {"description": "No such sequence, contact or enrollment in this account", **error},
        422: {"description": "Invalid input, with the first problem", **error},
        429: {"description": "Rate limited; see Retry-After", **error},
    }
    if body:
        answers[400] = {"description": "The body is not JSON", **error}
        answers[413] = {"description": "The body is over the size cap", **error}
    return answers


def _enrollment_brief(session: Session, enrollment_id: int | None) -> dict[str, Any]:
    from sync_engine.models import Enrollment

    enrollment = session.get(Enrollment, enrollment_id) if enrollment_id else None
    if enrollment is None:
        return {"enrollment_id": enrollment_id}
    return {
        "enrollment_id": enrollment.id,
        "status": enrollment.status,
        "reason": enrollment.reason,
        "added_at": enrollment.added_at.isoformat()
        if isinstance(enrollment.added_at, datetime)
        else None,
    }
