"""The one place that talks HTTP policy: client defaults, error mapping, retries.

Owns: building the shared ``httpx.AsyncClient`` (timeouts, connection limits,
User-Agent), mapping httpx exceptions and HTTP statuses to
``NetworkError``/``ServiceError``, bounded downloads (a body is read only up to
the size allowed for it: ``ResponseTooLarge``), and the single retry policy: transient
failures only (connection errors, timeouts, 429 and 5xx), exponential backoff
with full jitter, ``Retry-After`` honoured, bounded by attempts and by a
deadline. A verification failure is never retried (it never reaches here).

Does not own: what any service's request or response means (each service
client does), nor the lifetime of the client (its owner's ``async with``).
"""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import anyio
import attrs
import httpx

from ._time import utc_now
from .errors import NetworkError, ResponseTooLarge, ServiceError

__all__ = ["RetryPolicy", "ServiceClient", "download", "json_answer", "new_client", "request"]

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
        return response.json()
    except ValueError as e:
        raise ServiceError(
            f"{service} answered with something that is not JSON", service=service
        ) from e


def new_client(
    *, transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with the SDK's defaults (the caller owns it)."""
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    return httpx.AsyncClient(
        transport=transport,
        timeout=kwargs.pop("timeout", DEFAULT_TIMEOUT),
        limits=kwargs.pop("limits", httpx.Limits(max_connections=100)),
        headers=headers,
        **kwargs,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
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
        else:
            if response.is_success or response.status_code in ok_statuses:
                return response
            error = ServiceError(
                f"{service} answered {response.status_code}: {response.text[:200]}",
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
    return out.decode("utf-8", "replace")


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
                        declared.isdigit()
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
        if attempt >= retry.attempts:
            raise error
        delay = retry.delay(attempt - 1, retry_after)
        if anyio.current_time() - start + delay > retry.deadline:
            raise error
        logger.debug("%s: retrying after %.2fs (attempt %d): %s", service, delay, attempt, error)
        await anyio.sleep(delay)
