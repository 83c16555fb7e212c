"""The async Verifier shell, on asyncio and trio: inputs, batches, isolation of
failures, bounded concurrency, early exit, and not blocking the event loop."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from sigstore_async import (
    Bundle,
    Identity,
    InvalidBundle,
    PolicyError,
    SignatureError,
    TrustMaterial,
    VerificationError,
    Verifier,
    VerifyOutcome,
)
from sigstore_async.trust import embedded_trusted_root
from sigstore_async.verify import Artifact, UnsafeNoOp
from tests._vectors import DEFAULT_IDENTITY, DEFAULT_ISSUER, Case, cases

pytestmark = [pytest.mark.anyio, pytest.mark.vectors]

POLICY = Identity(DEFAULT_IDENTITY, DEFAULT_ISSUER)


def _case(name: str) -> Case:
    for c in cases():
        if c.name == name:
            return c
    pytest.skip("vectors absent")


@pytest.fixture(scope="module")
def production() -> TrustMaterial:
    return TrustMaterial.from_trusted_root(embedded_trusted_root())


async def test_inputs_bytes_path_digest_and_text(production: TrustMaterial) -> None:
    case = _case("happy-path-v0.3")
    v = Verifier(production)
    data = case.artifact.read_bytes()
    text = case.bundle.read_text()
    for artifact in (
        data,
        case.artifact,
        str(case.artifact),
        case.digest,
        Artifact.from_bytes(data),
    ):
        result = await v.verify(case.bundle, artifact, POLICY)
        assert result.identity == DEFAULT_IDENTITY
        assert result.issuer == DEFAULT_ISSUER
    result = await v.verify(text, data, POLICY)
    assert result.verified_times[0].source == "transparency_log"
    assert result.extensions["1.3.6.1.4.1.57264.1.8"] == DEFAULT_ISSUER


@pytest.mark.parametrize(
    ("bundle", "artifact", "error"),
    [
        (None, "sha256:abc", InvalidBundle),  # a digest of the wrong length
        (None, "sha512:" + "0" * 127, InvalidBundle),
        (None, "/tmp/a\0b", InvalidBundle),  # no file system takes it
        ("/tmp/a\0b.json", None, InvalidBundle),
        (None, None, SignatureError),  # a message signature needs the artifact
    ],
)
async def test_unusable_inputs_are_typed_as_verify_many_types_them(
    production: TrustMaterial, bundle: str | None, artifact: str | None, error: type[Exception]
) -> None:
    case = _case("happy-path-v0.3")
    v = Verifier(production)
    given = case.bundle if bundle is None else bundle
    with pytest.raises(error):
        await v.verify(given, artifact, POLICY)
    async with v.verify_many([(given, artifact)], POLICY) as outcomes:
        (outcome,) = [o async for o in outcomes]
    assert isinstance(outcome.error, VerificationError)


async def test_sha512_digest_of_wrong_artifact_is_rejected(production: TrustMaterial) -> None:
    case = _case("happy-path-v0.3")
    v = Verifier(production)
    wrong = "sha512:" + hashlib.sha512(b"not it").hexdigest()
    with pytest.raises(Exception) as info:
        await v.verify(case.bundle, wrong, POLICY)
    assert info.type.__name__ in {"TransparencyLogError", "SignatureError"}


async def test_policy_failure_is_policy_error(production: TrustMaterial) -> None:
    case = _case("happy-path-v0.3")
    v = Verifier(production)
    with pytest.raises(PolicyError):
        await v.verify(case.bundle, case.artifact, Identity("someone@else", DEFAULT_ISSUER))
    with pytest.raises(PolicyError):
        await v.verify(
            case.bundle, case.artifact, Identity(DEFAULT_IDENTITY, issuer_pattern="https://x.*")
        )
    # A full-match regex, not a search: a prefix is not enough.
    with pytest.raises(PolicyError):
        await v.verify(
            case.bundle,
            case.artifact,
            Identity(identity_pattern="https://github.com/", issuer=DEFAULT_ISSUER),
        )
    await v.verify(
        case.bundle,
        case.artifact,
        Identity(
            identity_pattern=r"https://github\.com/sigstore-conformance/.*", issuer=DEFAULT_ISSUER
        ),
    )


async def test_unsafe_noop_logs_a_warning(
    production: TrustMaterial, caplog: pytest.LogCaptureFixture
) -> None:
    case = _case("happy-path-v0.3")
    await Verifier(production).verify(case.bundle, case.artifact, UnsafeNoOp())
    assert any("NOT checked" in r.getMessage() for r in caplog.records)


async def test_dsse_result_carries_statement() -> None:
    case = _case("happy-path-intoto-in-dsse-v3")
    v = Verifier(TrustMaterial.from_trusted_root(embedded_trusted_root()))
    result = await v.verify(case.bundle, case.artifact, POLICY)
    assert result.statement is not None
    assert result.payload_type == "application/vnd.in-toto+json"
    assert result.statement.subjects
    # Without an artifact, the envelope is still verified.
    result2 = await v.verify(case.bundle, None, POLICY)
    assert result2.statement == result.statement
    with pytest.raises(SignatureError):
        await v.verify(case.bundle, b"another artifact", POLICY)


async def _pairs(n: int, good: Case, bad_every: int) -> AsyncIterator[tuple[object, object]]:
    for i in range(n):
        if bad_every and i % bad_every == 0:
            yield (b"{not json", good.artifact)
        else:
            yield (good.bundle, good.digest)


async def test_verify_many_isolates_failures(production: TrustMaterial) -> None:
    good = _case("happy-path-v0.3")
    v = Verifier(production)
    seen: list[VerifyOutcome] = []
    async with v.verify_many(_pairs(50, good, 7), POLICY, concurrency=8) as outcomes:  # type: ignore[arg-type]
        async for outcome in outcomes:
            seen.append(outcome)
    assert sorted(o.index for o in seen) == list(range(50))
    bad = [o for o in seen if not o.ok]
    assert {o.index for o in bad} == {i for i in range(50) if i % 7 == 0}
    assert all(isinstance(o.error, InvalidBundle) for o in bad)
    assert all(o.result is not None for o in seen if o.ok)


async def test_verify_many_unreadable_file_is_an_item_error(
    production: TrustMaterial, tmp_path: Path
) -> None:
    good = _case("happy-path-v0.3")
    v = Verifier(production)
    items = [(good.bundle, good.artifact), (tmp_path / "missing.json", good.artifact)]
    async with v.verify_many(items, POLICY) as outcomes:
        results = {o.index: o async for o in outcomes}
    assert results[0].ok
    assert isinstance(results[1].error, OSError)


async def test_verify_many_malformed_bundle_and_missing_artifact_is_an_item_error(
    production: TrustMaterial, tmp_path: Path
) -> None:
    # Both inputs of one item are bad: the bundle is what is reported, as that
    # item's outcome; the InvalidBundle once escaped and cancelled the batch.
    good = _case("happy-path-v0.3")
    v = Verifier(production)
    bad = ("{}", str(tmp_path / "missing-artifact"))
    items = [(good.bundle, good.digest)] * 3 + [bad] + [(good.bundle, good.digest)] * 3
    async with v.verify_many(items, POLICY) as outcomes:  # type: ignore[arg-type]
        results = {o.index: o async for o in outcomes}
    assert sorted(results) == list(range(7))
    assert isinstance(results[3].error, InvalidBundle)
    assert all(results[i].ok for i in range(7) if i != 3)


async def test_verify_many_bounds_concurrency_and_reads_input_lazily(
    production: TrustMaterial,
) -> None:
    good = _case("happy-path-v0.3")
    v = Verifier(production)
    pulled = 0

    async def source() -> AsyncIterator[tuple[object, object]]:
        nonlocal pulled
        for _ in range(1000):
            pulled += 1
            yield (good.bundle, good.digest)

    async with v.verify_many(source(), POLICY, concurrency=4) as outcomes:  # type: ignore[arg-type]
        got = 0
        async for _ in outcomes:
            got += 1
            if got == 10:
                break
    # Leaving early cancelled the rest; backpressure kept the input mostly unread.
    assert pulled < 40


async def test_verify_many_rejects_bad_concurrency(production: TrustMaterial) -> None:
    with pytest.raises(ValueError):
        async with Verifier(production).verify_many([], POLICY, concurrency=0):
            pass


async def test_event_loop_is_not_blocked(production: TrustMaterial) -> None:
    """While a batch verifies, the loop keeps ticking: the longest gap between
    ticks of a 5 ms heartbeat stays far below the batch's duration."""
    good = _case("happy-path-v0.3")
    v = Verifier(production)
    gaps: list[float] = []
    done = anyio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await anyio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(heartbeat)
        async with v.verify_many(
            [(good.bundle, good.artifact)] * 200, POLICY, concurrency=16
        ) as out:
            async for o in out:
                assert o.ok, o.error
        done.set()
    total = time.perf_counter() - start
    # A blocked loop would show as one gap about as long as the batch and
    # almost no ticks; scheduling noise on a loaded machine shows as neither.
    assert len(gaps) >= 5, (len(gaps), total)
    assert max(gaps) < max(0.5, total / 2), (max(gaps), total)


async def test_cache_is_shared_and_bounded(production: TrustMaterial) -> None:
    good = _case("happy-path-v0.3")
    v = Verifier(production)
    for _ in range(3):
        await v.verify(good.bundle, good.artifact, POLICY)
    assert v.cache.hits > 0
    v.cache.clear()


def test_results_and_errors_carry_paths(vectors: object) -> None:
    case = _case("bundle-negative-log-index_fail")
    with pytest.raises(InvalidBundle) as info:
        Bundle.from_json(case.bundle.read_bytes())
    assert info.value.path == "$.verificationMaterial.tlogEntries[0].logIndex"
    assert info.value.step == "bundle"
    assert "logIndex" in str(info.value)


def test_json_output_is_parseable_by_cli(
    vectors: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from sigstore_async.cli import main

    good = _case("happy-path-v0.3")
    bad = _case("wrong-material_fail")
    status = main(
        [
            "verify", "--offline", "--json",
            "--identity", DEFAULT_IDENTITY, "--issuer", DEFAULT_ISSUER,
            "--bundle", str(good.bundle), "--bundle", str(bad.bundle),
            str(good.artifact), str(bad.artifact),
        ]
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert status == 1
    assert out["verified"] == 1
    assert out["failed"] == 1
    assert out["results"][0]["verified"] is True
    assert out["results"][1]["error"]["step"] == "transparency log"


def test_cli_human_output_and_usage_errors(
    vectors: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from sigstore_async.cli import main

    good = _case("happy-path-v0.3")
    argv = ["verify", "--offline", "--identity", DEFAULT_IDENTITY, "--issuer", DEFAULT_ISSUER]
    assert main([*argv, "--bundle", str(good.bundle), good.digest]) == 0
    assert "1 verified, 0 failed" in capsys.readouterr().out
    # A digest without its bundle, or mismatched counts, is a usage error.
    assert main([*argv, good.digest]) == 2
    assert main([*argv, "--bundle", str(good.bundle), good.digest, good.digest]) == 2
    assert main(["verify", "--offline", "--issuer", DEFAULT_ISSUER, good.digest]) == 2
    # A digest of the right form but the wrong length: a usage error, not a traceback.
    capsys.readouterr()
    assert main([*argv, "--bundle", str(good.bundle), "sha512:00"]) == 2
    assert "sha512 digest must have 64 bytes" in capsys.readouterr().err
