"""Keys and certificates of a LocalSigstore: Fulcio's CA and CT log, the TSA chain.

Owns: generating the instance's key material, building CA certificates that a
WebPKI-style path builder accepts (sigstore-python checks the Fulcio chain with
``cryptography``'s verifier), issuing Fulcio leaves with an embedded SCT over
the precertificate (RFC 6962 3.2), and serializing all of it for the state
store. No I/O, no clock: every time is an argument.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .._core.keys import PublicKey
from . import _der

__all__ = [
    "SCT_LIST_OID",
    "CertificateAuthority",
    "InstanceKeys",
    "der_public_key",
    "issue_leaf",
    "key_id",
    "new_instance_keys",
    "pem_private_key",
]

#: RFC 6962 3.3: the embedded SCT list extension.
SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


#: Key usage of a signing leaf (Fulcio's and the TSA's): digitalSignature only.
SIGNING_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def der_public_key(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: PublicKey) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo: Rekor v1 and CT log ids."""
    return hashlib.sha256(der_public_key(key)).digest()


def pem_private_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise ValueError(f"unsupported stored key type {type(key).__name__}")
    return key


def _name(common_name: str, organization: str = "sigstore-async LocalSigstore") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _signing_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1):
        return hashes.SHA384()
    return hashes.SHA256()


def _sign(builder: x509.CertificateBuilder, key: PrivateKey) -> x509.Certificate:
    return builder.sign(key, _signing_hash(key))


def ca_certificate(
    *,
    common_name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
    extended_key_usage: Sequence[x509.ObjectIdentifier] = (),
) -> x509.Certificate:
    """A CA certificate with the extensions RFC 5280 and the CA/B profile expect
    (critical basic constraints and key usage, key identifiers)."""
    subject = _name(common_name)
    public = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    if issuer is None or issuer_key is None:
        issuer_name, signer, aki = (
            subject,
            key,
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
        )
    else:
        issuer_name, signer = issuer.subject, issuer_key
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(aki, critical=False)
    )
    if extended_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False
        )
    return _sign(builder, signer)


def tsa_leaf_certificate(
    *,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """A timestamping leaf: RFC 3161 2.3 wants the timeStamping EKU, critical, alone."""
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("LocalSigstore TSA"))
        .issuer_name(issuer.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            SIGNING_KEY_USAGE,
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    return _sign(builder, issuer_key)


# --- signed certificate timestamps -------------------------------------------------------------


def sct_signed_data(*, timestamp_ms: int, issuer_key_hash: bytes, tbs: bytes) -> bytes:
    """RFC 6962 3.2: the ``digitally-signed`` input of a precertificate SCT
    (no SCT extensions)."""
    return b"".join(
        (
            # sct_version v1(0), signature_type certificate_timestamp(0), timestamp,
            # entry_type precert_entry(1)
            struct.pack(">BBQH", 0, 0, timestamp_ms, 1),
            issuer_key_hash,
            len(tbs).to_bytes(3, "big"),
            tbs,
            b"\x00\x00",  # CtExtensions: empty
        )
    )


def sct_list_extension(
    *,
    log_key: ec.EllipticCurvePrivateKey,
    timestamp_ms: int,
    issuer_key_hash: bytes,
    tbs: bytes,
    log_id: bytes | None = None,
) -> x509.UnrecognizedExtension:
    """The embedded SCT list of RFC 6962 3.3, as an extension value: a DER
    OCTET STRING around the TLS-encoded ``SignedCertificateTimestampList``.
    ``log_id`` defaults to the id of ``log_key``."""
    signature = log_key.sign(
        sct_signed_data(timestamp_ms=timestamp_ms, issuer_key_hash=issuer_key_hash, tbs=tbs),
        ec.ECDSA(hashes.SHA256()),
    )
    sct = b"".join(
        (
            b"\x00",  # v1
            log_id or key_id(log_key.public_key()),  # LogID
            struct.pack(">Q", timestamp_ms),
            b"\x00\x00",  # no extensions
            b"\x04\x03",  # SignatureAndHashAlgorithm: sha256(4), ecdsa(3) (RFC 5246 7.4.1.4.1)
            struct.pack(">H", len(signature)),
            signature,
        )
    )
    serialized = struct.pack(">H", len(sct)) + sct
    tls_list = struct.pack(">H", len(serialized)) + serialized
    return x509.UnrecognizedExtension(SCT_LIST_OID, _der.octets(tls_list))


@attrs.frozen
class LeafRequest:
    """What Fulcio puts in a leaf: the key, the SAN and the Fulcio extensions."""

    public_key: PublicKey
    san: x509.GeneralName
    #: (dotted OID, extension value bytes) in order.
    extensions: tuple[tuple[str, bytes], ...]
    not_before: datetime
    not_after: datetime


def issue_leaf(
    request: LeafRequest,
    *,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    ct_key: ec.EllipticCurvePrivateKey,
    sct_time: datetime,
    sct_log_id: bytes | None = None,
) -> x509.Certificate:
    """Issue a Fulcio leaf with one embedded SCT.

    The SCT signs the TBS of the certificate without the SCT list (RFC 6962
    3.2); the final certificate has identical fields with the SCT list
    appended last, so that its ``tbs_precertificate_bytes`` are what was signed.
    """
    public = request.public_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(issuer.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(request.not_before)
        .not_valid_after(request.not_after)
        .add_extension(
            SIGNING_KEY_USAGE,
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        # RFC 5280 4.2.1.6: with an empty subject the SAN is critical.
        .add_extension(x509.SubjectAlternativeName([request.san]), critical=True)
    )
    for dotted, value in request.extensions:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(dotted), value), critical=False
        )
    precert = _sign(builder, issuer_key)
    issuer_key_hash = hashlib.sha256(der_public_key(issuer_key.public_key())).digest()
    timestamp_ms = (sct_time.astimezone(UTC) - _EPOCH) // timedelta(milliseconds=1)
    scts = sct_list_extension(
        log_key=ct_key,
        timestamp_ms=timestamp_ms,
        issuer_key_hash=issuer_key_hash,
        tbs=precert.tbs_certificate_bytes,
        log_id=sct_log_id,
    )
    return _sign(builder.add_extension(scts, critical=False), issuer_key)


# --- the instance's key material ---------------------------------------------------------------


@attrs.frozen
class CertificateAuthority:
    """A chain (leaf-most first) and the key of its first certificate."""

    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]


@attrs.frozen
class InstanceKeys:
    """Every key and CA certificate of one LocalSigstore instance."""

    fulcio: CertificateAuthority  # intermediate first, then root
    fulcio_root_key: ec.EllipticCurvePrivateKey
    ct_key: ec.EllipticCurvePrivateKey
    rekor_key: ec.EllipticCurvePrivateKey
    rekor_v2_key: ed25519.Ed25519PrivateKey
    tsa: CertificateAuthority  # TSA leaf first, then root
    tsa_root_key: ec.EllipticCurvePrivateKey
    oidc_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    #: A key no trust root knows, for the adversarial modes.
    rogue_ec_key: ec.EllipticCurvePrivateKey
    rogue_ed25519_key: ed25519.Ed25519PrivateKey
    #: Start of every validity window (CA certificates, log keys, services).
    valid_from: datetime

    def records(self) -> dict[str, bytes]:
        """PEM (keys) and DER (certificates) by name, for the state store."""
        out = {
            "fulcio_intermediate_key": pem_private_key(self.fulcio.key),
            "fulcio_root_key": pem_private_key(self.fulcio_root_key),
            "ct_key": pem_private_key(self.ct_key),
            "rekor_key": pem_private_key(self.rekor_key),
            "rekor_v2_key": pem_private_key(self.rekor_v2_key),
            "tsa_key": pem_private_key(self.tsa.key),
            "tsa_root_key": pem_private_key(self.tsa_root_key),
            "oidc_key": pem_private_key(self.oidc_key),
            "rogue_ec_key": pem_private_key(self.rogue_ec_key),
            "rogue_ed25519_key": pem_private_key(self.rogue_ed25519_key),
            "valid_from": self.valid_from.isoformat().encode(),
        }
        for prefix, ca in (("fulcio", self.fulcio), ("tsa", self.tsa)):
            for i, cert in enumerate(ca.chain):
                out[f"{prefix}_cert_{i}"] = cert.public_bytes(serialization.Encoding.DER)
        return out

    @classmethod
    def from_records(cls, records: dict[str, bytes]) -> InstanceKeys:
        """Raises ``ValueError`` (or ``KeyError``) on an incomplete or corrupt store."""

        def ec_key(name: str) -> ec.EllipticCurvePrivateKey:
            key = load_private_key(records[name])
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"stored {name} is not an EC key")
            return key

        def chain(prefix: str) -> tuple[x509.Certificate, ...]:
            certs = []
            i = 0
            while f"{prefix}_cert_{i}" in records:
                certs.append(x509.load_der_x509_certificate(records[f"{prefix}_cert_{i}"]))
                i += 1
            return tuple(certs)

        rekor_v2 = load_private_key(records["rekor_v2_key"])
        rogue_ed = load_private_key(records["rogue_ed25519_key"])
        oidc = load_private_key(records["oidc_key"])
        if not isinstance(rekor_v2, ed25519.Ed25519PrivateKey) or not isinstance(
            rogue_ed, ed25519.Ed25519PrivateKey
        ):
            raise ValueError("stored Rekor v2 key is not Ed25519")
        if not isinstance(oidc, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError("stored OIDC key is neither EC nor RSA")
        return cls(
            fulcio=CertificateAuthority(ec_key("fulcio_intermediate_key"), chain("fulcio")),
            fulcio_root_key=ec_key("fulcio_root_key"),
            ct_key=ec_key("ct_key"),
            rekor_key=ec_key("rekor_key"),
            rekor_v2_key=rekor_v2,
            tsa=CertificateAuthority(ec_key("tsa_key"), chain("tsa")),
            tsa_root_key=ec_key("tsa_root_key"),
            oidc_key=oidc,
            rogue_ec_key=ec_key("rogue_ec_key"),
            rogue_ed25519_key=rogue_ed,
            valid_from=datetime.fromisoformat(records["valid_from"].decode()),
        )


def new_instance_keys(*, now: datetime, oidc_algorithm: str = "ES256") -> InstanceKeys:
    """Fresh keys and CA chains, valid from a day before ``now`` for ten years."""
    valid_from = (now - timedelta(days=1)).replace(microsecond=0)
    valid_until = valid_from + timedelta(days=3650)
    fulcio_root_key = ec.generate_private_key(ec.SECP384R1())
    fulcio_root = ca_certificate(
        common_name="LocalSigstore Fulcio root",
        key=fulcio_root_key,
        issuer=None,
        issuer_key=None,
        not_before=valid_from,
        not_after=valid_until,
        path_length=1,
    )
    intermediate_key = ec.generate_private_key(ec.SECP384R1())
    intermediate = ca_certificate(
        common_name="LocalSigstore Fulcio intermediate",
        key=intermediate_key,
        issuer=fulcio_root,
        issuer_key=fulcio_root_key,
        not_before=valid_from,
        not_after=valid_until,
        path_length=0,
        extended_key_usage=(ExtendedKeyUsageOID.CODE_SIGNING,),
    )
    tsa_root_key = ec.generate_private_key(ec.SECP384R1())
    tsa_root = ca_certificate(
        common_name="LocalSigstore TSA root",
        key=tsa_root_key,
        issuer=None,
        issuer_key=None,
        not_before=valid_from,
        not_after=valid_until,
        path_length=0,
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_leaf = tsa_leaf_certificate(
        key=tsa_key,
        issuer=tsa_root,
        issuer_key=tsa_root_key,
        not_before=valid_from,
        not_after=valid_until,
    )
    oidc_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if oidc_algorithm == "ES256":
        oidc_key = ec.generate_private_key(ec.SECP256R1())
    elif oidc_algorithm == "RS256":
        oidc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ValueError(f"unsupported OIDC signing algorithm {oidc_algorithm!r}")
    return InstanceKeys(
        fulcio=CertificateAuthority(intermediate_key, (intermediate, fulcio_root)),
        fulcio_root_key=fulcio_root_key,
        ct_key=ec.generate_private_key(ec.SECP256R1()),
        rekor_key=ec.generate_private_key(ec.SECP256R1()),
        rekor_v2_key=ed25519.Ed25519PrivateKey.generate(),
        tsa=CertificateAuthority(tsa_key, (tsa_leaf, tsa_root)),
        tsa_root_key=tsa_root_key,
        oidc_key=oidc_key,
        rogue_ec_key=ec.generate_private_key(ec.SECP256R1()),
        rogue_ed25519_key=ed25519.Ed25519PrivateKey.generate(),
        valid_from=valid_from,
    )


def pem_chain(certificates: Iterable[x509.Certificate]) -> list[str]:
    return [c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates]
