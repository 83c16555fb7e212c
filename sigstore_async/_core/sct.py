"""Embedded signed certificate timestamps (SCTs) of a Fulcio leaf.

Owns: rebuilding the RFC 6962 ``digitally-signed`` structure of a
precertificate SCT (RFC 6962 3.2 and 3.3) and counting the SCTs whose
signature verifies, one per distinct log.

Does not own: which CT logs are trusted and which of their keys is valid at an
SCT's time (the caller's ``ct_keys`` answers that, from the trust root),
choosing the issuer certificate (the caller passes the CA certificate that
issued the leaf), or detached SCTs (Fulcio embeds them). Never reads the clock.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.certificate_transparency import (
    LogEntryType,
    SignatureAlgorithm,
    SignedCertificateTimestamp,
    Version,
)
from cryptography.x509.oid import ExtensionOID

from sigstore_async._core.keys import PublicKey, verify_signature
from sigstore_async.errors import CertificateTransparencyError

__all__ = ["MAX_SCTS", "CtKeyLookup", "verify_embedded_scts"]

#: Looks up the key of the CT log with this log id (SHA-256 of its DER public
#: key) that is valid at this SCT time, or returns None.
CtKeyLookup = Callable[[bytes, datetime], PublicKey | None]

#: A leaf with more embedded SCTs than this is rejected, which bounds the work
#: an attacker can cause (real leaves carry one to three).
MAX_SCTS = 32

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_HASH_NAMES = {"sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


@functools.lru_cache(maxsize=32)
def _issuer_key_hash(issuer: x509.Certificate) -> bytes:
    """SHA-256 of the issuer's DER SubjectPublicKeyInfo (RFC 6962 3.2 ``issuer_key_hash``).

    Memoised: every leaf of one CA has the same issuer.
    """
    spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def _signed_data(
    sct: SignedCertificateTimestamp, issuer_key_hash: bytes, tbs: bytes, timestamp_ms: int
) -> bytes:
    """The bytes an RFC 6962 3.2 precertificate SCT signs."""
    extensions = sct.extension_bytes
    if len(tbs) >= 1 << 24 or len(extensions) >= 1 << 16:
        raise ValueError("precertificate or SCT extensions too long")
    return b"".join(
        (
            # sct_version v1(0), signature_type certificate_timestamp(0), timestamp,
            # entry_type precert_entry(1).
            struct.pack(">BBQH", 0, 0, timestamp_ms, 1),
            issuer_key_hash,
            len(tbs).to_bytes(3, "big"),  # opaque TBSCertificate<1..2^24-1>
            tbs,
            len(extensions).to_bytes(2, "big"),  # CtExtensions<0..2^16-1>
            extensions,
        )
    )


def _key_matches(algorithm: SignatureAlgorithm, key: PublicKey) -> bool:
    # RFC 6962 2.1.4: logs sign with ECDSA or RSA; the SCT names which.
    if algorithm == SignatureAlgorithm.ECDSA:
        return isinstance(key, ec.EllipticCurvePublicKey)
    if algorithm == SignatureAlgorithm.RSA:
        return isinstance(key, rsa.RSAPublicKey)
    return False


def verify_embedded_scts(
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    *,
    ct_keys: CtKeyLookup,
    threshold: int = 1,
) -> int:
    """Verify the SCTs embedded in ``leaf`` and return how many distinct logs vouch for it.

    ``issuer`` is the CA certificate that signed ``leaf`` (its key hash is part
    of what each SCT signs). For each SCT, ``ct_keys(log_id, sct_time)`` gives
    the log key to check it with, or None for an unknown log; SCTs from unknown
    logs, of another entry type, or with signatures that do not verify are not
    counted. An SCT's extensions are part of the signed data.

    Raises:
        CertificateTransparencyError: the leaf has no (or a malformed) SCT
            list, more than ``MAX_SCTS`` SCTs, or fewer than ``threshold``
            distinct logs with a verifying SCT.
        ValueError: ``threshold`` is below 1 (misuse).
    """
    if threshold < 1:
        raise ValueError("the SCT threshold must be at least 1")
    try:
        extension = leaf.extensions.get_extension_for_oid(
            ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS
        )
        if not isinstance(extension.value, x509.PrecertificateSignedCertificateTimestamps):
            raise CertificateTransparencyError("malformed embedded SCT list")
        scts = list(extension.value)
        tbs = leaf.tbs_precertificate_bytes
    except x509.ExtensionNotFound as e:
        raise CertificateTransparencyError("the certificate has no embedded SCTs") from e
    except _PARSE_ERRORS as e:
        raise CertificateTransparencyError(f"malformed embedded SCT list: {e}") from e
    if len(scts) > MAX_SCTS:
        raise CertificateTransparencyError(f"too many embedded SCTs: {len(scts)} > {MAX_SCTS}")
    try:
        issuer_key_hash = _issuer_key_hash(issuer)
    except _PARSE_ERRORS as e:
        raise CertificateTransparencyError(f"unusable issuer public key: {e}") from e

    verified: set[bytes] = set()
    problems: list[str] = []
    for i, sct in enumerate(scts):
        try:
            log_id = sct.log_id
            if log_id in verified:
                continue  # client spec: count distinct logs; a second SCT adds nothing
            if sct.version != Version.v1:
                problems.append(f"SCT {i}: unsupported version")
                continue
            if sct.entry_type != LogEntryType.PRE_CERTIFICATE:
                problems.append(f"SCT {i}: not a precertificate entry")
                continue
            # The timestamp is whole milliseconds since the epoch (RFC 6962 3.2).
            when = sct.timestamp.replace(tzinfo=UTC)
            timestamp_ms = (when - _EPOCH) // _MILLISECOND
            key = ct_keys(log_id, when)
            if key is None:
                problems.append(f"SCT {i}: no trusted CT log {log_id.hex()} at {when.isoformat()}")
                continue
            hash_name = _HASH_NAMES.get(sct.signature_hash_algorithm.name)
            if hash_name is None or not _key_matches(sct.signature_algorithm, key):
                problems.append(f"SCT {i}: signature algorithm does not fit the log key")
                continue
            data = _signed_data(sct, issuer_key_hash, tbs, timestamp_ms)
            signature = sct.signature
        except _PARSE_ERRORS as e:
            problems.append(f"SCT {i}: malformed: {e}")
            continue
        if verify_signature(key, signature, message=data, hash_algorithm=hash_name):
            verified.add(log_id)
        else:
            problems.append(f"SCT {i}: signature does not verify with log {log_id.hex()}")

    if len(verified) < threshold:
        detail = "; ".join(problems) or "no SCTs"
        raise CertificateTransparencyError(
            f"{len(verified)} of {threshold} required CT logs vouch for the certificate: {detail}"
        )
    return len(verified)
