"""``_http.download``: the bounded, retried GET every TUF download goes through."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sigstore_async._http import RetryPolicy, download, new_client
from sigstore_async.errors import NetworkError, ResponseTooLarge, ServiceError

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(attempts=3, base=0.001, max_delay=0.01, deadline=5)


def client(*answers: httpx.Response | Exception) -> tuple[httpx.AsyncClient, list[str]]:
    queue = list(answers)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return new_client(transport=httpx.MockTransport(handler)), seen


async def test_body_up_to_the_limit() -> None:
    http, _ = client(httpx.Response(200, content=b"x" * 10))
    async with http:
        assert await download(http, "https://r/a", service="tuf", max_bytes=10) == b"x" * 10


async def test_one_byte_over_is_refused_and_not_retried() -> None:
    http, seen = client(httpx.Response(200, content=b"x" * 11), httpx.Response(200))
    async with http:
        with pytest.raises(ResponseTooLarge) as info:
            await download(http, "https://r/a", service="tuf", max_bytes=10, retry=FAST)
    assert info.value.limit == 10
    assert len(seen) == 1


async def test_reading_stops_at_the_limit() -> None:
    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            pulled.append(1)
            yield b"x" * 1000

    http, _ = client(httpx.Response(200, content=endless()))
    async with http:
        with pytest.raises(ResponseTooLarge):
            await download(http, "https://r/a", service="tuf", max_bytes=5000)
    assert len(pulled) <= 6


async def test_announced_length_is_refused_before_reading() -> None:
    pulled: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        pulled.append(1)
        yield b"x"

    response = httpx.Response(200, headers={"Content-Length": "999999"}, content=body())
    http, _ = client(response)
    async with http:
        with pytest.raises(ResponseTooLarge, match="announces"):
            await download(http, "https://r/a", service="tuf", max_bytes=100)
    assert pulled == []


async def test_transient_errors_are_retried() -> None:
    http, seen = client(
        httpx.Response(503), httpx.ConnectError("refused"), httpx.Response(200, content=b"ok")
    )
    async with http:
        assert await download(http, "https://r/a", service="tuf", max_bytes=10, retry=FAST) == b"ok"
    assert len(seen) == 3


async def test_errors_are_typed_and_short() -> None:
    http, seen = client(httpx.Response(404, content=b"e" * 100_000))
    async with http:
        with pytest.raises(ServiceError) as info:
            await download(http, "https://r/a", service="tuf", max_bytes=10, retry=FAST)
    assert info.value.status == 404
    assert len(str(info.value)) < 300
    assert len(seen) == 1
    http, _ = client(*[httpx.ConnectError("refused")] * 3)
    async with http:
        with pytest.raises(NetworkError):
            await download(http, "https://r/a", service="tuf", max_bytes=10, retry=FAST)
