"""Raw signature checks (``_core.keys.verify_signature``) for every key kind Sigstore uses."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from sigstore_async._core.keys import (
    KIND_EC,
    KIND_ED25519,
    KIND_OTHER,
    KIND_RSA,
    KeyError_,
    as_public_key,
    default_hash_for_key,
    key_kind,
    load_der_public_key,
    verify_signature,
)

MESSAGE = b"the signed bytes"
_HASHLIB = {"SHA2_256": hashlib.sha256, "SHA2_384": hashlib.sha384, "SHA2_512": hashlib.sha512}
_CRYPTO = {"SHA2_256": hashes.SHA256(), "SHA2_384": hashes.SHA384(), "SHA2_512": hashes.SHA512()}


def _loaded(private: Any) -> Any:
    """The public key as a verifier has it: parsed from its DER."""
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return load_der_public_key(der)


@pytest.mark.parametrize(
    ("curve", "hash_name"),
    [(ec.SECP256R1(), "SHA2_256"), (ec.SECP384R1(), "SHA2_384"), (ec.SECP521R1(), "SHA2_512")],
)
def test_ecdsa_uses_the_curves_hash_for_messages_and_digests(
    curve: ec.EllipticCurve, hash_name: str
) -> None:
    private = ec.generate_private_key(curve)
    key = _loaded(private)
    assert default_hash_for_key(key) == hash_name
    signature = private.sign(MESSAGE, ec.ECDSA(_CRYPTO[hash_name]))
    digest = _HASHLIB[hash_name](MESSAGE).digest()
    assert verify_signature(key, signature, message=MESSAGE)
    assert verify_signature(key, signature, prehashed=digest, hash_algorithm=hash_name)
    assert not verify_signature(key, signature, message=MESSAGE + b"!")
    assert not verify_signature(key, signature[:-1] + bytes([signature[-1] ^ 1]), message=MESSAGE)
    # A digest of the wrong length for the named hash is refused, not truncated.
    assert not verify_signature(key, signature, prehashed=digest[:-1], hash_algorithm=hash_name)


def test_ecdsa_with_an_explicit_hash_other_than_the_default() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    key = _loaded(private)
    signature = private.sign(MESSAGE, ec.ECDSA(hashes.SHA384()))
    assert not verify_signature(key, signature, message=MESSAGE)
    assert verify_signature(key, signature, message=MESSAGE, hash_algorithm="SHA2_384")


def test_rsa_pkcs1v15_for_messages_and_digests() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = _loaded(private)
    assert default_hash_for_key(key) == "SHA2_256"
    signature = private.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert verify_signature(key, signature, message=MESSAGE)
    assert verify_signature(key, signature, prehashed=hashlib.sha256(MESSAGE).digest())
    assert not verify_signature(key, signature, message=b"other")
    pss = private.sign(MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    assert not verify_signature(key, pss, message=MESSAGE)  # PKCS#1 v1.5 only


def test_ed25519_signs_messages_never_digests() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    key = _loaded(private)
    signature = private.sign(MESSAGE)
    assert verify_signature(key, signature, message=MESSAGE)
    assert not verify_signature(key, signature, message=MESSAGE + b"!")
    assert not verify_signature(key, signature, prehashed=hashlib.sha256(MESSAGE).digest())


def test_unknown_hash_names_and_key_types_never_verify() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    signature = private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    key = _loaded(private)
    assert not verify_signature(key, signature, message=MESSAGE, hash_algorithm="MD5")
    assert not verify_signature(object(), signature, message=MESSAGE)  # type: ignore[arg-type]


def test_exactly_one_of_message_and_digest() -> None:
    key = _loaded(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(TypeError):
        verify_signature(key, b"sig")
    with pytest.raises(TypeError):
        verify_signature(key, b"sig", message=b"m", prehashed=b"\x00" * 32)


def test_key_kinds_by_type_and_what_as_public_key_accepts() -> None:
    keys = {
        KIND_EC: _loaded(ec.generate_private_key(ec.SECP256R1())),
        KIND_ED25519: _loaded(ed25519.Ed25519PrivateKey.generate()),
        KIND_RSA: _loaded(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }
    for kind, key in keys.items():
        assert key_kind(key) == kind
        assert key_kind(key) == kind  # the second answer comes from the per-type table
        assert as_public_key(key) is key
    # Private keys, other cryptography keys and non-keys are none of them.
    others = [ec.generate_private_key(ec.SECP256R1()), x448_key(), object(), b"key"]
    for other in others:
        assert key_kind(other) == KIND_OTHER
        with pytest.raises(KeyError_):
            as_public_key(other)


def x448_key() -> object:
    from cryptography.hazmat.primitives.asymmetric import x448

    return x448.X448PrivateKey.generate().public_key()
