"""The ingest API's routes (FastAPI): ``/v1/accounts/{account}/...``.

Every write goes through :func:`_deliver`, in this order: the body is read up to the cap (413),
the caller is authenticated (401, the same answer whatever was wrong), rate-limited (429 with
``Retry-After``), a delivery already accepted under the same key is answered as it was, the body
is validated (422, or 400 for what is not JSON), and the work and the delivery's record commit in
one transaction. An unknown sequence or contact is a 404 that is not remembered: the platform's
retry, once the sequence or contact exists, succeeds. The API only writes the store; the engine
picks the work up at its next pass. Bad input never reaches a 500: anything unexpected is a bug,
logged with its traceback and answered 500 without detail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync_engine.ingest import adapters, service
from sync_engine.ingest.credentials import Caller, Verdict, authenticate, touch_token
from sync_engine.ingest.models import DeliveryOutcome
from sync_engine.ingest.ratelimit import RateLimiter, retry_after_header
from sync_engine.runtime import Runtime
from sync_engine.services.accounts import MAX_RECORD_ID
from sync_engine.services.errors import InvalidInputError, NotFoundError, invalid_input

logger = logging.getLogger(__name__)

API_VERSION = "v1"


@dataclass(frozen=True)
class IngestConfig:
    """Limits of the ingest API."""

    max_body_bytes: int = 1_048_576  # a batch of 1,000 contacts is ~250 KB
    rate_per_second: float = 100.0  # per token (or per account's signing secret)
    burst: int = 200
    prune_every_seconds: float = 60.0


# Ids are checked for range before a query sees them (SQLite refuses integers past 64 bits).
AccountId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID, description="The account's id")]
EnrollmentId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID)]


class ContactBatch(BaseModel):
    """Up to 1,000 contacts to add to one sequence."""

    contacts: list[dict[str, Any]] = Field(min_length=1, max_length=service.MAX_BATCH)


class EventBatch(BaseModel):
    """Up to 1,000 email events."""

    events: list[service.EventIn] = Field(min_length=1, max_length=service.MAX_BATCH)


class _Refused(Exception):
    """A request answered with a 4xx before or instead of its work."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


UNAUTHORIZED = "missing or invalid credentials"


@dataclass
class _Result:
    status: int
    answer: dict[str, Any]
    outcome: DeliveryOutcome = DeliveryOutcome.ACCEPTED
    items: int = 1


@dataclass
class IngestApp:
    """The state behind the routes: the runtime (store, key, clock), limits and the limiter."""

    runtime: Runtime
    config: IngestConfig = field(default_factory=IngestConfig)
    monotonic: Callable[[], float] = time.monotonic
    limiter: RateLimiter = field(init=False)
    _next_prune: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(
            self.config.rate_per_second, self.config.burst, clock=self.monotonic
        )

    # --- the steps of a delivery ------------------------------------------------------------

    async def read_body(self, request: Request) -> bytes:
        cap = self.config.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _Refused(413, "too_large", f"the body is over {cap:,} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise _Refused(413, "too_large", f"the body is over {cap:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def authenticate(
        self, request: Request, account_id: int, body: bytes, *, query_token: bool = False
    ) -> Verdict:
        authorization = request.headers.get("authorization")
        if query_token and not authorization and request.query_params.get("token"):
            authorization = f"Bearer {request.query_params['token']}"
        headers = (
            request.headers.get("webhook-id"),
            request.headers.get("webhook-timestamp"),
            request.headers.get("webhook-signature"),
        )
        with self.runtime.db.engine.connect() as connection:
            return authenticate(
                connection, account_id=account_id, authorization=authorization,
                webhook_headers=headers, body=body, box=self.runtime.box,
                now=self.runtime.clock(),
            )  # fmt: skip

    def throttle(self, caller: Caller) -> None:
        wait = self.limiter.acquire(caller.rate_key)
        if wait > 0:
            raise _Refused(
                429, "rate_limited",
                f"more than {self.config.rate_per_second:g} requests per second; retry later",
                {"Retry-After": retry_after_header(wait)},
            )  # fmt: skip

    def log_refusal(
        self, account_id: int, route: str, refusal: _Refused, token_id: int | None,
        reason: str | None = None,
    ) -> None:  # fmt: skip
        """Record a refused delivery for the Integrations page (an account that does not exist
        gets no record)."""
        delivery = service.Delivery(
            account_id=account_id, route=route, outcome=DeliveryOutcome.REJECTED,
            status_code=refusal.status, received_at=self.runtime.clock(), token_id=token_id,
            reason=reason or refusal.message,
        )  # fmt: skip
        try:
            with self.runtime.db.transaction() as connection:
                exists = connection.execute(
                    sa.text("SELECT 1 FROM account WHERE id = :id"), {"id": account_id}
                ).first()
                if exists:
                    service.record_delivery(connection, delivery)
        except sa.exc.SQLAlchemyError:
            logger.warning("could not record a refused ingest delivery", exc_info=True)

    def maybe_prune(self) -> None:
        now = self.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + self.config.prune_every_seconds
        try:
            with self.runtime.db.transaction() as connection:
                service.prune_deliveries(connection, now=self.runtime.clock())
        except sa.exc.SQLAlchemyError:
            logger.warning("could not prune old ingest deliveries", exc_info=True)

    def commit(
        self,
        *,
        caller: Caller,
        verdict: Verdict,
        route: str,
        key: str | None,
        work: Callable[[Session], _Result],
    ) -> tuple[_Result, bool]:
        """Do the work and record the delivery in one transaction; a key seen before gets its
        stored answer (True: replayed)."""
        now = self.runtime.clock()
        try:
            with self.runtime.db.write() as session:
                if key is not None:
                    stored = service.stored_answer(
                        session, account_id=caller.account_id, delivery_key=key
                    )
                    if stored is not None:
                        return _Result(stored[0], stored[1]), True
                result = work(session)
                service.record_delivery(
                    session,
                    service.Delivery(
                        account_id=caller.account_id, route=route, outcome=result.outcome,
                        status_code=result.status, received_at=now, delivery_key=key,
                        token_id=caller.token_id, items=result.items,
                        answer=result.answer if key is not None else None,
                    ),
                )  # fmt: skip
                if verdict.touch and caller.token_id is not None:
                    touch_token(session.connection(), token_id=caller.token_id, now=now)
        except sa.exc.IntegrityError:
            # The same key committed by a concurrent request: answer as it was answered.
            if key is not None:
                with self.runtime.db.read() as session:
                    stored = service.stored_answer(
                        session, account_id=caller.account_id, delivery_key=key
                    )
                if stored is not None:
                    return _Result(stored[0], stored[1]), True
            raise _Refused(
                409, "conflict", "a concurrent request changed the same records; retry"
            ) from None
        return result, False

    async def deliver(
        self,
        request: Request,
        account_id: int,
        route: str,
        parse: Callable[[Any], Any],
        work: Callable[[Session, Caller, Any], _Result],
        *,
        adapter: bool = False,
    ) -> Response:
        caller: Caller | None = None
        try:
            body = await self.read_body(request)
            verdict = await run_in_threadpool(
                self.authenticate, request, account_id, body, query_token=adapter
            )
            if verdict.caller is None:
                refusal = _Refused(401, "unauthorized", UNAUTHORIZED)
                await run_in_threadpool(
                    self.log_refusal, account_id, route, refusal, None,
                    f"unauthorized: {verdict.problem}",
                )  # fmt: skip
                return _error(401, refusal.code, refusal.message, {"WWW-Authenticate": "Bearer"})
            caller = verdict.caller
            self.throttle(caller)
            key = _delivery_key(request, caller, body, adapter=adapter)
            try:
                document = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise _Refused(400, "bad_json", "the body is not JSON") from None
            try:
                payload = parse(document)
            except ValidationError as exc:
                raise _Refused(422, "invalid", invalid_input(exc).args[0]) from None
            except InvalidInputError as exc:
                raise _Refused(422, "invalid", str(exc)) from None
            bound_caller = caller

            def run(session: Session) -> _Result:
                try:
                    return work(session, bound_caller, payload)
                except NotFoundError as exc:
                    raise _Refused(404, "not_found", str(exc)) from None
                except InvalidInputError as exc:
                    raise _Refused(422, "invalid", str(exc)) from None

            result, replayed = await run_in_threadpool(
                self.commit, caller=caller, verdict=verdict, route=route, key=key, work=run
            )
        except _Refused as refusal:
            if refusal.status != 429:  # a flood of 429s is not written to the store one by one
                await run_in_threadpool(
                    self.log_refusal, account_id, route, refusal,
                    caller.token_id if caller else None,
                )  # fmt: skip
            return _error(refusal.status, refusal.code, refusal.message, refusal.headers)
        except sa.exc.OperationalError:
            logger.warning("the store refused an ingest delivery", exc_info=True)
            return _error(
                503, "store_unavailable", "the store cannot take writes now; retry later",
                {"Retry-After": "5"},
            )  # fmt: skip
        await run_in_threadpool(self.maybe_prune)
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return JSONResponse(result.answer, result.status, headers=headers)

    async def read(
        self, request: Request, account_id: int, work: Callable[[Session], dict[str, Any]]
    ) -> Response:
        def run() -> Response:
            verdict = self.authenticate(request, account_id, b"")
            if verdict.caller is None:
                return _error(401, "unauthorized", UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
            self.throttle(verdict.caller)
            with self.runtime.db.read() as session:
                answer = work(session)
            if verdict.touch and verdict.caller.token_id is not None:
                with self.runtime.db.transaction() as connection:
                    touch_token(
                        connection, token_id=verdict.caller.token_id, now=self.runtime.clock()
                    )
            return JSONResponse(answer)

        try:
            return await run_in_threadpool(run)
        except _Refused as refusal:
            return _error(refusal.status, refusal.code, refusal.message, refusal.headers)
        except NotFoundError as exc:
            return _error(404, "not_found", str(exc))
        except sa.exc.OperationalError:
            logger.warning("the store refused an ingest read", exc_info=True)
            return _error(503, "store_unavailable", "the store cannot be read now; retry later")


def _delivery_key(request: Request, caller: Caller, body: bytes, *, adapter: bool) -> str | None:
    """What makes two requests the same delivery: the Standard Webhooks ``webhook-id`` (stable
    across a sender's retries), else ``Idempotency-Key``; for another platform's webhook without
    either, the body itself (its retries resend the same bytes)."""
    webhook_id = request.headers.get("webhook-id")
    idempotency_key = request.headers.get("idempotency-key")
    if caller.token_id is None and webhook_id:
        key = f"webhook:{webhook_id}"
    elif idempotency_key:
        key = f"key:{idempotency_key}"
    elif webhook_id:
        key = f"webhook:{webhook_id}"
    elif adapter:
        key = f"body:{hashlib.sha256(body).hexdigest()}"
    else:
        return None
    if len(key) > 200:
        raise _Refused(
            422, "invalid", "the delivery id (webhook-id or Idempotency-Key) is over 190 characters"
        )
    return key


def _actor(caller: Caller) -> str:
    return f"api:{caller.label}"


def _batch_result(results: list[service.ItemResult]) -> _Result:
    accepted = sum(1 for item in results if item.ok)
    answer = {
        "accepted": accepted,
        "rejected": len(results) - accepted,
        "items": [item.as_dict() for item in results],
    }
    if accepted == 0:
        raise _Refused(422, "invalid", _all_refused(results))
    outcome = DeliveryOutcome.ACCEPTED if accepted == len(results) else DeliveryOutcome.PARTIAL
    return _Result(200, answer, outcome, len(results))


def _all_refused(results: list[service.ItemResult]) -> str:
    first = results[0]
    more = f" (and {len(results) - 1} more refused)" if len(results) > 1 else ""
    return f"item {first.index}: {first.error}{more}"


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
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ingest = state
    base = f"/{API_VERSION}/accounts/{{account}}"

    @app.exception_handler(RequestValidationError)
    async def _invalid_path(_request: Request, exc: RequestValidationError) -> Response:
        error = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in error.get("loc", ())) or "request"
        return _error(422, "invalid", f"{where}: {error.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "no_such_route", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.put(
        f"{base}/sequences/{{ref}}",
        summary="Create or change a sequence (name, Disable Sync, project)",
        openapi_extra=_body(service.SequenceIn),
        responses=_responses("The sequence (201 when created)"),
    )
    async def upsert_sequence(account: AccountId, ref: str, request: Request) -> Response:
        def work(session: Session, caller: Caller, given: service.SequenceIn) -> _Result:
            sequence, created = service.upsert_sequence(
                session=session, account_id=caller.account_id, ref=ref, given=given,
                clock=runtime.clock, actor=_actor(caller),
            )  # fmt: skip
            answer = service.sequence_answer(sequence, ref) | {"created": created}
            return _Result(201 if created else 200, answer)

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

        def work(session: Session, caller: Caller, contact: dict[str, Any]) -> _Result:
            (item,) = service.add_contacts(
                session=session, account_id=caller.account_id, ref=ref, contacts=[contact],
                clock=runtime.clock,
            )  # fmt: skip
            if not item.ok:
                raise InvalidInputError(item.error or "the contact was refused")
            status = _enrollment_brief(session, item.enrollment_id)
            return _Result(
                201 if item.result == "added" else 200, {"result": item.result, **status}
            )

        return await state.deliver(request, account, f"POST sequences/{ref}/contacts", parse, work)

    @app.post(
        f"{base}/sequences/{{ref}}/contacts/batch",
        summary="Add up to 1,000 contacts to a sequence; results per item",
        openapi_extra=_body(ContactBatch),
        responses=_responses("Per-item results (422 when none was accepted)"),
    )
    async def add_contacts(account: AccountId, ref: str, request: Request) -> Response:
        def work(session: Session, caller: Caller, batch: ContactBatch) -> _Result:
            return _batch_result(
                service.add_contacts(
                    session=session,
                    account_id=caller.account_id,
                    ref=ref,
                    contacts=batch.contacts,
                    clock=runtime.clock,
                )
            )

        return await state.deliver(
            request, account, f"POST sequences/{ref}/contacts/batch", ContactBatch.model_validate,
            work,
        )  # fmt: skip

    @app.post(
        f"{base}/events",
        summary="Record one email event (sent, opened, clicked, replied, bounced)",
        openapi_extra=_body(service.EventIn),
        responses=_responses("The recorded activity (201)"),
    )
    async def record_event(account: AccountId, request: Request) -> Response:
        def work(session: Session, caller: Caller, event: service.EventIn) -> _Result:
            activity = service.record_one_event(
                session=session, account_id=caller.account_id, event=event, clock=runtime.clock
            )
            return _Result(
                201,
                {"result": "recorded", "activity_id": activity.id,
                 "enrollment_id": activity.enrollment_id, "state": activity.state},
            )  # fmt: skip

        return await state.deliver(
            request, account, "POST events", service.EventIn.model_validate, work
        )

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

        def work(session: Session, caller: Caller, items: list[service.EventIn | str]) -> _Result:
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
            return _error(404, "no_such_adapter", f"no adapter {platform[:40]!r} (known: {known})")

        def parse(document: Any) -> adapters.PlatformEvent:
            if not isinstance(document, dict):
                raise InvalidInputError("the body must be a JSON object")
            return adapter(document)

        def work(session: Session, caller: Caller, event: adapters.PlatformEvent) -> _Result:
            answer = service.apply_platform_event(
                session=session, account_id=caller.account_id, event=event, clock=runtime.clock,
                actor=_actor(caller),
            )  # fmt: skip
            return _Result(200, answer)

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
    return app


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
