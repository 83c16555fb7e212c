"""Fault knobs: errors, Retry-After, dropped connections, latency, counters."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from sigstore_async.testing import LocalSigstore, ServiceFaults

from ._local import b64

pytestmark = pytest.mark.anyio

TS_JSON = {"artifactHash": b64(hashlib.sha256(b"sig").digest())}


async def test_fail_next_then_recover_and_count() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        stack.faults["tsa"].fail_next = 2
        statuses = [
            (await http.post("/tsa/api/v1/timestamp", json=TS_JSON)).status_code for _ in range(3)
        ]
    assert statuses == [503, 503, 200]
    assert stack.requests["POST /tsa/api/v1/timestamp"] == 3
    assert stack.request_count("tsa") == 3


async def test_every_request_fails_with_503() -> None:
    faults = {"rekor": ServiceFaults(error_rate=1.0, error_status=503)}
    async with LocalSigstore(faults=faults) as stack, stack.client() as http:
        r = await http.get("/rekor/api/v1/log")
        assert r.status_code == 503
        assert "injected" in r.json()["message"]
        assert "retry-after" not in r.headers
        # Other services are unaffected.
        assert (await http.get("/api/v2/trustBundle")).status_code == 200
        stack.faults["rekor"].error_rate = 0.0
        assert (await http.get("/rekor/api/v1/log")).status_code == 200
    assert stack.requests["GET /rekor/api/v1/log"] == 2


@pytest.mark.parametrize(("retry_after", "header"), [(2, "2"), (0.25, "0.25")])
async def test_429_with_retry_after(retry_after: float, header: str) -> None:
    faults = {"fulcio": ServiceFaults(fail_next=1, error_status=429, retry_after=retry_after)}
    async with LocalSigstore(faults=faults) as stack, stack.client() as http:
        r = await http.get("/api/v2/trustBundle")
    assert r.status_code == 429
    assert r.headers["retry-after"] == header


async def test_dropped_connection_in_process() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        stack.faults["oidc"].drop_next = 1
        with pytest.raises(httpx.RemoteProtocolError, match="fault injection"):
            await http.get("/oidc/keys")
        assert (await http.get("/oidc/keys")).status_code == 200


async def test_dropped_connection_served() -> None:
    async with LocalSigstore(serve=True) as stack:
        stack.faults["tuf"].drop_next = 1
        async with httpx.AsyncClient(base_url=stack.base_url) as http:
            with pytest.raises(httpx.TransportError):
                await http.get("/tuf/timestamp.json")
            assert (await http.get("/tuf/timestamp.json")).status_code == 200


async def test_latency() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        stack.faults["oidc"].latency = 0.2
        start = time.monotonic()
        await http.get("/oidc/.well-known/openid-configuration")
        assert time.monotonic() - start >= 0.2


async def test_random_faults_follow_the_seed() -> None:
    async def pattern(seed: int) -> list[int]:
        faults = {"tsa": ServiceFaults(error_rate=0.5, error_status=500)}
        async with LocalSigstore(faults=faults, seed=seed) as stack, stack.client() as http:
            return [
                (await http.post("/tsa/api/v1/timestamp", json=TS_JSON)).status_code
                for _ in range(12)
            ]

    first = await pattern(7)
    assert first == await pattern(7)
    assert set(first) == {200, 500}


def test_knob_validation() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        ServiceFaults(error_rate=1.5)
    with pytest.raises(ValueError, match="drop_rate"):
        ServiceFaults(drop_rate=-0.1)
    knobs = ServiceFaults()
    with pytest.raises(ValueError, match="error_status"):
        knobs.error_status = 418  # validated on assignment too
    with pytest.raises(ValueError, match="latency"):
        knobs.latency = -1
