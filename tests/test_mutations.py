"""Mutation tests: every happy-path vector, with one piece of evidence changed,
must be rejected with a VerificationError, and nothing may crash.

Each mutation targets one field that verification depends on: signatures,
digests, proof hashes, log ids, indexes, times, certificate bytes, bodies,
checkpoints, SETs and timestamp tokens.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from sigstore_async import (
    Bundle,
    Identity,
    TransparencyLogError,
    TrustMaterial,
    VerificationError,
    VerifyingKey,
)
from sigstore_async.trust import embedded_trusted_root
from sigstore_async.verify import Artifact, VerifyCache, verify_bundle
from tests._vectors import Case, cases

pytestmark = pytest.mark.vectors

NOW = datetime(2026, 11, 26, tzinfo=UTC)
PASSING = [c for c in cases() if c.should_pass]
_PRODUCTION: TrustMaterial | None = None

Mutation = tuple[str, Callable[[dict[str, Any]], None]]


def _trust(case: Case) -> TrustMaterial:
    global _PRODUCTION
    if case.trusted_root is not None:
        return TrustMaterial.from_json(case.trusted_root.read_bytes())
    if _PRODUCTION is None:
        _PRODUCTION = TrustMaterial.from_trusted_root(embedded_trusted_root())
    return _PRODUCTION


def _verify(
    case: Case, data: dict[str, Any], trust: TrustMaterial, cache: VerifyCache | None = None
) -> None:
    bundle = Bundle.from_dict(data)
    artifact = Artifact.from_bytes(case.artifact.read_bytes())
    if case.key is not None:
        verify_bundle(
            bundle,
            artifact=artifact,
            policy=None,
            trust=trust,
            now=NOW,
            key=VerifyingKey.from_pem(case.key.read_bytes()),
            cache=cache,
        )
    else:
        verify_bundle(
            bundle,
            artifact=artifact,
            policy=Identity(case.identity, case.issuer),
            trust=trust,
            now=NOW,
            cache=cache,
        )


def _flip_b64(container: dict[str, Any], key: str, index: int = 0) -> None:
    raw = bytearray(base64.b64decode(container[key]))
    raw[index % len(raw)] ^= 0x01
    container[key] = base64.b64encode(bytes(raw)).decode()


def _bump(container: dict[str, Any], key: str, by: int = 1) -> None:
    container[key] = str(int(container.get(key, "0")) + by)


def _mutations(data: dict[str, Any]) -> Iterator[Mutation]:
    vm = data["verificationMaterial"]
    if "messageSignature" in data:
        for i in (0, 8, -1):
            yield f"signature[{i}]", lambda d, i=i: _flip_b64(d["messageSignature"], "signature", i)
        if "messageDigest" in data["messageSignature"]:
            yield (
                "message digest",
                lambda d: _flip_b64(d["messageSignature"]["messageDigest"], "digest", 3),
            )
    if "dsseEnvelope" in data:
        yield "dsse signature", lambda d: _flip_b64(d["dsseEnvelope"]["signatures"][0], "sig", 10)
        yield "dsse payload", lambda d: _flip_b64(d["dsseEnvelope"], "payload", 20)
        yield "dsse payload type", lambda d: d["dsseEnvelope"].update(payloadType="text/plain")
    if "certificate" in vm:
        der_len = len(base64.b64decode(vm["certificate"]["rawBytes"]))
        for i in range(0, der_len, max(1, der_len // 48)):
            yield (
                f"certificate byte {i}",
                lambda d, i=i: _flip_b64(d["verificationMaterial"]["certificate"], "rawBytes", i),
            )
    if "x509CertificateChain" in vm:
        leaf = vm["x509CertificateChain"]["certificates"][0]
        der_len = len(base64.b64decode(leaf["rawBytes"]))
        for i in range(0, der_len, max(1, der_len // 48)):
            yield (
                f"leaf byte {i}",
                lambda d, i=i: _flip_b64(
                    d["verificationMaterial"]["x509CertificateChain"]["certificates"][0],
                    "rawBytes",
                    i,
                ),
            )
    for e, entry in enumerate(vm.get("tlogEntries", [])):

        def at(d: dict[str, Any], e: int = e) -> dict[str, Any]:
            entry_: dict[str, Any] = d["verificationMaterial"]["tlogEntries"][e]
            return entry_

        yield f"entry {e} log id", lambda d, at=at: _flip_b64(at(d)["logId"], "keyId", 5)
        yield f"entry {e} body", lambda d, at=at: _flip_b64(at(d), "canonicalizedBody", 40)
        yield f"entry {e} kind", lambda d, at=at: at(d)["kindVersion"].update(kind="rekord")
        if "integratedTime" in entry:
            yield f"entry {e} integrated time", lambda d, at=at: _bump(at(d), "integratedTime")
        else:
            yield (
                f"entry {e} integrated time added",
                lambda d, at=at: at(d).update(integratedTime="1700000000"),
            )
        if "inclusionPromise" in entry:
            yield f"entry {e} log index", lambda d, at=at: _bump(at(d), "logIndex")
            yield (
                f"entry {e} SET",
                lambda d, at=at: _flip_b64(at(d)["inclusionPromise"], "signedEntryTimestamp", 12),
            )
        proof = entry.get("inclusionProof")
        if proof:
            yield (
                f"entry {e} proof index",
                lambda d, at=at: _bump(at(d)["inclusionProof"], "logIndex"),
            )
            yield (
                f"entry {e} tree size",
                lambda d, at=at: _bump(at(d)["inclusionProof"], "treeSize"),
            )
            yield (
                f"entry {e} root hash",
                lambda d, at=at: _flip_b64(at(d)["inclusionProof"], "rootHash", 0),
            )
            for h in range(len(proof.get("hashes", []))):
                yield (
                    f"entry {e} proof hash {h}",
                    lambda d, at=at, h=h: _flip_b64(
                        at(d)["inclusionProof"]["hashes"],
                        h,
                        7,  # type: ignore[arg-type]
                    ),
                )
            yield f"entry {e} checkpoint size", lambda d, at=at: _edit_checkpoint(at(d), 1)
            yield f"entry {e} checkpoint root", lambda d, at=at: _edit_checkpoint(at(d), 2)
            yield f"entry {e} checkpoint origin", lambda d, at=at: _edit_checkpoint(at(d), 0)
    tsd = vm.get("timestampVerificationData", {}).get("rfc3161Timestamps", [])
    for t, ts in enumerate(tsd):
        token = base64.b64decode(ts["signedTimestamp"])
        for label, pos in _token_positions(token, data):
            yield (
                f"timestamp {t} {label}",
                lambda d, t=t, pos=pos: _flip_b64(
                    d["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][t],
                    "signedTimestamp",
                    pos,
                ),
            )


def _edit_checkpoint(entry: dict[str, Any], line: int) -> None:
    cp = entry["inclusionProof"]["checkpoint"]
    body, sep, sigs = cp["envelope"].partition("\n\n")
    lines = body.split("\n")
    if line == 1:
        lines[1] = str(int(lines[1]) + 1)
    elif line == 2:
        raw = bytearray(base64.b64decode(lines[2]))
        raw[0] ^= 1
        lines[2] = base64.b64encode(bytes(raw)).decode()
    else:
        lines[0] = lines[0] + "x"
    cp["envelope"] = "\n".join(lines) + sep + sigs


def _token_positions(token: bytes, data: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """Bytes of an RFC 3161 token that verification depends on."""
    yield "signature value", len(token) - 5
    sig_b64 = (
        data["messageSignature"]["signature"]
        if "messageSignature" in data
        else data["dsseEnvelope"]["signatures"][0]["sig"]
    )
    import hashlib

    imprint = hashlib.sha256(base64.b64decode(sig_b64)).digest()
    at = token.find(imprint)
    if at >= 0:
        yield "message imprint", at + 3
    gen = token.find(b"\x18\x0f")  # GeneralizedTime, 15 bytes: YYYYMMDDHHMMSSZ
    if gen >= 0:
        yield "genTime", gen + 2 + 9  # the hour's second digit


def _mutation_params() -> list[Any]:
    params = []
    for case in PASSING:
        data = json.loads(case.bundle.read_text())
        for label, _ in _mutations(data):
            params.append(pytest.param(case, label, id=f"{case.name}:{label}"))
    return params or [pytest.param(None, "", id="no-vectors")]


@pytest.mark.parametrize("case", PASSING or [None], ids=[c.name for c in PASSING] or ["none"])
def test_unmutated_vectors_pass(case: Case | None, vectors: object) -> None:
    if case is None:
        pytest.skip("no vectors")
    _verify(case, json.loads(case.bundle.read_text()), _trust(case))


@pytest.mark.parametrize(("case", "label"), _mutation_params())
def test_mutation_is_rejected(case: Case | None, label: str, vectors: object) -> None:
    if case is None:
        pytest.skip("no vectors")
    data = json.loads(case.bundle.read_text())
    mutate = dict(_mutations(copy.deepcopy(data)))[label]
    mutated = copy.deepcopy(data)
    mutate(mutated)
    assert mutated != data, "the mutation changed nothing"
    with pytest.raises(VerificationError) as info:
        _verify(case, mutated, _trust(case))
    assert info.value.step


@pytest.mark.parametrize("case", PASSING or [None], ids=[c.name for c in PASSING] or ["none"])
def test_mutations_are_rejected_with_a_warm_shared_cache(
    case: Case | None, vectors: object
) -> None:
    """A batch's cache, warmed by the genuine bundle, vouches for none of its mutations."""
    if case is None:
        pytest.skip("no vectors")
    data = json.loads(case.bundle.read_text())
    trust = _trust(case)
    cache = VerifyCache()
    _verify(case, data, trust, cache)
    assert cache.hits + cache.misses > 0
    for label, mutate in _mutations(copy.deepcopy(data)):
        mutated = copy.deepcopy(data)
        mutate(mutated)
        try:
            _verify(case, mutated, trust, cache)
        except VerificationError:
            pass
        else:
            pytest.fail(f"{case.name}: {label} accepted with a warm cache")
        _verify(case, data, trust, cache)  # and the genuine bundle still passes


@pytest.mark.parametrize(
    "seconds",
    [
        int((NOW + timedelta(days=1)).timestamp()),
        253402300800,  # 10000-01-01: no datetime holds it
        2**63 - 1,  # the largest int64
    ],
)
def test_integrated_time_past_now_is_a_log_error(seconds: int, vectors: object) -> None:
    case = next(c for c in PASSING if c.name == "happy-path-v0.3")
    data = json.loads(case.bundle.read_text())
    data["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = str(seconds)
    with pytest.raises(TransparencyLogError, match="in the future"):
        _verify(case, data, _trust(case))


def test_hand_built_negative_integrated_time_is_a_log_error(vectors: object) -> None:
    # Bundle.from_json refuses it; a bundle built in code reaches the verifier.
    case = next(c for c in PASSING if c.name == "happy-path-v0.3")
    bundle = Bundle.from_json(case.bundle.read_bytes())
    vm = bundle.verification_material
    assert vm is not None
    entry = attrs.evolve(vm.tlog_entries[0], integrated_time=-(2**63))
    odd = attrs.evolve(bundle, verification_material=attrs.evolve(vm, tlog_entries=(entry,)))
    with pytest.raises(TransparencyLogError, match="negative"):
        verify_bundle(
            odd,
            artifact=Artifact.from_bytes(case.artifact.read_bytes()),
            policy=Identity(case.identity, case.issuer),
            trust=_trust(case),
            now=NOW,
        )
