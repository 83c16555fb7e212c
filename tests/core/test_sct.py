"""Embedded SCT verification (RFC 6962 3.2, 3.3).

Generated leaves carry SCT lists that these tests sign themselves, with one or
more test CT logs, to exercise counting and each rejection; the conformance
vectors check real Fulcio leaves against real CT log keys.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from sigstore_async._core import sct
from sigstore_async._core import x509 as cx509
from sigstore_async._core.keys import PublicKey, as_public_key, load_der_public_key
from sigstore_async.errors import CertificateError, CertificateTransparencyError

T0 = datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)

LogKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


# --- test CT logs and leaves with embedded SCTs -------------------------------


@attrs.frozen
class Log:
    key: LogKey

    @property
    def public(self) -> PublicKey:
        return as_public_key(self.key.public_key())

    @property
    def log_id(self) -> bytes:
        spki = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).digest()


@attrs.frozen
class SctSpec:
    """One SCT to embed. ``signed_*`` fields, when set, are what the log signs
    instead of what the SCT claims (to forge mismatches)."""

    log: Log
    timestamp_ms: int = T0_MS
    extensions: bytes = b""
    hash_algorithm: hashes.HashAlgorithm = attrs.field(factory=hashes.SHA256)
    signed_timestamp_ms: int | None = None
    signed_extensions: bytes | None = None
    signed_tbs_suffix: bytes = b""
    signed_issuer_key_hash: bytes | None = None
    version: int = 0


_HASH_CODES = {"sha256": 4, "sha384": 5, "sha512": 6}


def _u16(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _serialize(spec: SctSpec, tbs: bytes, issuer_key_hash: bytes) -> bytes:
    signed_ext = spec.extensions if spec.signed_extensions is None else spec.signed_extensions
    signed_tbs = tbs + spec.signed_tbs_suffix
    signed = b"".join(
        (
            struct.pack(
                ">BBQH",
                0,
                0,
                spec.timestamp_ms if spec.signed_timestamp_ms is None else spec.signed_timestamp_ms,
                1,
            ),
            spec.signed_issuer_key_hash or issuer_key_hash,
            len(signed_tbs).to_bytes(3, "big"),
            signed_tbs,
            _u16(signed_ext),
        )
    )
    if isinstance(spec.log.key, ec.EllipticCurvePrivateKey):
        signature = spec.log.key.sign(signed, ec.ECDSA(spec.hash_algorithm))
        sig_code = 3
    else:
        signature = spec.log.key.sign(signed, padding.PKCS1v15(), spec.hash_algorithm)
        sig_code = 1
    return b"".join(
        (
            bytes([spec.version]),
            spec.log.log_id,
            spec.timestamp_ms.to_bytes(8, "big"),
            _u16(spec.extensions),
            bytes([_HASH_CODES[spec.hash_algorithm.name], sig_code]),
            _u16(signature),
        )
    )


def _sct_list_extension(serialized: Sequence[bytes]) -> x509.UnrecognizedExtension:
    """The extension value: a DER OCTET STRING around the TLS SCT list (RFC 6962 3.3)."""
    inner = _u16(b"".join(_u16(s) for s in serialized))
    length = len(inner)
    if length < 0x80:
        header = bytes([0x04, length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x04, 0x80 | len(size)]) + size
    return x509.UnrecognizedExtension(
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, header + inner
    )


@attrs.frozen
class Ca:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def key_hash(self) -> bytes:
        spki = self.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).digest()


def make_ca(name: str = "ca") -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(T0 - timedelta(days=1))
        .not_valid_after(T0 + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Ca(key=key, cert=cert)


_LEAF_KEY = ec.generate_private_key(ec.SECP256R1())


def make_leaf(
    ca: Ca, scts: Sequence[SctSpec], *, raw_list: x509.UnrecognizedExtension | None = None
) -> x509.Certificate:
    """A leaf whose embedded SCTs sign its precertificate TBS."""

    def build(extension: x509.UnrecognizedExtension | None) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(ca.cert.subject)
            .public_key(_LEAF_KEY.public_key())
            .serial_number(0x5C7)
            .not_valid_before(T0 - timedelta(minutes=5))
            .not_valid_after(T0 + timedelta(minutes=5))
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name("a@example.com")]), critical=True
            )
        )
        if extension is not None:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(ca.key, hashes.SHA256())

    if raw_list is not None:
        return build(raw_list)
    if not scts:
        return build(None)
    # The precertificate TBS is the TBS without the SCT list, so sign over a
    # placeholder build's, then embed the real list.
    placeholder = build(_sct_list_extension([b"\x00" * 47]))
    tbs = placeholder.tbs_precertificate_bytes
    leaf = build(_sct_list_extension([_serialize(s, tbs, ca.key_hash) for s in scts]))
    assert leaf.tbs_precertificate_bytes == tbs
    return leaf


def keys_for(*logs: Log) -> Callable[[bytes, datetime], PublicKey | None]:
    table = {log.log_id: log.public for log in logs}
    return lambda log_id, when: table.get(log_id)


@pytest.fixture(scope="module")
def ca() -> Ca:
    return make_ca()


@pytest.fixture(scope="module")
def log_a() -> Log:
    return Log(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def log_b() -> Log:
    return Log(ec.generate_private_key(ec.SECP256R1()))


# --- counting ----------------------------------------------------------------


def test_one_log(ca: Ca, log_a: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a)])
    assert sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log_a)) == 1


def test_two_distinct_logs(ca: Ca, log_a: Log, log_b: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a), SctSpec(log_b)])
    ct_keys = keys_for(log_a, log_b)
    assert sct.verify_embedded_scts(leaf, ca.cert, ct_keys=ct_keys) == 2
    assert sct.verify_embedded_scts(leaf, ca.cert, ct_keys=ct_keys, threshold=2) == 2
    with pytest.raises(CertificateTransparencyError, match="2 of 3"):
        sct.verify_embedded_scts(leaf, ca.cert, ct_keys=ct_keys, threshold=3)


def test_same_log_counts_once(ca: Ca, log_a: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a), SctSpec(log_a, timestamp_ms=T0_MS + 1)])
    assert sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log_a)) == 1
    with pytest.raises(CertificateTransparencyError, match="1 of 2"):
        sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log_a), threshold=2)


def test_unknown_logs_do_not_count(ca: Ca, log_a: Log, log_b: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a), SctSpec(log_b)])
    assert sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log_b)) == 1
    with pytest.raises(CertificateTransparencyError, match="no trusted CT log"):
        sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for())


def test_ct_keys_gets_the_log_id_and_the_sct_time(ca: Ca, log_a: Log) -> None:
    calls: list[tuple[bytes, datetime]] = []

    def ct_keys(log_id: bytes, when: datetime) -> PublicKey | None:
        calls.append((log_id, when))
        return log_a.public

    sct.verify_embedded_scts(make_leaf(ca, [SctSpec(log_a)]), ca.cert, ct_keys=ct_keys)
    assert calls == [(log_a.log_id, T0)]
    assert calls[0][1].tzinfo is not None


def test_a_good_sct_after_a_bad_one_from_the_same_log_counts(ca: Ca, log_a: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a, signed_timestamp_ms=T0_MS + 1), SctSpec(log_a)])
    assert sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log_a)) == 1


# --- what the signature covers ------------------------------------------------


def test_sct_extensions_are_signed(ca: Ca, log_a: Log) -> None:
    good = make_leaf(ca, [SctSpec(log_a, extensions=b"\x00\x00\x05\x00\x00\x00\x00\x2a")])
    assert sct.verify_embedded_scts(good, ca.cert, ct_keys=keys_for(log_a)) == 1
    forged = make_leaf(ca, [SctSpec(log_a, extensions=b"\x01", signed_extensions=b"")])
    with pytest.raises(CertificateTransparencyError, match="does not verify"):
        sct.verify_embedded_scts(forged, ca.cert, ct_keys=keys_for(log_a))


@pytest.mark.parametrize(
    "forgery",
    [
        {"signed_timestamp_ms": T0_MS + 1},
        {"signed_tbs_suffix": b"\x00"},
        {"signed_issuer_key_hash": b"\x00" * 32},
    ],
    ids=["timestamp", "tbs", "issuer-key-hash"],
)
def test_sct_signature_covers(ca: Ca, log_a: Log, forgery: dict[str, Any]) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a, **forgery)])
    with pytest.raises(CertificateTransparencyError, match="does not verify"):
        sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log_a))


def test_the_issuer_key_is_part_of_the_signed_data(ca: Ca, log_a: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a)])
    with pytest.raises(CertificateTransparencyError):
        sct.verify_embedded_scts(leaf, make_ca("other").cert, ct_keys=keys_for(log_a))


# --- log key types and hashes -------------------------------------------------


def test_rsa_log(ca: Ca) -> None:
    log = Log(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    leaf = make_leaf(ca, [SctSpec(log)])
    assert sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log)) == 1


def test_p384_sha384_log(ca: Ca) -> None:
    log = Log(ec.generate_private_key(ec.SECP384R1()))
    leaf = make_leaf(ca, [SctSpec(log, hash_algorithm=hashes.SHA384())])
    assert sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log)) == 1


def test_key_type_must_match_the_sct_algorithm(ca: Ca, log_a: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a)])
    rsa_key = as_public_key(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    )
    with pytest.raises(CertificateTransparencyError, match="does not fit"):
        sct.verify_embedded_scts(leaf, ca.cert, ct_keys=lambda log_id, when: rsa_key)


def test_wrong_key_for_the_log(ca: Ca, log_a: Log, log_b: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a)])
    with pytest.raises(CertificateTransparencyError, match="does not verify"):
        sct.verify_embedded_scts(leaf, ca.cert, ct_keys=lambda log_id, when: log_b.public)


# --- malformed input and misuse -----------------------------------------------


def test_no_embedded_scts(ca: Ca, log_a: Log) -> None:
    with pytest.raises(CertificateTransparencyError, match="no embedded SCTs"):
        sct.verify_embedded_scts(make_leaf(ca, []), ca.cert, ct_keys=keys_for(log_a))


def test_too_many_scts(ca: Ca, log_a: Log) -> None:
    leaf = make_leaf(ca, [SctSpec(log_a, timestamp_ms=T0_MS + i) for i in range(sct.MAX_SCTS + 1)])
    with pytest.raises(CertificateTransparencyError, match="too many"):
        sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log_a))


@pytest.mark.parametrize(
    "value",
    [
        b"\x04\x00",  # empty
        b"\x04\x02\x00\x05",  # list length past the end
        b"\x04\x04\x00\x02\x00\x05",  # SCT length past the end
        b"\x04\x05\x00\x03\x00\x01\x00",  # a one-byte SCT
        b"\x30\x00",  # not an OCTET STRING
        b"\x04\x33\x00\x31\x00\x2f\x01" + b"\x00" * 46,  # SCT version 1 (v2 is unknown)
    ],
)
def test_malformed_sct_list(ca: Ca, log_a: Log, value: bytes) -> None:
    extension = x509.UnrecognizedExtension(
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, value
    )
    leaf = make_leaf(ca, [], raw_list=extension)
    with pytest.raises(CertificateTransparencyError):
        sct.verify_embedded_scts(leaf, ca.cert, ct_keys=keys_for(log_a))


def test_threshold_below_one_is_misuse(ca: Ca, log_a: Log) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        sct.verify_embedded_scts(
            make_leaf(ca, [SctSpec(log_a)]), ca.cert, ct_keys=keys_for(log_a), threshold=0
        )


# --- the conformance vectors --------------------------------------------------


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@attrs.frozen
class VectorCase:
    leaf_der: bytes
    leaf: x509.Certificate
    issuer: x509.Certificate
    ct_keys: Callable[[bytes, datetime], PublicKey | None]


def _vector_case(conformance: Any, case: str) -> VectorCase:
    """The leaf, its issuing Fulcio intermediate and a CT key lookup from the
    case's trust root (the production one when the case has none)."""
    material = conformance.bundle(case)["verificationMaterial"]
    raw = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
    leaf_der = _b64(raw["rawBytes"])
    root = conformance.trusted_root(case)
    issuer = None
    for ca in root["certificateAuthorities"]:
        chain_ders = [_b64(c["rawBytes"]) for c in ca["certChain"]["certificates"]]
        if cx509.chain_signatures_valid(leaf_der, chain_ders):
            issuer = cx509.load_certificate(chain_ders[0])
    assert issuer is not None, f"{case}: no CA of the trust root issued the leaf"
    logs: list[tuple[bytes, PublicKey, datetime | None, datetime | None]] = []
    for log in root["ctlogs"]:
        valid_for = log["publicKey"].get("validFor", {})
        logs.append(
            (
                _b64(log["logId"]["keyId"]),
                load_der_public_key(_b64(log["publicKey"]["rawBytes"])),
                _time(valid_for["start"]) if "start" in valid_for else None,
                _time(valid_for["end"]) if "end" in valid_for else None,
            )
        )

    def ct_keys(log_id: bytes, when: datetime) -> PublicKey | None:
        for key_id, key, start, end in logs:
            started = start is not None and start <= when
            if key_id == log_id and started and (end is None or when <= end):
                return key
        return None

    return VectorCase(leaf_der, cx509.load_certificate(leaf_der), issuer, ct_keys)


@pytest.mark.vectors
@pytest.mark.parametrize(
    "case",
    ["happy-path-v0.3", "happy-path-v0.1", "rekor2-happy-path", "bundle-with-sct-with-extensions"],
)
def test_vector_scts_verify(conformance: Any, case: str) -> None:
    vc = _vector_case(conformance, case)
    assert sct.verify_embedded_scts(vc.leaf, vc.issuer, ct_keys=vc.ct_keys) == 1
    with pytest.raises(CertificateTransparencyError, match="1 of 2"):
        sct.verify_embedded_scts(vc.leaf, vc.issuer, ct_keys=vc.ct_keys, threshold=2)


@pytest.mark.vectors
def test_vector_sct_with_extensions_is_really_extended(conformance: Any) -> None:
    vc = _vector_case(conformance, "bundle-with-sct-with-extensions")
    extension = vc.leaf.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps
    )
    assert [s.extension_bytes != b"" for s in extension.value] == [True]


@pytest.mark.vectors
def test_vector_invalid_ct_key(conformance: Any) -> None:
    vc = _vector_case(conformance, "invalid-ct-key_fail")
    with pytest.raises(CertificateTransparencyError):
        sct.verify_embedded_scts(vc.leaf, vc.issuer, ct_keys=vc.ct_keys)


@pytest.mark.vectors
def test_vector_log_key_not_valid_at_sct_time(conformance: Any) -> None:
    vc = _vector_case(conformance, "happy-path-v0.3")
    seen: list[datetime] = []

    def lookup_as_of_long_ago(log_id: bytes, when: datetime) -> PublicKey | None:
        seen.append(when)
        return vc.ct_keys(log_id, when - timedelta(days=10_000))  # before the key's start

    with pytest.raises(CertificateTransparencyError, match="no trusted CT log"):
        sct.verify_embedded_scts(vc.leaf, vc.issuer, ct_keys=lookup_as_of_long_ago)
    # The SCT time lies inside the leaf's validity, as Fulcio logs before issuing.
    assert vc.leaf.not_valid_before_utc - timedelta(minutes=1) <= seen[0]
    assert seen[0] <= vc.leaf.not_valid_after_utc


@pytest.mark.vectors
def test_vector_wrong_issuer(conformance: Any) -> None:
    vc = _vector_case(conformance, "happy-path-v0.3")
    with pytest.raises(CertificateTransparencyError):
        sct.verify_embedded_scts(vc.leaf, make_ca().cert, ct_keys=vc.ct_keys)


@pytest.mark.vectors
def test_mutated_vector_leaf_only_raises_typed_errors(conformance: Any) -> None:
    vc = _vector_case(conformance, "happy-path-v0.3")
    original_tbs = vc.leaf.tbs_certificate_bytes
    accepted_outside_tbs = 0
    for i in range(len(vc.leaf_der)):
        mutated = bytearray(vc.leaf_der)
        mutated[i] ^= 0x01 if i % 2 else 0x80
        try:
            leaf = cx509.load_certificate(bytes(mutated))
        except CertificateError:
            continue
        try:
            sct.verify_embedded_scts(leaf, vc.issuer, ct_keys=vc.ct_keys)
        except CertificateTransparencyError:
            continue
        # Only bytes outside the TBS (the CA's signature) are not covered by the SCT.
        assert leaf.tbs_certificate_bytes == original_tbs, i
        accepted_outside_tbs += 1
    assert accepted_outside_tbs < len(vc.leaf_der) - len(original_tbs)
