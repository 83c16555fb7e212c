"""The retry and error-mapping policy, over in-process transports."""

from __future__ import annotations

import httpx
import pytest

from sigstore_async._http import RetryPolicy, new_client, request
from sigstore_async.errors import NetworkError, ServiceError

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(attempts=4, base=0.001, max_delay=0.01, deadline=5)


def _transport(statuses: list[int | Exception], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        item = statuses.pop(0)
        if isinstance(item, Exception):
            raise item
        headers = {"Retry-After": "0"} if item == 429 else {}
        return httpx.Response(item, json={"n": len(seen)}, headers=headers)

    return httpx.MockTransport(handler)


async def test_transient_errors_are_retried() -> None:
    seen: list[httpx.Request] = []
    t = _transport([503, httpx.ConnectError("down"), 429, 200], seen)
    async with new_client(transport=t) as http:
        r = await request(http, "GET", "https://x/", service="x", retry=FAST)
    assert r.json() == {"n": 4}
    assert seen[0].headers["User-Agent"].startswith("sigstore-async/")


async def test_client_errors_are_not_retried() -> None:
    seen: list[httpx.Request] = []
    async with new_client(transport=_transport([400, 200], seen)) as http:
        with pytest.raises(ServiceError) as info:
            await request(http, "GET", "https://x/", service="fulcio", retry=FAST)
    assert info.value.status == 400
    assert info.value.service == "fulcio"
    assert len(seen) == 1


async def test_attempts_are_bounded() -> None:
    seen: list[httpx.Request] = []
    async with new_client(transport=_transport([500] * 10, seen)) as http:
        with pytest.raises(ServiceError):
            await request(http, "GET", "https://x/", service="x", retry=FAST)
    assert len(seen) == 4


async def test_network_errors_are_typed() -> None:
    seen: list[httpx.Request] = []
    t = _transport([httpx.ConnectError("refused")], seen)
    async with new_client(transport=t) as http:
        with pytest.raises(NetworkError):
            await request(http, "GET", "https://x/", service="x")


async def test_ok_statuses() -> None:
    seen: list[httpx.Request] = []
    async with new_client(transport=_transport([409], seen)) as http:
        r = await request(http, "POST", "https://x/", service="rekor", ok_statuses=frozenset({409}))
    assert r.status_code == 409


def test_retry_after_caps_and_jitter() -> None:
    p = RetryPolicy(base=1, max_delay=3)
    assert p.delay(0, 100.0) == 3
    assert p.delay(0, -5.0) == 0
    assert all(0 <= p.delay(5, None) <= 3 for _ in range(50))
