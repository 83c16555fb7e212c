"""The small HTTP layer under LocalSigstore's services.

Owns: the request and response values the services see, routing by method and
path template, turning errors into JSON responses (400 for bad input, never an
unhandled 500), and the ASGI adapter that ``httpx.ASGITransport`` mounts.
Does not own: any service's behaviour, faults, or serving on a socket
(``_serve``).

A framework would add a dependency for a dozen routes; this is the part of one
that the services need, and it keeps every response under our control (the
fault knobs must be able to drop a connection half-way).
"""

from __future__ import annotations

import binascii
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import attrs

from .._core import JSON_ERRORS

_logger = logging.getLogger(__name__)

__all__ = [
    "ASGIApp",
    "HTTPError",
    "Handler",
    "Request",
    "Response",
    "Route",
    "Router",
    "bad_request",
]

#: What an ASGI application receives and calls.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The largest request body any service accepts.
MAX_BODY = 8 * 1024 * 1024


class HTTPError(Exception):
    """An error response: its status, a message for the client, extra headers.

    ``body`` overrides the default ``{"code": status, "message": message}``
    JSON (OAuth errors have their own shape).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.body = body


def bad_request(message: str) -> HTTPError:
    return HTTPError(400, message)


@attrs.frozen
class Request:
    """An HTTP request as a service sees it: ``path`` is relative to the service's mount."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        """The body as JSON.

        Raises:
            HTTPError: 400 when the body is not JSON.
        """
        try:
            return json.loads(self.body)
        except JSON_ERRORS as e:
            raise bad_request(f"request body is not valid JSON: {e}") from e

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object.

        Raises:
            HTTPError: 400 when the body is not a JSON object.
        """
        obj = self.json()
        if not isinstance(obj, dict):
            raise bad_request("request body must be a JSON object")
        return obj

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (last value wins).

        Raises:
            HTTPError: 400 when the body is not UTF-8.
        """
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise bad_request("form body is not UTF-8") from e
        return dict(parse_qsl(text, keep_blank_values=True))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@attrs.frozen
class Response:
    """A complete HTTP response. ``drop`` asks the transport to cut the
    connection after the status line instead of sending the body."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    drop: bool = False

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        body = json.dumps(obj).encode()
        return cls(
            status,
            (("content-type", "application/json"), *(headers or {}).items()),
            body,
        )

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status, (("content-type", f"{content_type}; charset=utf-8"),), text.encode())

    @classmethod
    def raw(cls, body: bytes, content_type: str, status: int = 200) -> Response:
        return cls(status, (("content-type", content_type),), body)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, (("location", location),), b"")

    @classmethod
    def from_error(cls, error: HTTPError) -> Response:
        body = (
            error.body
            if error.body is not None
            else {
                "code": error.status,
                "message": error.message,
            }
        )
        return cls.json(body, error.status, error.headers)


Handler = Callable[..., Awaitable[Response]]

_PARAM = re.compile(r"\{([a-z_]+)\}")


@attrs.frozen
class Route:
    """``pattern`` is a path template such as ``/api/v1/log/entries/{uuid}``."""

    method: str
    pattern: str
    handler: Handler
    regex: re.Pattern[str] = attrs.field(init=False)

    @regex.default
    def _compile(self) -> re.Pattern[str]:
        parts = _PARAM.split(self.pattern)
        out = []
        for i, part in enumerate(parts):
            out.append(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part))
        return re.compile("".join(out))


# Exceptions that parsing untrusted input can raise: a client's fault, not ours.
_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError, binascii.Error, UnicodeError)


class Router:
    """Routes of one service, matched in order."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for a request and its path parameters.

        Raises:
            HTTPError: 404 for an unknown path, 405 for a known path with another method.
        """
        allowed = []
        for route in self.routes:
            m = route.regex.fullmatch(path)
            if m is None:
                continue
            if route.method == method:
                return route, m.groupdict()
            allowed.append(route.method)
        if allowed:
            raise HTTPError(
                405, f"method {method} not allowed", headers={"allow": ", ".join(allowed)}
            )
        raise HTTPError(404, f"no such endpoint: {path}")

    @staticmethod
    async def call(route: Route, request: Request, params: Mapping[str, str]) -> Response:
        """Run a handler; every error becomes a JSON error response."""
        try:
            return await route.handler(request, **params)
        except HTTPError as e:
            return Response.from_error(e)
        except _INPUT_ERRORS as e:
            # A handler that let a parsing error through: still the client's input, but
            # a handler should have said what was wrong, so leave a trace.
            _logger.warning(
                "%s %s: unchecked input error", request.method, request.path, exc_info=e
            )
            return Response.from_error(bad_request(f"malformed request: {e}"))


RequestHandler = Callable[[Request], Awaitable[Response]]


class ASGIApp:
    """An ASGI 3 application over a request handler (HTTP only).

    A response marked ``drop`` is cut after its headers, and ``on_drop()`` is
    raised: ``httpx.ASGITransport`` re-raises application exceptions to the
    caller, so an in-process client sees what a socket client would.
    """

    def __init__(self, handle: RequestHandler, on_drop: Callable[[], BaseException]) -> None:
        self._handle = handle
        self._on_drop = on_drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        received = await receive_request(scope, receive)
        if received is None:
            return
        response = received if isinstance(received, Response) else await self._handle(received)
        await send_response(send, response)
        if response.drop:
            raise self._on_drop()


async def receive_request(scope: Scope, receive: Receive) -> Request | Response | None:
    """The request an ASGI server hands over: its body read up to ``MAX_BODY``
    (past it, the rest is read and dropped, and the answer is a 413 response),
    or None when the client went away first."""
    body = bytearray()
    too_big = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if not too_big:
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                too_big = True
                body.clear()
        if not message.get("more_body", False):
            break
    if too_big:
        return Response.from_error(HTTPError(413, "request body too large"))
    return request_from_scope(scope, bytes(body))


def request_from_scope(scope: Scope, body: bytes) -> Request:
    raw_query = scope.get("query_string", b"").decode("latin-1")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    return Request(
        method=scope["method"].upper(),
        path=scope["path"],
        query=dict(parse_qsl(raw_query, keep_blank_values=True)),
        headers=headers,
        body=body,
    )


async def send_response(send: Send, response: Response) -> None:
    """Send a response; for a dropped one, only the status line and headers
    (announcing a body that never comes)."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    length = len(response.body) if not response.drop else len(response.body) + 1024
    headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if not response.drop:
        await send({"type": "http.response.body", "body": response.body})
