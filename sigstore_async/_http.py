"""The one place that talks HTTP policy: client defaults, error mapping, retries.

Owns: building the shared ``httpx.AsyncClient`` (timeouts, connection limits,
User-Agent), mapping httpx exceptions and HTTP statuses to
``NetworkError``/``ServiceError``, bounded downloads (a body is read only up to
the size allowed for it: ``ResponseTooLarge``), and the single retry policy: transient
failures only (connection errors, timeouts, 429 and 5xx), exponential backoff
with full jitter, ``Retry-After`` honoured, bounded by attempts and by a
deadline. A verification failure is never retried (it never reaches here).

Also owns the HTTP/1.1 transport under the clients it builds
(:class:`Http11Transport`): a connection pool whose every operation costs the
same whatever the number of connections, so that a batch with thousands of
requests in flight (Rekor v2 holds each one until its batch is integrated)
does not spend its time scanning the pool.

Does not own: what any service's request or response means (each service
client does), nor the lifetime of the client (its owner's ``async with``).
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import math
import os
import random
import select
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from typing import Any

import anyio
import anyio.abc
import attrs
import h11
import httpx
from anyio.streams.tls import TLSStream

from ._core import JSON_ERRORS
from ._time import utc_now
from .errors import NetworkError, ResponseTooLarge, ServiceError

__all__ = [
    "Http11Transport",
    "RetryPolicy",
    "ServiceClient",
    "download",
    "json_answer",
    "new_client",
    "request",
]

logger = logging.getLogger(__name__)

USER_AGENT = "sigstore-async/0.1.0.dev0"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@attrs.frozen
class RetryPolicy:
    """How transient failures are retried.

    ``attempts`` counts the first try. Delays grow as ``base * 2**n`` capped at
    ``max_delay``, with full jitter; a ``Retry-After`` header (seconds or an
    HTTP date) replaces the computed delay, capped at ``max_delay``. No retry
    starts after ``deadline`` seconds from the first attempt.
    """

    attempts: int = 5
    base: float = 0.2
    max_delay: float = 10.0
    deadline: float = 60.0
    statuses: frozenset[int] = TRANSIENT_STATUSES

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base * 2**attempt))  # noqa: S311


NO_RETRY = RetryPolicy(attempts=1)


class ServiceClient:
    """The shared state of a service client: the service at ``base_url``, over
    a shared ``httpx.AsyncClient`` (it holds no connection of its own), whose
    requests retry as ``retry`` says."""

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, *, retry: RetryPolicy | None = None
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._retry = retry or RetryPolicy()


def json_answer(response: httpx.Response, service: str) -> object:
    """The decoded JSON body of an answer from ``service``.

    Raises:
        ServiceError: the body is not JSON.
    """
    try:
        return json.loads(response.content)
    except JSON_ERRORS as e:
        raise ServiceError(
            f"{service} answered with something that is not JSON", service=service
        ) from e


# --- the transport ------------------------------------------------------------------------------

#: ``new_client`` options that configure httpx's own transport: given any of
#: them, the client keeps httpx's transport (ours takes none of them).
_HTTPX_TRANSPORT_OPTIONS = frozenset(
    {"verify", "cert", "http1", "http2", "proxy", "proxies", "mounts", "app", "uds", "retries"}
)
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
#: Request bytes gathered before a write (headers and a small body go in one write).
_WRITE_CHUNK = 1 << 16
_READ_CHUNK = 1 << 16
_Origin = tuple[bytes, bytes, int]


class _Connection:
    """One HTTP/1.1 connection: its stream, its h11 state machine and its origin."""

    __slots__ = ("fd", "h11", "idle_since", "origin", "stream")

    def __init__(self, stream: anyio.abc.ByteStream, origin: _Origin, fd: int | None) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)
        self.origin = origin
        if fd is None:
            sock = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)  # noqa: S610
            fd = sock.fileno() if sock is not None else -1
        self.fd = fd
        self.idle_since = 0.0

    def readable(self) -> bool:
        """Whether this idle connection has something to read: the server closed
        it (or sent what nobody asked for), so it cannot carry a request."""
        if self.fd < 0:
            return False
        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(self.fd, select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([self.fd], [], [], 0)[0])
        except (OSError, ValueError):
            return True


class Http11Transport(httpx.AsyncBaseTransport):
    """An HTTP/1.1 transport (h11 over anyio streams) with a constant-cost pool.

    ``limits`` as httpx reads them: at most ``max_connections`` connections
    (requests wait for one, at most the ``pool`` timeout), at most
    ``max_keepalive_connections`` idle ones kept, for ``keepalive_expiry``
    seconds. Idle connections are kept per origin, most recently used first;
    one is checked (unexpired, nothing to read) only when it is about to be
    reused, so no operation walks the pool. Connections to an IP address are
    opened directly; to a host name, with anyio's Happy Eyeballs. TLS uses
    ``ssl_context`` (default: httpx's, which honours ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR``). Timeouts and errors are httpx's (``ConnectTimeout``,
    ``ReadError``, ``RemoteProtocolError`` ...), so callers cannot tell it
    from httpx's own transport except by its cost.
    """

    def __init__(
        self, *, limits: httpx.Limits | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100)
        self._max_connections = limits.max_connections
        self._max_keepalive = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._ssl_context = ssl_context
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._idle_count = 0
        #: Connections carrying a request (each holds one of the slots).
        self._active = 0
        self._waiters: deque[anyio.Event] = deque()
        self._connections: set[_Connection] = set()
        self._families: dict[bytes, int] = {}
        self._closed = False

    # --- slots ---------------------------------------------------------------------------

    async def _acquire(self, seconds: float | None) -> None:
        if self._max_connections is None or self._active < self._max_connections:
            self._active += 1
            return
        event = anyio.Event()
        self._waiters.append(event)
        try:
            with anyio.fail_after(seconds):
                await event.wait()
        except BaseException:
            if event.is_set():  # handed a slot as we gave up: pass it on
                self._release_slot()
            else:
                self._waiters.remove(event)
            raise

    def _release_slot(self) -> None:
        # A waiter takes the slot over; otherwise it is free.
        while self._waiters:
            event = self._waiters.popleft()
            event.set()
            return
        self._active -= 1

    # --- connections ---------------------------------------------------------------------

    async def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # Loading the CA bundle reads files: not on the event loop. (Two
            # first connections may both load it; either result serves.)
            context = await anyio.to_thread.run_sync(_default_ssl_context)
            if self._ssl_context is None:
                self._ssl_context = context
        return self._ssl_context

    def _family(self, host: bytes) -> int:
        """``AF_INET``/``AF_INET6`` for an IP address, 0 for a host name (cached)."""
        family = self._families.get(host)
        if family is None:
            try:
                address = ipaddress.ip_address(host.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                family = 0
            else:
                family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            if len(self._families) < 1024:
                self._families[host] = family
        return family

    async def _open(self, request: httpx.Request, origin: _Origin) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        seconds = request.extensions.get("timeout", {}).get("connect")
        fd: int | None = None
        try:
            with anyio.fail_after(seconds):
                family = self._family(raw_host)
                stream: anyio.abc.ByteStream
                if family and _RAW_CONNECT:
                    stream, fd = await _connect_address(family, host, port)
                else:
                    stream = await anyio.connect_tcp(host, port)
                if scheme == b"https":
                    sni = request.extensions.get("sni_hostname") or host
                    try:
                        stream = await TLSStream.wrap(
                            stream,
                            hostname=sni,
                            ssl_context=await self._ssl(),
                            standard_compatible=False,
                        )
                    except BaseException:
                        await anyio.aclose_forcefully(stream)
                        raise
        except TimeoutError as e:
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out", request=request
            ) from e
        except (OSError, anyio.BrokenResourceError, anyio.EndOfStream) as e:
            raise httpx.ConnectError(_describe(e), request=request) from e
        conn = _Connection(stream, origin, fd)
        self._connections.add(conn)
        return conn

    async def _discard(self, conn: _Connection) -> None:
        self._connections.discard(conn)
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(conn.stream)

    async def _idle_connection(self, origin: _Origin) -> _Connection | None:
        """The most recently used idle connection to ``origin`` still fit for use."""
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            if (
                self._expiry is not None and anyio.current_time() - conn.idle_since > self._expiry
            ) or conn.readable():
                await self._discard(conn)
                continue
            return conn
        return None

    async def _close_oldest_idle(self) -> None:
        oldest: _Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is not None:
            self._idle[oldest.origin].popleft()
            self._idle_count -= 1
            await self._discard(oldest)

    async def _release(self, conn: _Connection, complete: bool) -> None:
        """The response on ``conn`` is closed: keep the connection idle if it
        can carry another request, else close it; free its slot."""
        try:
            c = conn.h11
            if (
                complete
                and not self._closed
                and c.our_state is h11.DONE
                and c.their_state is h11.DONE
                and (self._max_keepalive is None or self._idle_count < self._max_keepalive)
            ):
                c.start_next_cycle()
                conn.idle_since = anyio.current_time()
                self._idle.setdefault(conn.origin, deque()).append(conn)
                self._idle_count += 1
                return
            await self._discard(conn)
        finally:
            self._release_slot()

    # --- requests ------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.raw_scheme
        default_port = _DEFAULT_PORTS.get(scheme)
        if default_port is None:
            raise httpx.UnsupportedProtocol(
                f"the URL scheme {scheme.decode('ascii', 'replace')!r} is not supported",
                request=request,
            )
        port = default_port if url.port is None else url.port
        if not 0 < port <= 65535:  # httpx parses any integer ("-1", "99999")
            raise httpx.InvalidURL(f"port {port} is out of range in {url}")
        origin = (scheme, url.raw_host, port)
        timeouts = request.extensions.get("timeout", {})
        try:
            await self._acquire(timeouts.get("pool"))
        except TimeoutError as e:
            raise httpx.PoolTimeout("no connection became available", request=request) from e
        conn: _Connection | None = None
        try:
            conn = await self._idle_connection(origin)
            if conn is None:
                if (
                    self._max_connections is not None
                    and self._idle_count
                    and self._active + self._idle_count > self._max_connections
                ):
                    await self._close_oldest_idle()
                conn = await self._open(request, origin)
            await self._send(conn, request, timeouts.get("write"))
            head = await self._receive_head(conn, request, timeouts.get("read"))
        except BaseException:
            # Free the slot first: closing may raise the cancellation again.
            self._release_slot()
            if conn is not None:
                await self._discard(conn)
            raise
        return httpx.Response(
            head.status_code,
            headers=head.headers.raw_items(),
            stream=_ResponseStream(self, conn, request, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
        )

    async def _send(self, conn: _Connection, request: httpx.Request, seconds: float | None) -> None:
        c = conn.h11
        try:
            out = bytearray(
                c.send(
                    h11.Request(
                        method=request.method,
                        target=request.url.raw_path,
                        headers=request.headers.raw,
                    )
                )
                or b""
            )
            stream = request.stream
            if not isinstance(stream, httpx.AsyncByteStream):
                raise RuntimeError("an async transport needs an async request body")
            async for chunk in stream:
                if chunk:
                    out += c.send(h11.Data(data=chunk)) or b""
                if len(out) >= _WRITE_CHUNK:
                    await _write(conn, request, bytes(out), seconds)
                    out.clear()
            out += c.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as e:
            raise httpx.LocalProtocolError(str(e), request=request) from e
        await _write(conn, request, bytes(out), seconds)

    async def _receive_head(
        self, conn: _Connection, request: httpx.Request, seconds: float | None
    ) -> h11.Response:
        while True:
            event = await _next_event(conn, request, seconds)
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):
                raise httpx.RemoteProtocolError(
                    f"the server answered with {type(event).__name__}", request=request
                )

    async def aclose(self) -> None:
        self._closed = True
        connections, self._connections = self._connections, set()
        self._idle.clear()
        self._idle_count = 0
        with anyio.CancelScope(shield=True):
            for conn in connections:
                await anyio.aclose_forcefully(conn.stream)


class _ResponseStream(httpx.AsyncByteStream):
    """A response body read off its connection; closing it returns the
    connection to the pool (when the body was read to its end) or closes it."""

    def __init__(
        self,
        transport: Http11Transport,
        conn: _Connection,
        request: httpx.Request,
        seconds: float | None,
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._request = request
        self._seconds = seconds
        self._complete = False
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while not self._complete:
                event = await _next_event(self._conn, self._request, self._seconds)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._complete = True
                else:
                    raise httpx.RemoteProtocolError(
                        f"the server sent {type(event).__name__} in a body", request=self._request
                    )
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._transport._release(self._conn, self._complete)


async def _write(
    conn: _Connection, request: httpx.Request, data: bytes, seconds: float | None
) -> None:
    try:
        with anyio.CancelScope(deadline=_deadline(seconds)) as scope:
            await conn.stream.send(data)
    except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as e:
        raise httpx.WriteError(_describe(e), request=request) from e
    if scope.cancelled_caught:
        raise httpx.WriteTimeout("writing the request timed out", request=request)


async def _next_event(conn: _Connection, request: httpx.Request, seconds: float | None) -> Any:
    """The next h11 event of the response, reading as needed."""
    c = conn.h11
    while True:
        try:
            event = c.next_event()
        except h11.RemoteProtocolError as e:
            raise httpx.RemoteProtocolError(str(e), request=request) from e
        if event is not h11.NEED_DATA:
            if event is h11.PAUSED:
                raise httpx.RemoteProtocolError("the server switched protocols", request=request)
            return event
        data = b""
        try:
            with anyio.CancelScope(deadline=_deadline(seconds)) as scope:
                data = await conn.stream.receive(_READ_CHUNK)
        except anyio.EndOfStream:
            pass
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as e:
            raise httpx.ReadError(_describe(e), request=request) from e
        if scope.cancelled_caught:
            raise httpx.ReadTimeout("reading the response timed out", request=request)
        if not data and c.their_state is h11.SEND_RESPONSE:
            raise httpx.RemoteProtocolError(
                "the server disconnected without sending a response", request=request
            )
        c.receive_data(data)


def _default_ssl_context() -> ssl.SSLContext:
    """httpx's default context (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), HTTP/1.1 only."""
    context = httpx.create_ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def _describe(e: BaseException) -> str:
    return str(e) or type(e).__name__


def _deadline(seconds: float | None) -> float:
    """The deadline of an operation allowed ``seconds`` (none: ``inf``).

    The hot path uses ``CancelScope(deadline=...)`` rather than
    ``anyio.fail_after``: the same scope, without a generator context manager
    around it (a sizeable share of the cost of a read on a busy loop). Only
    the deadline can cancel such a scope (nothing else holds it), so
    ``cancelled_caught`` means it expired.
    """
    return math.inf if seconds is None else anyio.current_time() + seconds


#: Whether anyio can wrap a socket we connected (anyio 4.9+); otherwise every
#: connection goes through ``anyio.connect_tcp``.
_RAW_CONNECT = hasattr(anyio, "wait_writable") and hasattr(anyio.abc.SocketStream, "from_socket")


async def _connect_address(family: int, host: str, port: int) -> tuple[anyio.abc.SocketStream, int]:
    """A TCP connection to an IP address, and its file descriptor, without
    ``anyio.connect_tcp``'s Happy Eyeballs task group (there is one address
    to try)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.connect((host, port))
        except (BlockingIOError, InterruptedError):
            await anyio.wait_writable(sock)
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, f"connecting to {host}:{port}: {os.strerror(error)}") from None
        fd = sock.fileno()
        return await anyio.abc.SocketStream.from_socket(sock), fd
    except BaseException:
        sock.close()
        raise


def new_client(
    *, transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with the SDK's defaults (the caller owns it).

    Without a ``transport`` (and without options that configure httpx's own
    one, such as ``verify``, ``cert``, ``http2`` or ``proxy``), requests go
    through an :class:`Http11Transport` with the given ``limits``.
    """
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    limits = kwargs.pop("limits", httpx.Limits(max_connections=100))
    if transport is None and not _HTTPX_TRANSPORT_OPTIONS.intersection(kwargs):
        transport = Http11Transport(limits=limits)
    return httpx.AsyncClient(
        transport=transport,
        timeout=kwargs.pop("timeout", DEFAULT_TIMEOUT),
        limits=limits,
        headers=headers,
        **kwargs,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) else None  # "nan" and "inf" parse
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - utc_now()).total_seconds()


async def request(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    service: str,
    retry: RetryPolicy = NO_RETRY,
    ok_statuses: frozenset[int] = frozenset(),
    json: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Send one request with the retry policy; return a 2xx response (or one
    whose status is in ``ok_statuses``, e.g. Rekor's 409).

    Raises:
        NetworkError: the service could not be reached (after retries).
        ServiceError: it answered with an error status (after retries for
            transient ones).
    """
    start = anyio.current_time()
    attempt = 0
    while True:
        attempt += 1
        retry_after: float | None = None
        try:
            response = await http.request(
                method, url, json=json, content=content, headers=headers, params=params, data=data
            )
        except httpx.TransportError as e:
            error: ServiceError = NetworkError(
                f"{service}: {type(e).__name__}: {e}", service=service
            )
        except _UNSENDABLE as e:
            raise _unusable(service, e) from e
        else:
            if response.is_success or response.status_code in ok_statuses:
                return response
            error = ServiceError(
                f"{service} answered {response.status_code}: {_text(response.content[:200])}",
                service=service,
                status=response.status_code,
            )
            if response.status_code not in retry.statuses:
                raise error
            retry_after = _retry_after(response)
        if attempt >= retry.attempts:
            raise error
        delay = retry.delay(attempt - 1, retry_after)
        if anyio.current_time() - start + delay > retry.deadline:
            raise error
        logger.debug("%s: retrying after %.2fs (attempt %d): %s", service, delay, attempt, error)
        await anyio.sleep(delay)


async def _error_text(response: httpx.Response, limit: int = 200) -> str:
    """At most ``limit`` bytes of an error body (a hostile server may send gigabytes)."""
    out = bytearray()
    async for chunk in response.aiter_bytes():
        out += chunk[: limit - len(out)]
        if len(out) >= limit:
            break
    return _text(bytes(out))


def _text(body: bytes) -> str:
    """An error body for a message: whatever charset the answer claims, a
    hostile one cannot make the message itself fail."""
    return body.decode("utf-8", "replace")


#: What httpx raises, besides transport errors, when a request cannot be made
#: or its answer cannot be read: a URL it cannot parse (from configuration or
#: the environment), a header value that is not ASCII (a credential taken from
#: another service's answer), a body whose Content-Encoding does not decode,
#: too many redirects. None of these is transient: no retry.
_UNSENDABLE = (httpx.HTTPError, httpx.InvalidURL, UnicodeError)


def _unusable(service: str, e: Exception) -> ServiceError:
    return ServiceError(
        f"{service}: the request cannot be made or its answer read: {type(e).__name__}: {e}",
        service=service,
    )


async def download(
    http: httpx.AsyncClient,
    url: str,
    *,
    service: str,
    max_bytes: int,
    retry: RetryPolicy = NO_RETRY,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """GET ``url`` and return its body, reading no more than ``max_bytes``.

    The body is streamed and reading stops as soon as it passes the limit (or
    at once when ``Content-Length`` announces more), so an endless or huge
    response costs at most ``max_bytes`` of memory. The limit applies to the
    decoded body, after any ``Content-Encoding``. Transient failures are
    retried as :func:`request` retries them; an oversized body is not.

    Raises:
        NetworkError: the service could not be reached (after retries).
        ServiceError: it answered with an error status (``status`` set).
        ResponseTooLarge: the body is longer than ``max_bytes``.
    """
    start = anyio.current_time()
    attempt = 0
    while True:
        attempt += 1
        retry_after: float | None = None
        try:
            async with http.stream("GET", url, headers=headers) as response:
                if response.is_success:
                    declared = response.headers.get("Content-Length", "")
                    if (
                        declared.isascii()
                        and declared.isdigit()
                        and int(declared) > max_bytes
                        and not (response.headers.get("Content-Encoding"))
                    ):
                        raise ResponseTooLarge(
                            f"{service}: {url} announces {declared} bytes, over {max_bytes}",
                            service=service,
                            limit=max_bytes,
                        )
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise ResponseTooLarge(
                                f"{service}: {url} is longer than {max_bytes} bytes",
                                service=service,
                                limit=max_bytes,
                            )
                    return bytes(body)
                error: ServiceError = ServiceError(
                    f"{service} answered {response.status_code}: {await _error_text(response)}",
                    service=service,
                    status=response.status_code,
                )
                if response.status_code not in retry.statuses:
                    raise error
                retry_after = _retry_after(response)
        except httpx.TransportError as e:
            error = NetworkError(f"{service}: {type(e).__name__}: {e}", service=service)
        except _UNSENDABLE as e:
            raise _unusable(service, e) from e
        if attempt >= retry.attempts:
            raise error
        delay = retry.delay(attempt - 1, retry_after)
        if anyio.current_time() - start + delay > retry.deadline:
            raise error
        logger.debug("%s: retrying after %.2fs (attempt %d): %s", service, delay, attempt, error)
        await anyio.sleep(delay)
