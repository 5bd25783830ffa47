"""Errors of Signet's HTTP APIs, typed by status.

Every error Signet answers is JSON, ``{"error": {"code": …, "message": …}}``,
with ``field`` on the 400s of the APIs (the request field at fault, or
``body``). :func:`error_from_response` turns such an answer into the
exception for its status.
"""

from __future__ import annotations

import json
from typing import Dict, Mapping, Optional, Type

__all__ = [
    "APIError",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "SignetError",
    "Unauthorized",
    "Unavailable",
    "error_from_response",
]


class SignetError(Exception):
    """An error answer of Signet's API (or, for :class:`ConnectionFailed`,
    no answer at all).

    :ivar status: the HTTP status (0 when there was no answer).
    :ivar code: the stable error code, such as ``unauthorized`` or
        ``bad_request`` (``""`` if the body had none).
    :ivar message: the human-readable explanation; never a key value.
    :ivar field: on a 400, the request field at fault (``body`` for the body
        as a whole); otherwise None.
    :ivar headers: the answer's headers (lower-case names).
    """

    status: int
    code: str
    message: str
    field: Optional[str]
    headers: Dict[str, str]

    def __init__(
        self,
        status: int,
        code: str = "",
        message: str = "",
        field: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        super().__init__(self._text())

    def _text(self) -> str:
        what = self.message or self.code or "no error message"
        if self.status:
            return "%s (HTTP %d %s)" % (what, self.status, self.code) if self.code else "%s (HTTP %d)" % (what, self.status)
        return what

    def __repr__(self) -> str:
        return "%s(status=%r, code=%r, message=%r, field=%r)" % (
            type(self).__name__, self.status, self.code, self.message, self.field,
        )


class BadRequest(SignetError):
    """400: the request is invalid; ``field`` names the culprit."""


class Unauthorized(SignetError):
    """401: no key, or a malformed, unknown, deleted or expired key."""


class Forbidden(SignetError):
    """403: the key may not do this (disabled, public, lacking a permission,
    out of scope, another user's key or link, …)."""


class NotFound(SignetError):
    """404: no such key, user, link or file (or no such API route)."""


class Conflict(SignetError):
    """409: it exists already (a user of that name)."""


class _RetryAfter(SignetError):
    retry_after: Optional[int]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.retry_after = parse_retry_after(self.headers.get("retry-after"))


class RateLimited(_RetryAfter):
    """429: the client or the key went over its rate.

    :ivar retry_after: seconds until a request may succeed, from the
        ``Retry-After`` header (at least 1), or None if it had none."""


class Unavailable(_RetryAfter):
    """503: the store is unavailable, or the instance's view of it is stale.

    :ivar retry_after: seconds from ``Retry-After`` (5 for a stale view), or
        None (a failed store write)."""


class APIError(SignetError):
    """Any other error status (405, 500, 502 ``origin_unavailable``, …)."""


class ConnectionFailed(SignetError):
    """No answer: the connection failed or timed out (``status`` is 0).
    ``__cause__`` holds the underlying exception."""


_BY_STATUS: Dict[int, Type[SignetError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
    503: Unavailable,
}


def parse_retry_after(value: Optional[str]) -> Optional[int]:
    """Whole seconds from a ``Retry-After`` header (Signet sends seconds),
    or None if absent or not a number."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit():
        return None
    return int(value)


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> SignetError:
    """The exception for an error answer: the class for its status, with the
    code, message and field of its JSON body."""
    code, message, field = "", "", None
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        doc = None
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code", ""))
        message = str(err.get("message", ""))
        f = err.get("field")
        field = str(f) if f is not None else None
    elif isinstance(err, str):  # a flat {"error": code, "message": …}
        code = err
        message = str(doc.get("message", ""))
        f = doc.get("field")
        field = str(f) if f is not None else None
    else:
        message = body[:200].decode("utf-8", "replace").strip()
    cls = _BY_STATUS.get(status, APIError)
    return cls(status, code, message, field, headers)
