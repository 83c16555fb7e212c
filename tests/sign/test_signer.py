"""The Signer against LocalSigstore, in process, on asyncio and trio."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import serialization

from sigstore_async.errors import (
    CertificateError,
    CertificateTransparencyError,
    ExpiredToken,
    IdentityError,
    TimestampError,
    TransparencyLogError,
    TrustError,
)
from sigstore_async.models import Bundle, SigningConfig
from sigstore_async.oidc.token import IdentityToken
from sigstore_async.sign.signer import (
    Attestation,
    KeyType,
    Payload,
    Signer,
    SignInput,
    SignProgress,
    Subject,
    check_issued_certificate,
)
from sigstore_async.testing import Adversary, LocalSigstore
from sigstore_async.trust import TrustMaterial
from sigstore_async.verify import Identity, Verifier
from sigstore_async.verify.artifact import Artifact
from tests.conftest import with_unknown_key_algorithm

from .conftest import FAST_RETRY, FakeClock

pytestmark = pytest.mark.anyio

IDENTITY = "signer@example.com"


def _config(stack: LocalSigstore, log: str, *, tsa: bool = True) -> SigningConfig:
    return stack.make_signing_config(rekor_v2=(log == "v2"), tsa=tsa)


def _signer(
    stack: LocalSigstore,
    trust: TrustMaterial,
    clock: FakeClock,
    log: str = "v1",
    *,
    token: Any = None,
    tsa: bool = True,
    **kwargs: Any,
) -> Signer:
    return Signer(
        token if token is not None else stack.issue_token(IDENTITY),
        signing_config=_config(stack, log, tsa=tsa),
        trust=trust,
        transport=stack.transport,
        clock=clock,
        retry=kwargs.pop("retry", FAST_RETRY),
        **kwargs,
    )


async def _verify(trust: TrustMaterial, clock: FakeClock, bundle: Bundle, artifact: Any) -> None:
    verifier = Verifier(trust, clock=clock)
    policy = Identity(IDENTITY, issuer_pattern=".*")
    await verifier.verify(bundle, artifact, policy)


# --- what it signs ------------------------------------------------------------------------------


@pytest.mark.parametrize("log", ["v1", "v2"])
async def test_sign_bytes_file_and_digest(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock, log: str, tmp_path: Path
) -> None:
    data = b"an artifact\n" * 1000
    path = tmp_path / "artifact.bin"
    path.write_bytes(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    async with _signer(stack, trust, clock, log) as signer:
        for item in (data, path, str(path), digest, Artifact.from_digest(digest)):
            bundle = await signer.sign(item)
            assert bundle.media_type == "application/vnd.dev.sigstore.bundle.v0.3+json"
            vm = bundle.material
            assert vm.certificate is not None
            assert vm.x509_certificate_chain is None
            (entry,) = vm.tlog_entries
            assert entry.kind_version is not None
            expected = ("hashedrekord", "0.0.1" if log == "v1" else "0.0.2")
            assert (entry.kind_version.kind, entry.kind_version.version) == expected
            assert len(vm.timestamps) == 1
            await _verify(trust, clock, bundle, data)
            # Round trip through the JSON that gets written.
            await _verify(trust, clock, Bundle.from_json(bundle.to_json()), path)
        assert stack.fulcio.issued
        assert len(stack.fulcio.issued) == 1


@pytest.mark.parametrize("log", ["v1", "v2"])
@pytest.mark.parametrize("payload_type", ["application/vnd.in-toto+json", "text/plain"])
async def test_sign_dsse(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock, log: str, payload_type: str
) -> None:
    payload = b'{"hello": "world"}'
    if payload_type == "application/vnd.in-toto+json":
        payload = json.dumps(
            {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "x", "digest": {"sha256": "00" * 32}}],
                "predicateType": "https://example.com/p",
            }
        ).encode()
    async with _signer(stack, trust, clock, log) as signer:
        bundle = await signer.sign_dsse(payload, payload_type)
    assert bundle.dsse_envelope is not None
    assert bundle.dsse_envelope.payload == payload
    kv = bundle.material.tlog_entries[0].kind_version
    assert kv is not None
    assert kv.kind == ("dsse" if log == "v1" else "hashedrekord")
    verifier = Verifier(trust, clock=clock)
    if payload_type == "text/plain":
        await verifier.verify(bundle, payload, Identity(IDENTITY, issuer_pattern=".*"))
    else:
        await verifier.verify(bundle, None, Identity(IDENTITY, issuer_pattern=".*"))


@pytest.mark.parametrize("log", ["v1", "v2"])
async def test_attest(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock, log: str, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.whl"
    a.write_bytes(b"aaa")
    b.write_bytes(b"bbb")
    async with _signer(stack, trust, clock, log) as signer:
        bundle = await signer.attest(
            [a, Subject("bee", b), Subject("raw", b"ccc")],
            "https://slsa.dev/provenance/v1",
            {"buildDefinition": {"buildType": "x"}},
        )
    assert bundle.dsse_envelope is not None
    statement = json.loads(bundle.dsse_envelope.payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    names = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert names == {
        "a.tar.gz": hashlib.sha256(b"aaa").hexdigest(),
        "bee": hashlib.sha256(b"bbb").hexdigest(),
        "raw": hashlib.sha256(b"ccc").hexdigest(),
    }
    # Each subject verifies against the attestation.
    for artifact in (a, b, b"ccc"):
        await _verify(trust, clock, bundle, artifact)


async def test_in_toto_payload_must_be_a_statement(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    async with _signer(stack, trust, clock) as signer:
        with pytest.raises(ValueError, match="in-toto statement"):
            await signer.sign_dsse(b"{}", "application/vnd.in-toto+json")
    assert stack.request_count("rekor") == 0


async def test_without_tsa_on_rekor_v1(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    async with _signer(stack, trust, clock, "v1", tsa=False) as signer:
        bundle = await signer.sign(b"x")
    assert bundle.material.timestamp_verification_data is None
    assert stack.request_count("tsa") == 0
    await _verify(trust, clock, bundle, b"x")


async def test_rekor_v2_needs_a_tsa(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    with pytest.raises(TrustError, match="timestamp authority"):
        async with _signer(stack, trust, clock, "v2", tsa=False):
            pass
    assert stack.request_count("fulcio") == 0


@pytest.mark.parametrize(
    ("key_type", "log"),
    [("ecdsa-p384", "v1"), ("ecdsa-p384", "v2"), ("ed25519", "v1")],
)
async def test_key_types(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock, key_type: KeyType, log: str
) -> None:
    async with _signer(stack, trust, clock, log, key_type=key_type) as signer:
        bundle = await signer.attest(b"subject", "https://example.com/predicate")
        await _verify(trust, clock, bundle, b"subject")
        if key_type == "ed25519":
            with pytest.raises(ValueError, match="Ed25519"):
                await signer.sign(b"message")
        else:
            bundle = await signer.sign(b"message")
            assert bundle.message_signature is not None
            assert bundle.message_signature.message_digest is not None
            assert bundle.message_signature.message_digest.algorithm == "SHA2_384"
            await _verify(trust, clock, bundle, b"message")


async def test_ed25519_refuses_rekor_v2(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    with pytest.raises(ValueError, match="Ed25519"):
        async with _signer(stack, trust, clock, "v2", key_type="ed25519"):
            pass


# --- the credential -----------------------------------------------------------------------------


async def test_one_certificate_for_concurrent_signatures(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    async with _signer(stack, trust, clock) as signer:
        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(signer.sign, str(i).encode())
        assert signer.certificates_issued == 1
    assert stack.request_count("fulcio") == 1


async def test_renewed_once_before_expiry(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    async with _signer(stack, trust, clock) as signer:
        first = signer.certificate
        clock.advance(timedelta(minutes=6))  # 10-minute certificates: not yet due
        await signer.sign(b"a")
        assert signer.certificate == first
        clock.advance(timedelta(minutes=2))  # within the last third: renew
        bundles: list[Bundle] = []

        async def sign(i: int) -> None:
            bundles.append(await signer.sign(str(i).encode()))

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(sign, i)
        assert signer.certificates_issued == 2
        assert signer.certificate != first
        assert {b.material.certificate for b in bundles} == {bundles[0].material.certificate}


async def test_batch_longer_than_a_certificate(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    token = stack.issue_token(IDENTITY, lifetime=timedelta(hours=2))

    def tick(progress: SignProgress) -> None:
        clock.advance(timedelta(minutes=1))

    async with (
        _signer(stack, trust, clock, token=token) as signer,
        signer.sign_many(
            [str(i).encode() for i in range(30)], concurrency=2, on_progress=tick
        ) as results,
    ):
        outcomes = [o async for o in results]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if o.error]
    assert signer.certificates_issued >= 4
    assert len({o.bundle.material.certificate for o in outcomes if o.bundle}) >= 4


async def test_expired_token_is_an_identity_error(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    token = stack.issue_token(IDENTITY, lifetime=timedelta(minutes=5))
    clock.advance(timedelta(minutes=6))
    with pytest.raises(ExpiredToken):
        async with _signer(stack, trust, clock, token=token):
            pass
    assert stack.request_count("fulcio") == 0


async def test_token_expiring_mid_batch_uses_the_provider(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return stack.issue_token(IDENTITY, lifetime=timedelta(minutes=5))

    async with _signer(stack, trust, clock, token=provider) as signer:
        await signer.sign(b"a")
        clock.advance(timedelta(minutes=9))  # token expired, certificate due
        await signer.sign(b"b")
    assert calls == 2
    assert signer.certificates_issued == 2


async def test_token_expired_at_renewal_without_provider(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    token = IdentityToken.from_jwt(
        stack.issue_token(IDENTITY, lifetime=timedelta(minutes=5)), now=clock()
    )
    async with _signer(stack, trust, clock, token=token) as signer:
        clock.advance(timedelta(minutes=9))
        with pytest.raises(IdentityError):
            await signer.sign(b"b")
        # A second attempt gets the same failure without asking anyone.
        fulcio = stack.request_count("fulcio")
        with pytest.raises(IdentityError):
            await signer.sign(b"c")
        assert stack.request_count("fulcio") == fulcio


# --- adversaries --------------------------------------------------------------------------------

FULCIO_LIES = [
    (Adversary.CERTIFICATE_WRONG_KEY, CertificateError, "another public key"),
    (Adversary.CERTIFICATE_WRONG_IDENTITY, CertificateError, "identity"),
    (Adversary.EXPIRED_CERTIFICATE, CertificateError, "does not verify"),
    (Adversary.WRONG_SCT, CertificateTransparencyError, "CT log"),
]


@pytest.mark.parametrize(("mode", "error", "match"), FULCIO_LIES, ids=[m[0] for m in FULCIO_LIES])
async def test_fulcio_lies_are_caught(
    stack: LocalSigstore,
    trust: TrustMaterial,
    clock: FakeClock,
    mode: Adversary,
    error: type[Exception],
    match: str,
) -> None:
    stack.adversary.add(mode)
    with pytest.raises(error, match=match):
        async with _signer(stack, trust, clock):
            pass


async def test_a_certified_key_that_cannot_be_read_is_a_certificate_error(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    # A certificate whose key names an algorithm cryptography does not know:
    # public_key() raises UnsupportedAlgorithm, which must not escape the check.
    chain = [c.public_bytes(serialization.Encoding.DER) for c in stack.keys.fulcio.chain]
    with pytest.raises(CertificateError, match="unusable key"):
        check_issued_certificate(
            [with_unknown_key_algorithm(chain[0]), *chain[1:]],
            public_key_der=b"",
            token=IdentityToken.from_jwt(stack.issue_token(IDENTITY), now=clock()),
            trust=trust,
            now=clock(),
        )


LOG_LIES = [
    ("v1", Adversary.WRONG_INCLUSION_PROOF, TransparencyLogError),
    ("v1", Adversary.CHECKPOINT_WRONG_KEY, TransparencyLogError),
    ("v1", Adversary.ENTRY_BODY_MISMATCH, TransparencyLogError),
    ("v1", Adversary.WRONG_SET, TransparencyLogError),
    ("v2", Adversary.WRONG_INCLUSION_PROOF, TransparencyLogError),
    ("v2", Adversary.CHECKPOINT_WRONG_KEY, TransparencyLogError),
    ("v2", Adversary.ENTRY_BODY_MISMATCH, TransparencyLogError),
    ("v1", Adversary.TIMESTAMP_WRONG_IMPRINT, TimestampError),
    ("v2", Adversary.TIMESTAMP_WRONG_KEY, TimestampError),
]


@pytest.mark.parametrize(
    ("log", "mode", "error"), LOG_LIES, ids=[f"{m[0]}-{m[1]}" for m in LOG_LIES]
)
async def test_log_and_tsa_lies_are_caught(
    stack: LocalSigstore,
    trust: TrustMaterial,
    clock: FakeClock,
    log: str,
    mode: Adversary,
    error: type[Exception],
) -> None:
    async with _signer(stack, trust, clock, log) as signer:
        stack.adversary.add(mode)
        with pytest.raises(error):
            await signer.sign(b"artifact")
        with pytest.raises(error):
            await signer.sign_dsse(b"{}", "application/json")
        async with signer.sign_many([b"1", b"2", b"3"]) as results:
            outcomes = [o async for o in results]
        assert sorted(o.index for o in outcomes) == [0, 1, 2]
        assert all(o.bundle is None and isinstance(o.error, error) for o in outcomes)
        stack.adversary.discard(mode)
        await signer.sign(b"honest again")


# --- batches ------------------------------------------------------------------------------------


async def test_sign_many_mixed_inputs(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock, tmp_path: Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_bytes(b"good")
    items: list[Any] = [
        b"bytes",
        good,
        tmp_path / "missing.txt",
        Payload(b"{}", "application/json"),
        Attestation(good, "https://example.com/p"),
        12345,
        "sha256:" + "ab" * 32,
        "sha256:abc",
    ]
    seen: list[int] = []
    async with _signer(stack, trust, clock) as signer:
        async with signer.sign_many(
            items, concurrency=3, on_progress=lambda p: seen.append(p.finished)
        ) as results:
            outcomes = {o.index: o async for o in results}
        progress = results.progress
    assert sorted(outcomes) == list(range(len(items)))
    assert isinstance(outcomes[2].error, OSError)
    assert isinstance(outcomes[5].error, TypeError)
    assert isinstance(outcomes[7].error, ValueError)
    assert sorted(i for i, o in outcomes.items() if o.ok) == [0, 1, 3, 4, 6]
    assert (progress.started, progress.finished, progress.failed) == (8, 8, 3)
    assert progress.total == 8
    assert seen == list(range(1, 9))
    await _verify(trust, clock, outcomes[1].bundle, good)  # type: ignore[arg-type]


async def test_sign_many_async_input_and_backpressure(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    read = 0

    async def items() -> Any:
        nonlocal read
        for i in range(50):
            read += 1
            yield str(i).encode()

    async with (
        _signer(stack, trust, clock) as signer,
        signer.sign_many(items(), concurrency=4) as results,
    ):
        first = await results.receive()
        assert first.ok
        # The input is read only as slots free up: 4 in flight, 4 buffered,
        # 1 received, 1 read ahead waiting for a slot.
        await anyio.sleep(0.05)
        assert read <= 4 + 4 + 1 + 1
        rest = [o async for o in results]
    assert len(rest) + 1 == 50
    assert results.progress.total is None


async def test_leaving_early_cancels_the_rest(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    async with _signer(stack, trust, clock) as signer:
        async with signer.sign_many([str(i).encode() for i in range(100)], concurrency=8) as res:
            async for _ in res:
                break
        assert res.progress.started < 100
        # Still usable afterwards.
        await signer.sign(b"after")


async def test_cancel_scope_around_a_batch(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    stack.faults["rekor"].latency = 0.02
    async with _signer(stack, trust, clock) as signer:
        got = []
        with anyio.CancelScope() as scope:
            async with signer.sign_many(
                [str(i).encode() for i in range(1000)], concurrency=16
            ) as results:
                async for outcome in results:
                    got.append(outcome)
                    if len(got) == 5:
                        scope.cancel()
        assert scope.cancelled_caught
        assert len(got) == 5
        assert all(o.ok for o in got)
        assert results.progress.started < 100
        stack.faults["rekor"].latency = 0.0
        # Nothing is left running: the signer works on, its lock is free.
        await signer.sign(b"after")


async def test_not_open_is_misuse(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    signer = _signer(stack, trust, clock)
    with pytest.raises(RuntimeError):
        await signer.sign(b"x")


SignInput_ = SignInput  # the public alias is importable


async def test_an_error_in_the_consumer_propagates_as_is(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock
) -> None:
    async def consume(signer: Signer) -> None:
        async with signer.sign_many([str(i).encode() for i in range(50)], concurrency=4) as r:
            async for _ in r:
                raise KeyError("consumer bug")

    async with _signer(stack, trust, clock) as signer:
        with pytest.raises(KeyError):
            await consume(signer)


async def test_large_inputs_do_not_block_the_loop(
    stack: LocalSigstore, trust: TrustMaterial, clock: FakeClock, tmp_path: Path
) -> None:
    """Hashing a large file or large bytes happens in a worker thread: a 5 ms
    heartbeat keeps ticking meanwhile."""
    big = tmp_path / "big.bin"
    chunk = b"\x5a" * (1 << 20)
    with big.open("wb") as f:
        for _ in range(48):
            f.write(chunk)
    gaps: list[float] = []
    done = anyio.Event()

    async def heartbeat() -> None:
        last = anyio.current_time()
        while not done.is_set():
            await anyio.sleep(0.005)
            now = anyio.current_time()
            gaps.append(now - last)
            last = now

    async with _signer(stack, trust, clock) as signer, anyio.create_task_group() as tg:
        tg.start_soon(heartbeat)
        start = anyio.current_time()
        await signer.sign(big)
        await signer.sign(chunk * 16)
        total = anyio.current_time() - start
        done.set()
    assert gaps
    # Blocked, the loop would miss a beat for the whole hashing time.
    assert max(gaps) < max(0.1, total / 3), (max(gaps), total)
