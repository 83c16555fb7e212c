"""Garbage in, a 4xx out: no endpoint answers malformed input with a 500."""

from __future__ import annotations

import json

import pytest

from sigstore_async.testing import LocalSigstore

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
