"""The Verifier's process mode (``offload="process"``), on asyncio and trio, and the
keys of the cache of pure checks: every input a cached result depends on."""

from __future__ import annotations

import base64
import json
import pickle
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sigstore_async import (
    Bundle,
    Identity,
    InvalidBundle,
    TransparencyLogError,
    TrustMaterial,
    VerificationError,
    Verifier,
    VerifyingKey,
)
from sigstore_async.trust import embedded_trusted_root
from sigstore_async.verify import Artifact, Custom, VerifyCache, verify_bundle
from sigstore_async.verify import verifier as verifier_module
from sigstore_async.verify.core import VerificationOptions
from tests._vectors import DEFAULT_IDENTITY, DEFAULT_ISSUER, Case, cases

pytestmark = pytest.mark.vectors

POLICY = Identity(DEFAULT_IDENTITY, DEFAULT_ISSUER)


def _case(name: str) -> Case:
    for c in cases():
        if c.name == name:
            return c
    pytest.skip("vectors absent")


@pytest.fixture(scope="module")
def production() -> TrustMaterial:
    return TrustMaterial.from_trusted_root(embedded_trusted_root())


@pytest.mark.anyio
async def test_process_mode_verifies_like_thread_mode(
    production: TrustMaterial, anyio_backend: str
) -> None:
    case = _case("happy-path-v0.3")
    in_process = Verifier(production, offload="process", processes=1)
    in_thread = Verifier(production)
    for artifact in (case.artifact, case.digest, case.artifact.read_bytes()):
        got = await in_process.verify(case.bundle, artifact, POLICY)
        want = await in_thread.verify(case.bundle, artifact, POLICY)
        assert got == want
        assert got.identity == DEFAULT_IDENTITY


@pytest.mark.anyio
async def test_process_mode_rejections_are_typed_errors(
    production: TrustMaterial, anyio_backend: str
) -> None:
    case = _case("wrong-material_fail")
    v = Verifier(production, offload="process", processes=1)
    with pytest.raises(TransparencyLogError) as info:
        await v.verify(case.bundle, case.artifact, POLICY)
    assert info.value.step == "transparency log"
    assert info.value.path == "$.verificationMaterial.tlogEntries[0]"
    with pytest.raises(InvalidBundle):
        await v.verify(b"{not json", case.artifact, POLICY)


@pytest.mark.anyio
async def test_process_mode_with_a_key_and_its_own_trust_root(anyio_backend: str) -> None:
    case = _case("managed-key-happy-path")
    assert case.key is not None
    trust = (
        TrustMaterial.from_json(case.trusted_root.read_bytes())
        if case.trusted_root
        else TrustMaterial.from_trusted_root(embedded_trusted_root())
    )
    v = Verifier(trust, offload="process", processes=1)
    # Key objects do not pickle: the key crosses to the worker as DER.
    key = VerifyingKey.from_pem(case.key.read_bytes())
    result = await v.verify(case.bundle, case.artifact, key=key)
    assert result.certificate is None


@pytest.mark.anyio
async def test_process_mode_batch_isolates_failures(
    production: TrustMaterial, anyio_backend: str
) -> None:
    good = _case("happy-path-v0.3")
    bad = _case("wrong-material_fail")
    v = Verifier(production, offload="process", processes=2)
    items: list[tuple[object, object]] = []
    for i in range(40):
        if i % 10 == 3:
            items.append((b"{not json", good.digest))
        elif i % 10 == 7:
            items.append((bad.bundle, bad.artifact))
        else:
            items.append((good.bundle, good.digest))
    async with v.verify_many(items, POLICY, concurrency=16) as outcomes:  # type: ignore[arg-type]
        seen = {o.index: o async for o in outcomes}
    assert sorted(seen) == list(range(40))
    for i, outcome in seen.items():
        if i % 10 == 3:
            assert isinstance(outcome.error, InvalidBundle)
        elif i % 10 == 7:
            assert isinstance(outcome.error, TransparencyLogError)
        else:
            assert outcome.ok, outcome.error
            assert outcome.result is not None
            assert outcome.result.identity == DEFAULT_IDENTITY


@pytest.mark.anyio
async def test_process_mode_batch_can_be_left_early(
    production: TrustMaterial, anyio_backend: str
) -> None:
    good = _case("happy-path-v0.3")
    v = Verifier(production, offload="process", processes=2)
    pulled = 0

    def source() -> object:
        nonlocal pulled
        for _ in range(10_000):
            pulled += 1
            yield (good.bundle, good.digest)

    got = 0
    async with v.verify_many(source(), POLICY, concurrency=8) as outcomes:  # type: ignore[arg-type]
        async for outcome in outcomes:
            assert outcome.ok, outcome.error
            got += 1
            if got == 5:
                break
    assert pulled < 100


@pytest.mark.anyio
async def test_process_mode_needs_a_policy_that_pickles(
    production: TrustMaterial, anyio_backend: str
) -> None:
    case = _case("happy-path-v0.3")
    v = Verifier(production, offload="process")
    policy = Custom(lambda identity: None)
    with pytest.raises(TypeError, match="pickles"):
        await v.verify(case.bundle, case.artifact, policy)
    with pytest.raises(TypeError, match="pickles"):
        async with v.verify_many([(case.bundle, case.artifact)], policy):
            pass


def test_bad_offload_arguments(production: TrustMaterial) -> None:
    with pytest.raises(ValueError, match="offload"):
        Verifier(production, offload="fork")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="processes"):
        Verifier(production, offload="process", processes=0)


def test_results_and_errors_pickle(production: TrustMaterial) -> None:
    case = _case("happy-path-intoto-in-dsse-v3")
    result = verify_bundle(
        Bundle.from_json(case.bundle.read_bytes()),
        artifact=Artifact.from_bytes(case.artifact.read_bytes()),
        policy=POLICY,
        trust=production,
        now=datetime.now(UTC),
    )
    assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301 - our own bytes
    error = TransparencyLogError("x", path="$.a")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (type(again), again.message, again.path) == (TransparencyLogError, "x", "$.a")


def test_a_worker_gets_the_trust_root_only_once(production: TrustMaterial) -> None:
    """The worker function, called in this process: it asks for the trust root
    it lacks, parses it once, and reuses it (and its cache) afterwards."""
    case = _case("happy-path-v0.3")
    fingerprint = b"test-fingerprint" + production.fingerprint
    document = production.trusted_root.to_json().encode()
    work = [(case.bundle.read_bytes(), Artifact.from_digest(case.digest))]
    options = VerificationOptions()
    now = datetime.now(UTC)
    call = verifier_module._verify_chunk_in_worker
    try:
        assert call(fingerprint, None, work, POLICY, None, options, now) == "need-trust"
        first = call(fingerprint, document, work, POLICY, None, options, now)
        assert isinstance(first, list)
        trust, cache = verifier_module._WORKER_TRUST[fingerprint]
        again = call(fingerprint, None, work * 2, POLICY, None, options, now)
        assert isinstance(again, list)
        assert len(again) == 2
        assert all(not isinstance(a, Exception) for a in again)
        assert verifier_module._WORKER_TRUST[fingerprint][0] is trust
        assert cache.hits > 0
    finally:
        verifier_module._WORKER_TRUST.pop(fingerprint, None)


# --- the keys of the cache -----------------------------------------------------------------


def _with_other_rekor_key(root_json: bytes) -> TrustMaterial:
    """The production root with Rekor v1's key replaced and its log id kept."""
    doc = json.loads(root_json)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = other.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for log in doc["tlogs"]:
        if log["baseUrl"] == "https://rekor.sigstore.dev":
            log["publicKey"]["rawBytes"] = base64.b64encode(spki).decode()
    return TrustMaterial.from_json(json.dumps(doc))


def test_a_shared_cache_never_vouches_for_another_key(production: TrustMaterial) -> None:
    """A SET and a checkpoint verified under one log key are not taken as
    verified under another key that carries the same log id."""
    case = _case("happy-path-v0.3")
    bundle = Bundle.from_json(case.bundle.read_bytes())
    artifact = Artifact.from_bytes(case.artifact.read_bytes())
    now = datetime.now(UTC)
    cache = VerifyCache()
    verify_bundle(bundle, artifact=artifact, policy=POLICY, trust=production, now=now, cache=cache)
    impostor = _with_other_rekor_key(production.trusted_root.to_json().encode())
    with pytest.raises(TransparencyLogError):
        verify_bundle(
            bundle, artifact=artifact, policy=POLICY, trust=impostor, now=now, cache=cache
        )


def test_a_shared_cache_never_vouches_for_another_artifact(production: TrustMaterial) -> None:
    case = _case("happy-path-v0.3")
    bundle = Bundle.from_json(case.bundle.read_bytes())
    now = datetime.now(UTC)
    cache = VerifyCache()
    verify_bundle(
        bundle,
        artifact=Artifact.from_digest(case.digest),
        policy=POLICY,
        trust=production,
        now=now,
        cache=cache,
    )
    # Same digest in the log entry's place, other bytes: the signature is checked again.
    impostor = Artifact(digests=Artifact.from_digest(case.digest).digests, data=b"other bytes")
    with pytest.raises(VerificationError):
        verify_bundle(
            bundle, artifact=impostor, policy=POLICY, trust=production, now=now, cache=cache
        )
