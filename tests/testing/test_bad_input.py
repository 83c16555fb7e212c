"""Garbage in, a 4xx out: no endpoint answers malformed input with a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from sigstore_async.testing import LocalSigstore
from sigstore_async.testing._http import MAX_BODY

pytestmark = pytest.mark.anyio

ENDPOINTS = [
    ("POST", "/api/v2/signingCert"),
    ("GET", "/api/v2/trustBundle"),
    ("POST", "/rekor/api/v1/log/entries"),
    ("GET", "/rekor/api/v1/log/entries"),
    ("GET", "/rekor/api/v1/log/entries/abc"),
    ("POST", "/rekor/api/v1/log/entries/retrieve"),
    ("GET", "/rekor/api/v1/log/proof"),
    ("POST", "/rekor/api/v1/index/retrieve"),
    ("POST", "/rekor-v2/api/v2/log/entries"),
    ("POST", "/tsa/api/v1/timestamp"),
    ("GET", "/oidc/auth"),
    ("POST", "/oidc/token"),
    ("POST", "/oidc/device/code"),
    ("GET", "/oidc/device"),
    ("GET", "/tuf/1.root.json"),
]

BODIES = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b"\xff\xfe\x00",
    b"0" * 400,
    json.dumps({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": []}).encode(),
    json.dumps({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": []}}).encode(),
    json.dumps({"hashedRekordRequestV002": {"digest": [], "signature": "x"}}).encode(),
    json.dumps({"dsseRequestV002": {"envelope": [], "verifiers": {}}}).encode(),
    json.dumps({"credentials": [], "publicKeyRequest": 5}).encode(),
    json.dumps({"entryUUIDs": [None], "logIndexes": [1e300]}).encode(),
    json.dumps({"artifactHash": None, "hashAlgorithm": 5}).encode(),
    b"[" * 5000 + b"]" * 5000,
    b"\x30\x82\xff\xff",
    b"grant_type=authorization_code&code=x&redirect_uri=&code_verifier=%FF",
]

QUERIES = [{}, {"logIndex": "1" * 40, "firstSize": "-1", "lastSize": "1e9"}, {"user_code": "\x00"}]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


DEEP = "[" * 100_000  # deeper than json.loads can go: RecursionError, not ValueError

#: Input that reaches a handler's own parsing: JSON nested inside a field, a
#: field of the wrong type, text that is not ASCII where base64 is expected.
FIELD_CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "POST",
        "/api/v2/signingCert",
        {"credentials": {"oidcIdentityToken": f"{_b64url(DEEP.encode())}.e30.{'A' * 86}"}},
    ),
    (
        "POST",
        "/api/v2/signingCert",
        {"credentials": {"oidcIdentityToken": f"e30.{_b64url(DEEP.encode())}.{'A' * 86}"}},
    ),
    (
        "POST",
        "/rekor/api/v1/log/entries",
        {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {"envelope": DEEP, "verifiers": ["x"]}},
        },
    ),
    (
        "POST",
        "/rekor/api/v1/log/entries",
        {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "signature": {"content": "\u00e9\u00e9\u00e9\u00e9", "publicKey": {"content": "é"}},
                "data": {"hash": {"algorithm": "sha256", "value": "00" * 32}},
            },
        },
    ),
    ("POST", "/tsa/api/v1/timestamp", {"hashAlgorithm": ["sha256"], "artifactHash": "AA=="}),
    ("POST", "/tsa/api/v1/timestamp", {"hashAlgorithm": {}, "artifactHash": "AA=="}),
]


async def test_fields_are_checked_by_their_handler(caplog: pytest.LogCaptureFixture) -> None:
    # A 4xx that says what is wrong, and no handler leaves an "unchecked input error"
    # (a parsing error it did not catch itself; the router's last resort).
    async with LocalSigstore() as stack, stack.client() as http:
        for method, path, body in FIELD_CASES:
            r = await http.request(method, path, json=body)
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    assert not [rec for rec in caplog.records if "unchecked input" in rec.getMessage()]


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1/€", "http://127.0.0.1/\xff", "http://a/\r\nX-A: b", "http://a/ b"],
)
async def test_authorize_refuses_a_redirect_uri_that_is_not_a_uri(redirect_uri: str) -> None:
    # It would become the Location header: not Latin-1 text cannot be sent, and
    # CR LF would split the header.
    query = {
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.get("/oidc/auth", params=query)
    assert r.status_code == 400
    assert "redirect_uri" in r.json()["message"]


async def test_oversized_body_is_413_over_a_socket_too() -> None:
    # Served by uvicorn, the body limit holds as it does in process.
    async with LocalSigstore(serve=True) as stack, httpx.AsyncClient() as http:
        r = await http.post(
            f"{stack.base_url}/rekor/api/v1/log/entries", content=b" " * (MAX_BODY + 1)
        )
        assert r.status_code == 413
        ok = await http.get(f"{stack.base_url}/api/v2/trustBundle")
    assert ok.status_code == 200


async def test_no_500_for_any_input() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        for method, path in ENDPOINTS:
            cases = (
                [(b"", "application/json", q) for q in QUERIES]
                if method == "GET"
                else [
                    (body, content_type, {})
                    for body in BODIES
                    for content_type in ("application/json", "application/timestamp-query")
                ]
            )
            for body, content_type, query in cases:
                r = await http.request(
                    method, path, content=body, params=query, headers={"content-type": content_type}
                )
                assert r.status_code < 500, (method, path, body[:40], r.text)
                if r.status_code >= 400:
                    assert r.headers["content-type"].startswith(("application/json", "text/plain"))


async def test_oversized_body_is_413() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.post("/rekor/api/v1/log/entries", content=b" " * (8 * 1024 * 1024 + 1))
    assert r.status_code == 413
