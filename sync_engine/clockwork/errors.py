"""Domain errors raised by the Clockwork client: what went wrong, and whether a retry can help.

The engine decides "retry later" or "fail now" from the class alone; the client maps HTTP
statuses and httpx exceptions onto this tree at a single boundary (``ClockworkClient._send``)::

    ClockworkError
    ├── ClockworkTransientError          retry with backoff
    │   ├── ClockworkRateLimited         429, and 503 with a usable Retry-After (.retry_after)
    │   ├── ClockworkServerError         other 5xx
    │   ├── ClockworkConflict            409
    │   └── ClockworkNetworkError        connect/read errors, dropped connections
    │       └── ClockworkTimeout         no whole answer within the request's deadline, or 408
    │           └── ClockworkCancelled   the caller's own stop time came first (not Clockwork's fault)
    └── ClockworkPermanentError          do not retry
        ├── ClockworkAuthError           401/403: the connection needs attention
        ├── ClockworkNotFound            404: unknown firm, person or project
        ├── ClockworkValidationError     422 and other 4xx, with the API's message (.field_errors)
        └── ClockworkUnexpectedResponse  an answer the contract does not describe (3xx, bad JSON)

Every error carries ``status`` (None when no response arrived), a short ``message`` safe to show
and log (never a credential), and the ``method`` and ``path_template`` of the request.
"""

from __future__ import annotations

from collections.abc import Mapping


class ClockworkError(Exception):
    """Base of every error the Clockwork client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path_template: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path_template = path_template

    def __str__(self) -> str:
        request = f"{self.method} {self.path_template}" if self.method else "Clockwork request"
        answer = f"HTTP {self.status}" if self.status is not None else "no response"
        return f"{request} -> {answer}: {self.message}"


class ClockworkTransientError(ClockworkError):
    """The request may succeed later: retry with backoff."""


class ClockworkRateLimited(ClockworkTransientError):
    """Clockwork asked us to slow down (429, or 503 with Retry-After).

    ``retry_after`` is the delay in seconds Clockwork asked for, clamped to [0, 3600], or None
    when it gave none.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        method: str | None = None,
        path_template: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path_template=path_template)
        self.retry_after = retry_after


class ClockworkServerError(ClockworkTransientError):
    """Clockwork failed on its side (5xx)."""


class ClockworkConflict(ClockworkTransientError):
    """Clockwork reported a conflicting concurrent change (409); retrying later may succeed."""


class ClockworkNetworkError(ClockworkTransientError):
    """No complete HTTP answer: connection refused or dropped, protocol or read error."""


class ClockworkTimeout(ClockworkNetworkError):
    """No whole answer within the request's overall deadline (or Clockwork answered 408)."""


class ClockworkCancelled(ClockworkTimeout):
    """The request was cut (or never sent) because the caller's stop time came first.

    Not a failure of Clockwork: the engine puts the work back without counting an attempt.
    """


class ClockworkPermanentError(ClockworkError):
    """Retrying the same request will not help."""


class ClockworkAuthError(ClockworkPermanentError):
    """Credentials rejected (401/403): the connection needs attention."""


class ClockworkNotFound(ClockworkPermanentError):
    """Unknown firm, person or project (404)."""


class ClockworkValidationError(ClockworkPermanentError):
    """Clockwork refused the request as invalid (422 and other 4xx).

    ``field_errors`` maps a field name to its messages, as the API's ``errors`` object gave them.
    """

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, list[str]] | None = None,
        status: int | None = None,
        method: str | None = None,
        path_template: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path_template=path_template)
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})


class ClockworkUnexpectedResponse(ClockworkPermanentError):
    """Clockwork answered something the contract does not describe (a redirect, a body that is
    not the expected JSON); a contract mismatch to investigate, not to retry."""
