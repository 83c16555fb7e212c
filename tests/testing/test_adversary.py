"""Adversarial modes: each lie of a service is caught by the SDK's verifier."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sigstore_async import (
    CertificateError,
    CertificateTransparencyError,
    Identity,
    PolicyError,
    TimestampError,
    TransparencyLogError,
    VerificationError,
)
from sigstore_async.testing import Adversary, LocalSigstore

from ._local import certificate, hashedrekord_v1, sign, verifier

pytestmark = pytest.mark.anyio

ARTIFACT = b"artifact"

CASES: list[tuple[Adversary, dict[str, bool], type[VerificationError], str]] = [
    # In a tree of one the proof is empty: the lie adds a hash.
    (Adversary.WRONG_INCLUSION_PROOF, {}, TransparencyLogError, "1 hashes, expected 0"),
    (Adversary.WRONG_INCLUSION_PROOF, {"rekor_v2": True}, TransparencyLogError, "expected 0"),
    # In a bigger tree it changes a hash.
    (Adversary.WRONG_INCLUSION_PROOF, {"warm": True}, TransparencyLogError, "root"),
    (
        Adversary.WRONG_INCLUSION_PROOF,
        {"warm": True, "rekor_v2": True},
        TransparencyLogError,
        "root",
    ),
    (Adversary.CHECKPOINT_WRONG_KEY, {}, TransparencyLogError, "does not verify"),
    (Adversary.CHECKPOINT_WRONG_KEY, {"rekor_v2": True}, TransparencyLogError, "does not verify"),
    (Adversary.ENTRY_BODY_MISMATCH, {}, TransparencyLogError, "signature differs"),
    (Adversary.ENTRY_BODY_MISMATCH, {"dsse": True}, TransparencyLogError, "signature differs"),
    (Adversary.ENTRY_BODY_MISMATCH, {"rekor_v2": True}, TransparencyLogError, "signature differs"),
    (Adversary.WRONG_SET, {}, TransparencyLogError, "signed entry timestamp"),
    (Adversary.CERTIFICATE_WRONG_IDENTITY, {}, PolicyError, "mallory@example.com"),
    (Adversary.EXPIRED_CERTIFICATE, {}, CertificateError, "does not chain"),
    (Adversary.WRONG_SCT, {}, CertificateTransparencyError, "does not verify"),
    (Adversary.TIMESTAMP_WRONG_IMPRINT, {"rekor_v2": True}, TimestampError, "not over"),
    (Adversary.TIMESTAMP_WRONG_KEY, {"rekor_v2": True}, TimestampError, "does not verify"),
]


@pytest.mark.parametrize(
    ("mode", "how", "error", "message"),
    CASES,
    ids=[f"{m.value}-{'-'.join(h) or 'v1'}" for m, h, _, _ in CASES],
)
async def test_lies_are_detected(
    mode: Adversary, how: dict[str, bool], error: type[VerificationError], message: str
) -> None:
    how = dict(how)
    async with LocalSigstore() as stack, stack.client() as http:
        if how.pop("warm", False):
            for i in range(3):  # honest entries first, so that proofs have hashes
                await sign(http, stack, b"earlier %d" % i, **how)
        stack.adversary.add(mode)
        bundle = await sign(http, stack, ARTIFACT, **how)
        stack.adversary.clear()
        policy = Identity("alice@example.com", stack.oidc_url)
        with pytest.raises(error, match=message):
            await verifier(stack).verify(bundle, ARTIFACT, policy)


async def test_certificate_for_another_key() -> None:
    """The certificate certifies a key the client does not hold: the client can see
    it, and Rekor refuses an entry whose signature does not match the certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    stack = LocalSigstore(adversary=[Adversary.CERTIFICATE_WRONG_KEY])
    async with stack, stack.client() as http:
        leaf = (await certificate(http, stack, key))[0]
        assert leaf.public_key() != key.public_key()
        sig = key.sign(ARTIFACT, ec.ECDSA(hashes.SHA256()))
        r = await http.post(
            "/rekor/api/v1/log/entries",
            json=hashedrekord_v1(leaf, sig, hashlib.sha256(ARTIFACT).digest()),
        )
    assert r.status_code == 400


async def test_honest_again_after_clearing() -> None:
    async with LocalSigstore(adversary=[Adversary.WRONG_SET]) as stack, stack.client() as http:
        stack.adversary.discard(Adversary.WRONG_SET)
        bundle = await sign(http, stack, ARTIFACT)
        await verifier(stack).verify(
            bundle, ARTIFACT, Identity("alice@example.com", stack.oidc_url)
        )
