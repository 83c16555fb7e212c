"""Network behaviour: retries under injected faults, Rekor v1 conflicts, and a
1,000-artifact batch against services failing a fifth of their requests."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sigstore_async._http import new_client
from sigstore_async.errors import NetworkError, ServiceError, SigstoreError
from sigstore_async.rekor.v1 import RekorV1Client
from sigstore_async.sign.assembly import parse_rekor_v1_entry
from sigstore_async.sign.signer import Signer
from sigstore_async.testing import LocalSigstore, ServiceFaults
from sigstore_async.trust import TrustMaterial
from sigstore_async.verify import Identity, Verifier

from .conftest import FAST_RETRY, FakeClock

pytestmark = pytest.mark.anyio


async def test_transient_failures_are_retried(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    stack.faults["fulcio"].fail_next = 2
    stack.faults["rekor"].error_status = 429
    stack.faults["rekor"].retry_after = 0.01
    stack.faults["rekor"].fail_next = 2
    stack.faults["tsa"].drop_next = 2
    async with Signer(
        stack.issue_token(),
        signing_config=stack.signing_config,
        trust=trust,
        transport=stack.transport,
        clock=clock,
        retry=FAST_RETRY,
    ) as signer:
        await signer.sign(b"x")
    assert stack.request_count("fulcio") == 3
    assert stack.requests["POST /rekor/api/v1/log/entries"] == 3
    assert stack.request_count("tsa") == 3


async def test_retries_are_bounded(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    async with Signer(
        stack.issue_token(),
        signing_config=stack.signing_config,
        trust=trust,
        transport=stack.transport,
        clock=clock,
        retry=FAST_RETRY,
    ) as signer:
        stack.faults["rekor"].error_rate = 1.0
        with pytest.raises(ServiceError) as info:
            await signer.sign(b"x")
        assert info.value.status == 503
        assert stack.requests["POST /rekor/api/v1/log/entries"] == FAST_RETRY.attempts
        stack.faults["rekor"].error_rate = 0.0
        stack.faults["tsa"].drop_rate = 1.0
        with pytest.raises(NetworkError):
            await signer.sign(b"x")


async def test_a_client_error_is_not_retried(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    async with new_client(transport=stack.transport) as http:
        client = RekorV1Client(http, stack.rekor_url, retry=FAST_RETRY)
        with pytest.raises(ServiceError) as info:
            await client.create_entry({"kind": "nonsense"})
    assert info.value.status == 400
    assert stack.requests["POST /rekor/api/v1/log/entries"] == 1


async def test_rekor_v1_conflict_resolves_to_the_existing_entry(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    # Sign once, then submit exactly the same proposal again: Rekor answers
    # 409 with a Location, and the client fetches the entry it names.
    async with Signer(
        stack.issue_token(),
        signing_config=stack.signing_config,
        trust=trust,
        transport=stack.transport,
        clock=clock,
    ) as signer:
        bundle = await signer.sign(b"x")
    (entry,) = bundle.material.tlog_entries
    body = json.loads(entry.canonicalized_body)
    async with new_client(transport=stack.transport) as http:
        again = await RekorV1Client(http, stack.rekor_url).create_entry(body)
    assert stack.requests["GET /rekor/api/v1/log/entries/{uuid}"] == 1
    existing = parse_rekor_v1_entry(again)
    assert existing.log_index == entry.log_index
    assert existing.canonicalized_body == entry.canonicalized_body


@pytest.mark.slow
# Each log version once, on each backend once: the four combinations add time, not coverage.
@pytest.mark.parametrize(("anyio_backend", "log"), [("asyncio", "v1"), ("trio", "v2")])
async def test_a_thousand_artifacts_under_faults(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock, log: str
) -> None:
    """20% of requests to every signing service fail (500/503/429 or a dropped
    connection): every input ends with exactly one outcome, a valid bundle or
    a typed error after bounded retries."""
    for service, status in (("fulcio", 500), ("rekor", 503), ("rekor_v2", 503), ("tsa", 429)):
        stack.faults.services[service] = ServiceFaults(
            error_rate=0.15, drop_rate=0.05, error_status=status, retry_after=0.001
        )
    items = [f"artifact {i}".encode() for i in range(1000)]
    async with (
        Signer(
            stack.issue_token(),
            signing_config=stack.make_signing_config(rekor_v2=log == "v2"),
            trust=trust,
            transport=stack.transport,
            clock=clock,
            retry=FAST_RETRY,
        ) as signer,
        signer.sign_many(items, concurrency=200) as results,
    ):
        outcomes = [o async for o in results]
    indexes = Counter(o.index for o in outcomes)
    assert sorted(indexes) == list(range(1000))
    assert set(indexes.values()) == {1}
    failed = [o for o in outcomes if not o.ok]
    assert all(isinstance(o.error, SigstoreError) for o in failed)
    assert all(o.bundle is None for o in failed)
    assert len(failed) < 20
    # Every bundle verifies on its own, for its own artifact.
    verifier = Verifier(trust, clock=clock)
    pairs = [(o.bundle, items[o.index]) for o in outcomes if o.bundle is not None]
    async with verifier.verify_many(
        pairs, Identity("signer@example.com", issuer_pattern=".*")
    ) as vs:
        verified = [v async for v in vs]
    assert len(verified) == len(pairs)
    assert all(v.ok for v in verified), [v.error for v in verified if v.error][:3]
    # Faults were really injected.
    assert stack.request_count("tsa") > 1100
