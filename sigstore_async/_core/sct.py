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

from sigstore_async._core import IdentityTable, by_identity
from sigstore_async._core import x509 as cx509
from sigstore_async._core.der import Reader
from sigstore_async._core.keys import KIND_EC, KIND_RSA, PublicKey, key_kind, verify_signature
from sigstore_async.errors import CertificateError, CertificateTransparencyError

__all__ = ["MAX_SCTS", "CtKeyLookup", "verify_embedded_scts"]

#: Looks up the key of the CT log with this log id (SHA-256 of its DER public
#: key) that is valid at this SCT time, or returns None.
CtKeyLookup = Callable[[bytes, datetime], PublicKey | None]

#: A leaf with more embedded SCTs than this is rejected, which bounds the work
#: an attacker can cause (real leaves carry one to three).
MAX_SCTS = 32

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: RFC 5246 7.4.1.4.1 HashAlgorithm codes, as ``verify_signature`` names them.
_HASHES = {4: "SHA2_256", 5: "SHA2_384", 6: "SHA2_512"}
_RSA, _ECDSA = 1, 3  # RFC 5246 SignatureAlgorithm codes that RFC 6962 2.1.4 allows
_PARSE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm)


def _sct_list_reader(buf: bytes) -> Reader:
    """The strict DER reader (``_core.der``); every problem raises
    ``CertificateTransparencyError``."""
    return Reader(buf, error=CertificateTransparencyError)


_ISSUER_KEY_HASHES: IdentityTable = {}


@functools.lru_cache(maxsize=32)
def _issuer_key_hash(issuer: x509.Certificate) -> bytes:
    """SHA-256 of the issuer's DER SubjectPublicKeyInfo (RFC 6962 3.2 ``issuer_key_hash``).

    Memoised: every leaf of one CA has the same issuer.
    """
    spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def _serialized_scts(extension_value: bytes) -> list[bytes]:
    """The SerializedSCTs of an embedded list (RFC 6962 3.3): the extension's
    value is an OCTET STRING holding the TLS-encoded ``SignedCertificateTimestampList``."""
    reader = _sct_list_reader(extension_value)
    data = reader.content(0x04)
    reader.finish()
    if len(data) < 2 or int.from_bytes(data[:2], "big") != len(data) - 2 or len(data) == 2:
        raise CertificateTransparencyError("malformed embedded SCT list")
    scts: list[bytes] = []
    pos = 2
    while pos < len(data):
        if pos + 2 > len(data):
            raise CertificateTransparencyError("malformed embedded SCT list")
        length = int.from_bytes(data[pos : pos + 2], "big")
        start, pos = pos + 2, pos + 2 + length
        if length == 0 or pos > len(data):
            raise CertificateTransparencyError("malformed embedded SCT list")
        if len(scts) == MAX_SCTS:
            raise CertificateTransparencyError(f"too many embedded SCTs: more than {MAX_SCTS}")
        scts.append(data[start:pos])
    return scts


def _parse_v1(sct: bytes) -> tuple[bytes, int, bytes, int, int, bytes]:
    """A v1 SCT (RFC 6962 3.2): log id, timestamp (ms), extensions, hash and
    signature algorithm codes, signature.

    Raises:
        ValueError: truncated or with trailing bytes.
    """
    if len(sct) < 43:
        raise ValueError("truncated SCT")
    log_id, timestamp_ms = sct[1:33], int.from_bytes(sct[33:41], "big")
    ext_end = 43 + int.from_bytes(sct[41:43], "big")
    if ext_end + 4 > len(sct):
        raise ValueError("truncated SCT")
    extensions = sct[43:ext_end]
    hash_code, sig_code = sct[ext_end], sct[ext_end + 1]
    sig_end = ext_end + 4 + int.from_bytes(sct[ext_end + 2 : ext_end + 4], "big")
    if sig_end != len(sct):
        raise ValueError("SCT length does not match its content")
    return log_id, timestamp_ms, extensions, hash_code, sig_code, sct[ext_end + 4 : sig_end]


def _signed_data(extensions: bytes, issuer_key_hash: bytes, tbs: bytes, timestamp_ms: int) -> bytes:
    """The bytes an RFC 6962 3.2 precertificate SCT signs (``tbs`` under 2^24 octets)."""
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


def _key_matches(sig_code: int, key: PublicKey) -> bool:
    # RFC 6962 2.1.4: logs sign with ECDSA or RSA; the SCT names which.
    if sig_code == _ECDSA:
        return key_kind(key) == KIND_EC
    if sig_code == _RSA:
        return key_kind(key) == KIND_RSA
    return False


def verify_embedded_scts(
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    *,
    ct_keys: CtKeyLookup,
    threshold: int = 1,
    extensions: cx509.LeafExtensions | None = None,
) -> int:
    """Verify the SCTs embedded in ``leaf`` and return how many distinct logs vouch for it.

    ``issuer`` is the CA certificate that signed ``leaf`` (its key hash is part
    of what each SCT signs). For each SCT, ``ct_keys(log_id, sct_time)`` gives
    the log key to check it with, or None for an unknown log; SCTs from unknown
    logs, of another entry type, or with signatures that do not verify are not
    counted. An SCT's extensions are part of the signed data. ``extensions``,
    ``x509.read_leaf_extensions`` of the leaf's DER, saves reading them again.

    Raises:
        CertificateTransparencyError: the leaf has no (or a malformed) SCT
            list, more than ``MAX_SCTS`` SCTs, or fewer than ``threshold``
            distinct logs with a verifying SCT.
        ValueError: ``threshold`` is below 1 (misuse).
    """
    if threshold < 1:
        raise ValueError("the SCT threshold must be at least 1")
    try:
        if extensions is None:
            extensions = cx509.read_leaf_extensions(leaf.public_bytes(serialization.Encoding.DER))
    except (CertificateError, *_PARSE_ERRORS) as e:
        raise CertificateTransparencyError(f"malformed certificate: {e}") from e
    found = extensions.values.get(_SCT_LIST_OID)
    tbs = extensions.precertificate_tbs
    if found is None or tbs is None:
        raise CertificateTransparencyError("the certificate has no embedded SCTs")
    if len(tbs) >= 1 << 24:  # opaque TBSCertificate<1..2^24-1>
        raise CertificateTransparencyError("precertificate too long")
    scts = _serialized_scts(found[1])
    try:
        issuer_key_hash = by_identity(_ISSUER_KEY_HASHES, issuer, _issuer_key_hash)
    except _PARSE_ERRORS as e:
        raise CertificateTransparencyError(f"unusable issuer public key: {e}") from e

    verified: set[bytes] = set()
    problems: list[str] = []
    for i, serialized in enumerate(scts):
        if serialized[0] != 0:
            problems.append(f"SCT {i}: unsupported version")
            continue
        try:
            log_id, timestamp_ms, sct_extensions, hash_code, sig_code, signature = _parse_v1(
                serialized
            )
        except ValueError as e:
            problems.append(f"SCT {i}: malformed: {e}")
            continue
        if log_id in verified:
            continue  # client spec: count distinct logs; a second SCT adds nothing
        # The timestamp is whole milliseconds since the epoch (RFC 6962 3.2).
        try:
            when = _EPOCH + timedelta(milliseconds=timestamp_ms)
        except OverflowError:
            problems.append(f"SCT {i}: timestamp out of range")
            continue
        key = ct_keys(log_id, when)
        if key is None:
            problems.append(f"SCT {i}: no trusted CT log {log_id.hex()} at {when.isoformat()}")
            continue
        hash_name = _HASHES.get(hash_code)
        if hash_name is None or not _key_matches(sig_code, key):
            problems.append(f"SCT {i}: signature algorithm does not fit the log key")
            continue
        data = _signed_data(sct_extensions, issuer_key_hash, tbs, timestamp_ms)
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


_SCT_LIST_OID = cx509.SCT_LIST_OID
