"""Artifact values: digests of bytes in memory, digest strings, streamed files."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigstore_async.verify import Artifact
from sigstore_async.verify.artifact import ArtifactHasher

EXPECTED = {"SHA2_256": hashlib.sha256, "SHA2_384": hashlib.sha384, "SHA2_512": hashlib.sha512}


@given(st.binary(max_size=3000), st.permutations(list(EXPECTED)))
def test_digests_of_bytes_are_computed_when_asked_and_are_right(
    data: bytes, order: list[str]
) -> None:
    artifact = Artifact.from_bytes(data)
    for name in order:  # any order of first use
        assert artifact.digest(name) == EXPECTED[name](data).digest()
    assert dict(artifact.digests) == {name: new(data).digest() for name, new in EXPECTED.items()}


def test_lazy_digests_compute_only_what_is_asked() -> None:
    artifact = Artifact.from_bytes(b"x" * 100)
    assert artifact.digest("SHA2_256") == hashlib.sha256(b"x" * 100).digest()
    assert set(artifact.digests._done) == {"SHA2_256"}  # type: ignore[attr-defined]


def test_lazy_digests_behave_as_a_mapping() -> None:
    data = b"release artifact"
    lazy = Artifact.from_bytes(data)
    streamed = ArtifactHasher()
    streamed.update(data)
    eager = streamed.finish()
    assert lazy == eager  # the same digests and bytes, however computed
    assert len(lazy.digests) == 3
    assert list(lazy.digests) == list(EXPECTED)
    assert lazy.digest("SHA3_256") is None
    with pytest.raises(KeyError):
        lazy.digests["MD5"]
    assert "SHA2_512" in repr(lazy.digests)


def test_lazy_digests_survive_pickling_for_process_offload() -> None:
    import pickle

    artifact = Artifact.from_bytes(b"sent to a worker process")
    artifact.digest("SHA2_256")  # one computed, two not yet
    copy = pickle.loads(pickle.dumps(artifact))  # noqa: S301 - our own bytes
    assert copy == artifact
    assert copy.digest("SHA2_384") == hashlib.sha384(b"sent to a worker process").digest()


def test_digest_of_data_is_always_the_digest_of_the_bytes() -> None:
    data = b"the bytes that are verified"
    lazy = Artifact.from_bytes(data)
    assert lazy.digest_of_data("SHA2_384") == hashlib.sha384(data).digest()
    assert "SHA2_384" in lazy.digests._done  # type: ignore[attr-defined]  # computed once, shared
    # An artifact whose digests disagree with its bytes: the bytes win.
    impostor = Artifact(digests={"SHA2_256": bytes(32)}, data=data)
    assert impostor.digest("SHA2_256") == bytes(32)
    assert impostor.digest_of_data("SHA2_256") == hashlib.sha256(data).digest()
    assert impostor.digest_of_data("MD5") is None
    assert Artifact(digests={"SHA2_256": bytes(32)}).digest_of_data("SHA2_256") is None


@pytest.mark.parametrize("curve", ["p256", "p384", "ed25519"])
def test_signatures_are_checked_over_the_bytes_when_there_are_bytes(curve: str) -> None:
    from types import SimpleNamespace

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    from sigstore_async import VerificationError
    from sigstore_async.verify.core import _verify_message_signature

    data = b"signed artifact"
    if curve == "ed25519":
        private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey = (
            ed25519.Ed25519PrivateKey.generate()
        )
        signature = private.sign(data)
    else:
        private = ec.generate_private_key(ec.SECP256R1() if curve == "p256" else ec.SECP384R1())
        hash_ = hashes.SHA256() if curve == "p256" else hashes.SHA384()
        signature = private.sign(data, ec.ECDSA(hash_))
    key = private.public_key()
    bundle = SimpleNamespace(
        message_signature=SimpleNamespace(signature=signature, message_digest=None)
    )

    def check(artifact: Artifact) -> None:
        _verify_message_signature(bundle, key, b"signer", artifact, None)  # type: ignore[arg-type]

    check(Artifact.from_bytes(data))
    with pytest.raises(VerificationError):
        check(Artifact.from_bytes(b"other bytes"))
    # The right digests with other bytes: the bytes are what is verified.
    with pytest.raises(VerificationError):
        check(Artifact(digests=dict(Artifact.from_bytes(data).digests), data=b"other bytes"))
    digest_only = Artifact(digests=dict(Artifact.from_bytes(data).digests))
    if curve == "ed25519":  # Ed25519 signs bytes, not digests
        with pytest.raises(VerificationError):
            check(digest_only)
    else:
        check(digest_only)
