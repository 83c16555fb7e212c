"""Public keys and raw signature checks.

Owns: loading public keys from DER/PEM, and verifying one signature over a
message or a precomputed digest with the hash that the key type implies.
Does not own: deciding which key to trust (see ``trust``), or caching.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

__all__ = [
    "HashAlgorithm",
    "PublicKey",
    "as_public_key",
    "default_hash_for_key",
    "key_id",
    "key_kind",
    "load_der_public_key",
    "load_pem_public_key",
    "verify_signature",
]

PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

#: Hash names as Sigstore's protobuf enums spell them.
HashAlgorithm: TypeAlias = str  # "SHA2_256" | "SHA2_384" | "SHA2_512"

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA2_256": hashes.SHA256,
    "SHA2_384": hashes.SHA384,
    "SHA2_512": hashes.SHA512,
}
_HASHLIB: dict[str, str] = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}


class KeyError_(ValueError):
    """A key could not be loaded or is of an unsupported type."""


def as_public_key(key: object) -> PublicKey:
    """Narrow a cryptography key to the types Sigstore uses, or raise ``ValueError``."""
    if key_kind(key) != KIND_OTHER:
        known: Any = key  # not cast(): see key_kind
        return known  # type: ignore[no-any-return]
    raise KeyError_(f"unsupported public key type {type(key).__name__}")


def load_der_public_key(der: bytes) -> PublicKey:
    """Load a DER SubjectPublicKeyInfo. Raises ``ValueError`` when malformed."""
    try:
        return as_public_key(serialization.load_der_public_key(der))
    except (ValueError, UnsupportedAlgorithm) as e:
        raise KeyError_(f"malformed public key: {e}") from e


def load_pem_public_key(pem: bytes) -> PublicKey:
    """Load a PEM SubjectPublicKeyInfo. Raises ``ValueError`` when malformed."""
    try:
        return as_public_key(serialization.load_pem_public_key(pem))
    except (ValueError, UnsupportedAlgorithm) as e:
        raise KeyError_(f"malformed public key: {e}") from e


def key_id(key: PublicKey) -> bytes:
    """SHA-256 over the DER SubjectPublicKeyInfo: the key id Rekor v1, CT logs
    (RFC 6962 3.2 ``LogID``) and the trust root use."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def default_hash_for_key(key: PublicKey) -> HashAlgorithm:
    """The hash a Sigstore signature with this key uses by default.

    ECDSA P-384 pairs with SHA-384 and P-521 with SHA-512 (algorithm registry of
    the client spec); every other key uses SHA-256.
    """
    if key_kind(key) == KIND_EC:
        ec_key: Any = key  # not cast(): compiled, a cast is an isinstance check (ABC machinery)
        return _EC_DEFAULT_HASH.get(ec_key.curve.name, "SHA2_256")
    return "SHA2_256"


# Key kinds by the key object's concrete type: an isinstance check against
# cryptography's abstract key classes goes through ABC machinery (a Python-level
# __instancecheck__), and a bundle makes a dozen of them. Compiled code pays the
# same for a cast() to one of those classes.
#: What ``key_kind`` returns.
KIND_OTHER, KIND_EC, KIND_ED25519, KIND_RSA = 0, 1, 2, 3
_KINDS: dict[type, int] = {}
_EC_DEFAULT_HASH = {"secp384r1": "SHA2_384", "secp521r1": "SHA2_512"}


def key_kind(key: object) -> int:
    """``KIND_EC``, ``KIND_ED25519``, ``KIND_RSA`` or ``KIND_OTHER``, by the key's type."""
    kind = _KINDS.get(type(key))
    if kind is None:
        if isinstance(key, ec.EllipticCurvePublicKey):
            kind = KIND_EC
        elif isinstance(key, ed25519.Ed25519PublicKey):
            kind = KIND_ED25519
        elif isinstance(key, rsa.RSAPublicKey):
            kind = KIND_RSA
        else:
            kind = KIND_OTHER
        _KINDS[type(key)] = kind
    return kind


# The algorithm objects are immutable; one of each serves every check.
_DIGEST_SIZES = {name: cls().digest_size for name, cls in _HASHES.items()}
_PLAIN = {name: cls() for name, cls in _HASHES.items()}
_PREHASHED = {name: Prehashed(cls()) for name, cls in _HASHES.items()}
_ECDSA_PLAIN = {name: ec.ECDSA(alg) for name, alg in _PLAIN.items()}
_ECDSA_PREHASHED = {name: ec.ECDSA(alg) for name, alg in _PREHASHED.items()}
_PKCS1V15 = padding.PKCS1v15()


def digest(data: bytes, algorithm: HashAlgorithm = "SHA2_256") -> bytes:
    """Hash ``data`` with a Sigstore-named algorithm."""
    return hashlib.new(_HASHLIB[algorithm], data).digest()


def verify_signature(
    key: PublicKey,
    signature: bytes,
    *,
    message: bytes | None = None,
    prehashed: bytes | None = None,
    hash_algorithm: HashAlgorithm | None = None,
) -> bool:
    """Return whether ``signature`` verifies under ``key``.

    Give exactly one of ``message`` (the signed bytes) or ``prehashed`` (their
    digest under ``hash_algorithm``). Ed25519 signs messages, not digests, so a
    prehashed check with an Ed25519 key is always ``False``. RSA keys use
    PKCS#1 v1.5, as Sigstore's RSA key details do by default.
    """
    if (message is None) == (prehashed is None):
        raise TypeError("give exactly one of message= or prehashed=")
    kind = key_kind(key)
    # The key object by its kind, not through cast(): compiled, each cast is an
    # isinstance check against cryptography's abstract classes.
    k: Any = key
    alg_name = hash_algorithm or default_hash_for_key(key)
    if alg_name not in _HASHES:
        return False
    try:
        if kind == KIND_ED25519:
            if message is None:
                return False
            k.verify(signature, message)
            return True
        data: bytes
        if prehashed is not None:
            if len(prehashed) != _DIGEST_SIZES[alg_name]:
                return False
            data = prehashed
        else:
            assert message is not None
            data = message
        if kind == KIND_EC:
            ecdsa = _ECDSA_PLAIN if prehashed is None else _ECDSA_PREHASHED
            k.verify(signature, data, ecdsa[alg_name])
        elif kind == KIND_RSA:
            algorithm = _PLAIN if prehashed is None else _PREHASHED
            k.verify(signature, data, _PKCS1V15, algorithm[alg_name])
        else:
            return False
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
