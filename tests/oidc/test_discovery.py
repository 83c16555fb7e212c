"""Discovery documents: parsing, the safety checks, one fetch per issuer."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from sigstore_async._http import new_client
from sigstore_async.errors import NetworkError, ServiceError
from sigstore_async.oidc import Discovery, ProviderMetadata
from sigstore_async.oidc.discovery import discovery_url

ISSUER = "https://issuer.example/auth"


def doc(**changes: Any) -> bytes:
    base: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/authorize",
        "token_endpoint": ISSUER + "/token",
        "device_authorization_endpoint": ISSUER + "/device/code",
        "jwks_uri": ISSUER + "/keys",
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256", "plain"],
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return json.dumps(base).encode()


def test_parse() -> None:
    meta = ProviderMetadata.from_json(doc(), issuer=ISSUER)
    assert meta.token_endpoint == ISSUER + "/token"
    assert meta.device_authorization_endpoint == ISSUER + "/device/code"
    assert meta.code_challenge_methods_supported == ("S256", "plain")
    assert meta.require("jwks_uri") == ISSUER + "/keys"
    absent = ProviderMetadata.from_json(doc(device_authorization_endpoint=None), issuer=ISSUER)
    with pytest.raises(ServiceError, match="device_authorization_endpoint"):
        absent.require("device_authorization_endpoint")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not json", "not JSON"),
        (b"[" * 100_000, "not JSON"),  # RecursionError in json.loads
        (b"[]", "not a JSON object"),
        (doc(issuer="https://evil.example"), "names issuer"),
        (doc(issuer=None), "names issuer"),
        (doc(token_endpoint="http://issuer.example/token"), "not an https URL"),
        (doc(token_endpoint="ftp://issuer.example/token"), "not a URL"),
        (doc(token_endpoint=7), "not a URL"),
        (doc(token_endpoint="https://[issuer.example/token"), "not a URL"),  # urlsplit raises
    ],
)
def test_rejected(data: bytes, why: str) -> None:
    with pytest.raises(ServiceError, match=why):
        ProviderMetadata.from_json(data, issuer=ISSUER)


def test_trailing_slash_and_plain_http_issuers() -> None:
    assert discovery_url(ISSUER + "/") == ISSUER + "/.well-known/openid-configuration"
    # The document's own spelling is what tokens carry in iss.
    assert ProviderMetadata.from_json(doc(), issuer=ISSUER + "/").issuer == ISSUER
    local = "http://127.0.0.1:8080/oidc"
    meta = ProviderMetadata.from_json(
        json.dumps({"issuer": local, "token_endpoint": local + "/token"}), issuer=local
    )
    assert meta.token_endpoint == local + "/token"


@pytest.mark.anyio
async def test_one_fetch_for_many_concurrent_callers() -> None:
    count = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        await anyio.sleep(0.05)
        assert str(request.url) == ISSUER + "/.well-known/openid-configuration"
        return httpx.Response(200, content=doc())

    async with new_client(transport=httpx.MockTransport(handler)) as http:
        discovery = Discovery(http)
        results: list[ProviderMetadata] = []

        async def get() -> None:
            results.append(await discovery.get(ISSUER))

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(get)
        await discovery.get(ISSUER)
    assert count == 1
    assert len(results) == 10
    assert len(set(results)) == 1


@pytest.mark.anyio
async def test_failures_are_not_cached() -> None:
    answers = [httpx.Response(404), httpx.Response(200, content=doc())]

    async with new_client(transport=httpx.MockTransport(lambda r: answers.pop(0))) as http:
        discovery = Discovery(http)
        with pytest.raises(ServiceError) as info:
            await discovery.get(ISSUER)
        assert info.value.status == 404
        assert (await discovery.get(ISSUER)).issuer == ISSUER


@pytest.mark.anyio
async def test_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with new_client(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(NetworkError):
            await Discovery(http).get(ISSUER)
