"""Verification holds on to nothing: no reference kept, no memory growing per bundle.

A reference-counting leak shows in the compiled build (mypyc) only, where
instances of a compiled subclass of an extensible compiled class were never
freed: every DER reader over an RFC 3161 token or a certificate extension kept
its buffer alive (about 200 bytes per Rekor v1 bundle, 2.6 KB per Rekor v2
bundle). The pure build and the
compiled one run these tests alike (.ci/run runs both).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from sigstore_async import Bundle, Identity, TrustMaterial
from sigstore_async._core import der, rfc3161, sct
from sigstore_async._core import x509 as cx509
from sigstore_async.trust import embedded_trusted_root
from sigstore_async.verify import Artifact
from sigstore_async.verify.core import verify_bundle
from tests._vectors import Case, cases

CASES = ["happy-path-v0.3", "rekor2-happy-path"]


def _case(name: str) -> Case:
    for c in cases():
        if c.name == name:
            return c
    pytest.skip("vectors absent")


def _verifier(case: Case) -> tuple[Bundle, Callable[[Bundle], None]]:
    trust = (
        TrustMaterial.from_json(case.trusted_root.read_bytes())
        if case.trusted_root is not None
        else TrustMaterial.from_trusted_root(embedded_trusted_root("production"))
    )
    policy = Identity(case.identity, case.issuer)
    data = case.artifact.read_bytes()
    bundle = Bundle.from_json(case.bundle.read_bytes())
    now = datetime.now(UTC)

    def verify(b: Bundle) -> None:
        verify_bundle(b, artifact=Artifact.from_bytes(data), policy=policy, trust=trust, now=now)

    return bundle, verify


@pytest.mark.vectors
@pytest.mark.parametrize("name", CASES)
def test_no_reference_to_the_bundles_bytes_survives_a_verification(name: str) -> None:
    bundle, verify = _verifier(_case(name))
    material = bundle.material
    held = [material.certificate.raw_bytes if material.certificate else b""]
    held += list(material.timestamps)
    held += [e.canonicalized_body for e in material.tlog_entries]
    verify(bundle)  # memos that outlive a call fill here, once
    gc.collect()
    before = [sys.getrefcount(x) for x in held]
    for _ in range(10):
        verify(bundle)
    gc.collect()
    assert [sys.getrefcount(x) for x in held] == before


def test_der_readers_are_freed() -> None:
    buf = bytes.fromhex("3006020101020102")  # SEQUENCE { INTEGER 1, INTEGER 2 }
    before = sys.getrefcount(buf)
    makers = [
        lambda: der.Reader(buf),
        lambda: der.Reader(buf).enter(0x30),
        lambda: rfc3161._der(buf).enter(0x30),
        lambda: cx509._leaf_reader(buf).enter(0x30),
        lambda: sct._sct_list_reader(buf),
    ]
    for make in makers:
        for _ in range(5):
            make()
        gc.collect()
        assert sys.getrefcount(buf) == before
