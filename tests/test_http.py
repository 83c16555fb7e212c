"""The retry and error-mapping policy, over in-process transports."""

from __future__ import annotations

import anyio
import httpx
import pytest

from sigstore_async._http import RetryPolicy, download, json_answer, new_client, request
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


def _answer(response: httpx.Response) -> httpx.MockTransport:
    return httpx.MockTransport(lambda req: response)


async def test_an_undecodable_answer_is_a_service_error() -> None:
    # httpx raises DecodingError (not a transport error) for a body whose
    # Content-Encoding does not decode: not retried, and typed.
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})

    async with new_client(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(ServiceError, match="DecodingError") as info:
            await request(http, "GET", "https://x/", service="x", retry=FAST)
        assert not isinstance(info.value, NetworkError)
        with pytest.raises(ServiceError, match="DecodingError"):
            await download(http, "https://x/", service="x", max_bytes=100, retry=FAST)
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("http://[::1", {}),  # httpx.InvalidURL
        ("http://\udcff/", {}),  # a surrogate from a non-UTF-8 command line
        ("https://x/", {"Authorization": "Bearer \u00e9"}),  # a credential from an answer
    ],
)
async def test_a_request_that_cannot_be_made_is_a_service_error(
    url: str, headers: dict[str, str]
) -> None:
    async with new_client(transport=_answer(httpx.Response(200))) as http:
        with pytest.raises(ServiceError, match="cannot be made"):
            await request(http, "GET", url, service="x", headers=headers)
        with pytest.raises(ServiceError, match="cannot be made"):
            await download(http, url, service="x", max_bytes=100, headers=headers)


async def test_an_error_body_in_a_false_charset_still_gives_the_error() -> None:
    # The message quotes the body: a charset that does not decode it must not
    # turn the ServiceError into a UnicodeError.
    answer = httpx.Response(
        403, content=b'{"x": 1}', headers={"content-type": "application/json; charset=utf-16"}
    )
    async with new_client(transport=_answer(answer)) as http:
        with pytest.raises(ServiceError) as info:
            await request(http, "GET", "https://x/", service="x")
    assert info.value.status == 403
    assert '{"x": 1}' in str(info.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "Fri, 31 Dec 99999 23:59:59 GMT"])
async def test_a_meaningless_retry_after_is_ignored(value: str) -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if len(seen) == 1:
            return httpx.Response(503, headers={"Retry-After": value})
        return httpx.Response(200)

    async with new_client(transport=httpx.MockTransport(handler)) as http:
        with anyio.fail_after(5):
            r = await request(http, "GET", "https://x/", service="x", retry=FAST)
    assert r.status_code == 200
    assert len(seen) == 2


async def test_json_answer_refuses_deep_nesting_typed() -> None:
    answer = httpx.Response(200, content=b"[" * 100_000)
    with pytest.raises(ServiceError, match="not JSON"):
        json_answer(answer, "rekor")


@pytest.mark.parametrize("port", ["99999", "-1", "0"])
async def test_a_port_out_of_range_is_refused_before_connecting(port: str) -> None:
    # httpx parses any integer as a port; the socket call raised OverflowError.
    async with new_client() as http:
        with pytest.raises(ServiceError, match="out of range") as info:
            await request(http, "GET", f"http://127.0.0.1:{port}/", service="x", retry=FAST)
    assert not isinstance(info.value, NetworkError)  # not transient: no retry
