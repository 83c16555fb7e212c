"""RFC 3161 timestamp verification.

The conformance vectors check real Sigstore TSA tokens and the trust-root
edge rules; tokens built here (a minimal DER writer and a test TSA) exercise
each CMS and RFC 3161 rule one at a time; byte flips of real tokens check that
nothing but ``TimestampError`` escapes and that no signed byte can change.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sigstore_async._core import rfc3161
from sigstore_async._core.rfc3161 import TimestampVerifier, TsaAuthority, verify_timestamp
from sigstore_async.errors import TimestampError

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
SIGNATURE = b"the bundle's signature bytes"

# --- a minimal DER writer ------------------------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(items)))  # X.690 11.6: DER sorts SET OF


def oid(dotted: str) -> bytes:
    return tlv(0x06, rfc3161._oid(dotted))


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def explicit(number: int, content: bytes) -> bytes:
    return tlv(0xA0 | number, content)


def generalized_time(value: datetime) -> bytes:
    return tlv(0x18, value.strftime("%Y%m%d%H%M%SZ").encode())


def algorithm(dotted: str) -> bytes:
    return seq(oid(dotted))


SHA = {
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
ID_DATA = "1.2.840.113549.1.7.1"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"
SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
ECDSA_SHA384 = "1.2.840.10045.4.3.3"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSA_SHA256 = "1.2.840.113549.1.1.11"


def attribute(dotted: str, *values: bytes) -> bytes:
    return seq(oid(dotted), set_of(*values))


# --- a test TSA ------------------------------------------------------------------

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@attrs.frozen
class Tsa:
    root_key: SigningKey
    root: x509.Certificate
    key: SigningKey
    leaf: x509.Certificate

    @property
    def chain(self) -> tuple[bytes, ...]:
        return (der(self.leaf), der(self.root))

    def authority(self, **overrides: Any) -> TsaAuthority:
        fields: dict[str, Any] = {
            "chain": self.chain,
            "valid_from": T0 - timedelta(days=30),
            "valid_until": None,
            "name": "test-tsa",
        }
        fields.update(overrides)
        return TsaAuthority(**fields)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def make_tsa(
    *,
    key: SigningKey | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.TIME_STAMPING,),
    eku_critical: bool = True,
    leaf_not_before: datetime = T0 - timedelta(days=365),
    leaf_not_after: datetime = T0 + timedelta(days=365),
    root_not_after: datetime = T0 + timedelta(days=3650),
    root_name: str = "test tsa root",
) -> Tsa:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name(root_name))
        .issuer_name(_name(root_name))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0 - timedelta(days=3650))
        .not_valid_after(root_not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("test tsa"))
        .issuer_name(root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(leaf_not_before)
        .not_valid_after(leaf_not_after)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    leaf = builder.sign(root_key, hashes.SHA256())
    return Tsa(root_key=root_key, root=root, key=leaf_key, leaf=leaf)


@attrs.frozen
class Token:
    """Knobs for one TimeStampResp. The defaults make a valid token of ``SIGNATURE``."""

    message: bytes = SIGNATURE
    gen_time: datetime = T0
    imprint_hash: str = "sha256"
    digest_hash: str = "sha256"
    signature_algorithm: str | None = None  # default: fits the key
    status: int = 0
    tst_version: int = 1
    econtent_type: str = TST_INFO
    content_type_attr: str | None = TST_INFO
    message_digest: bytes | None = None  # default: the right one
    ess: str | None = "v2"  # "v2", "v2-sha384", "v1" or None
    ess_cert: bytes | None = None  # hash this instead of the leaf
    embed: Sequence[bytes] = ()
    sid: str = "issuer-serial"  # or "ski"
    signer_key: SigningKey | None = None  # default: the TSA key
    extra_attributes: Sequence[bytes] = ()
    signed_attrs: bool = True
    signer_infos: int = 1
    signer_info_version: int | None = None  # default: 1 (3 with a key identifier)
    digest_algorithms: Sequence[str] | None = None  # default: [digest_hash]
    signed_data_version: int = 3

    def build(self, tsa: Tsa) -> bytes:
        imprint = hashlib.new(self.imprint_hash, self.message).digest()
        tst_info = seq(
            integer(self.tst_version),
            oid("1.3.6.1.4.1.57264.2"),
            seq(algorithm(SHA[self.imprint_hash]), octets(imprint)),
            integer(0x1234),
            generalized_time(self.gen_time),
        )
        if self.status not in (0, 1):
            return seq(seq(integer(self.status)))
        key = self.signer_key or tsa.key
        attrs_ = list(self.extra_attributes)
        if self.content_type_attr is not None:
            attrs_.append(attribute(CONTENT_TYPE, oid(self.content_type_attr)))
        digest = self.message_digest or hashlib.new(self.digest_hash, tst_info).digest()
        attrs_.append(attribute(MESSAGE_DIGEST, octets(digest)))
        cert_der = self.ess_cert or der(tsa.leaf)
        if self.ess == "v2":
            ess_id = seq(octets(hashlib.sha256(cert_der).digest()))
            attrs_.append(attribute(SIGNING_CERT_V2, seq(seq(ess_id))))
        elif self.ess == "v2-sha384":
            ess_id = seq(algorithm(SHA["sha384"]), octets(hashlib.sha384(cert_der).digest()))
            attrs_.append(attribute(SIGNING_CERT_V2, seq(seq(ess_id))))
        elif self.ess == "v1":
            ess_id = seq(octets(hashlib.sha1(cert_der).digest()))  # noqa: S324 -- ESSCertID is SHA-1
            attrs_.append(attribute(SIGNING_CERT, seq(seq(ess_id))))
        attrs_content = b"".join(sorted(attrs_))
        signed_attrs = tlv(0x31, attrs_content)  # signed as SET OF (RFC 5652 5.4)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            sig_oid = self.signature_algorithm or ECDSA_SHA256
            signature = key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        else:
            sig_oid = self.signature_algorithm or RSA_SHA256
            signature = key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        if self.sid == "ski":
            ski = x509.SubjectKeyIdentifier.from_public_key(tsa.key.public_key()).digest
            version, sid = 3, tlv(0x80, ski)
        else:
            version, sid = 1, seq(tsa.leaf.issuer.public_bytes(), integer(tsa.leaf.serial_number))
        signer_info = seq(
            integer(self.signer_info_version if self.signer_info_version is not None else version),
            sid,
            algorithm(SHA[self.digest_hash]),
            tlv(0xA0, attrs_content) if self.signed_attrs else b"",
            algorithm(sig_oid),
            octets(signature),
        )
        signed_data = seq(
            integer(self.signed_data_version),
            set_of(*[algorithm(SHA[h]) for h in self.digest_algorithms or [self.digest_hash]]),
            seq(oid(self.econtent_type), explicit(0, octets(tst_info))),
            tlv(0xA0, b"".join(sorted(self.embed))) if self.embed else b"",
            set_of(*[signer_info] * self.signer_infos)
            if self.signer_infos == 1
            else tlv(0x31, signer_info * self.signer_infos),
        )
        content_info = seq(oid(SIGNED_DATA), explicit(0, signed_data))
        return seq(seq(integer(self.status)), content_info)


@pytest.fixture(scope="module")
def tsa() -> Tsa:
    return make_tsa()


def verify(tsa: Tsa, token: bytes, **authority: Any) -> datetime:
    return TimestampVerifier([tsa.authority(**authority)]).verify(token, SIGNATURE)


# --- tokens from the test TSA ---------------------------------------------------


def test_a_good_token(tsa: Tsa) -> None:
    when = verify(tsa, Token().build(tsa))
    assert when == T0
    assert when.tzinfo is not None
    assert when.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "token",
    [
        Token(embed=()),
        Token(ess=None),
        Token(ess="v1"),
        Token(ess="v2-sha384"),
        Token(imprint_hash="sha384"),
        Token(imprint_hash="sha512"),
        Token(digest_hash="sha384"),
        Token(digest_hash="sha512"),
        Token(status=1),  # grantedWithMods
        Token(digest_algorithms=["sha256", "sha512"]),
    ],
    ids=[
        "no-embedded-certs",
        "no-ess",
        "ess-v1",
        "ess-v2-sha384",
        "imprint-sha384",
        "imprint-sha512",
        "digest-sha384",
        "digest-sha512",
        "granted-with-mods",
        "several-digest-algorithms",
    ],
)
def test_accepted_variants(tsa: Tsa, token: Token) -> None:
    assert verify(tsa, token.build(tsa)) == T0


def test_embedded_certificates_are_hints(tsa: Tsa) -> None:
    assert verify(tsa, Token(embed=[der(tsa.leaf), der(tsa.root)]).build(tsa)) == T0
    # An unrelated embedded certificate does not matter either.
    other = make_tsa()
    assert verify(tsa, Token(embed=[der(tsa.leaf), der(other.leaf)]).build(tsa)) == T0


def test_rsa_tsa() -> None:
    tsa = make_tsa(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert verify(tsa, Token().build(tsa)) == T0
    assert verify(tsa, Token(signature_algorithm=RSA_ENCRYPTION).build(tsa)) == T0
    with pytest.raises(TimestampError, match="does not verify"):
        verify(tsa, Token(signature_algorithm=ECDSA_SHA256).build(tsa))


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (Token(message=b"another signature"), "not over this signature"),
        (Token(imprint_hash="sha1"), "imprint hash"),
        (Token(status=2), "refused"),
        (Token(tst_version=2), "TSTInfo version"),
        (Token(econtent_type=ID_DATA, content_type_attr=ID_DATA), "malformed"),
        (Token(content_type_attr=ID_DATA), "content type is not TSTInfo"),
        (Token(content_type_attr=None), "content type signed attribute"),
        (Token(message_digest=b"\x00" * 32), "message digest does not match"),
        (Token(digest_hash="sha1"), "digest algorithm"),
        (Token(signed_attrs=False), "no signed attributes"),
        (Token(signer_infos=2), "exactly one SignerInfo"),
        (Token(signer_info_version=3), "SignerInfo version"),
        (Token(signed_data_version=1), "SignedData version"),
        (Token(digest_algorithms=["sha384"]), "not among digestAlgorithms"),
        (Token(sid="ski"), "malformed"),  # rfc3161-client parses issuerAndSerialNumber only
        (Token(signature_algorithm=RSA_SHA256), "does not verify"),
        (Token(signature_algorithm="1.2.840.113549.1.1.5"), "signature algorithm"),
        (Token(ess_cert=b"another certificate"), "names another certificate"),
        (Token(ess="v2", extra_attributes=[attribute(MESSAGE_DIGEST, octets(b"x"))]), "twice"),
    ],
    ids=[
        "payload-mismatch",
        "imprint-sha1",
        "status-rejection",
        "tstinfo-v2",
        "econtent-not-tstinfo",
        "content-type-attr-mismatch",
        "content-type-attr-missing",
        "message-digest-mismatch",
        "digest-sha1",
        "no-signed-attrs",
        "two-signer-infos",
        "signer-info-version",
        "signed-data-version",
        "digest-not-listed",
        "sid-subject-key-identifier",
        "rsa-oid-with-ec-key",
        "sha1-rsa-oid",
        "ess-mismatch",
        "duplicate-attribute",
    ],
)
def test_rejected_tokens(tsa: Tsa, token: Token, message: str) -> None:
    with pytest.raises(TimestampError, match=message):
        verify(tsa, token.build(tsa))


def test_signed_by_another_key(tsa: Tsa) -> None:
    forged = Token(signer_key=ec.generate_private_key(ec.SECP256R1())).build(tsa)
    with pytest.raises(TimestampError, match="does not verify"):
        verify(tsa, forged)


def test_embedded_impostor_of_the_signer(tsa: Tsa) -> None:
    # Same issuer and serial as the trusted leaf, different certificate.
    impostor = (
        x509.CertificateBuilder()
        .subject_name(_name("impostor"))
        .issuer_name(tsa.leaf.issuer)
        .public_key(tsa.key.public_key())
        .serial_number(tsa.leaf.serial_number)
        .not_valid_before(T0 - timedelta(days=1))
        .not_valid_after(T0 + timedelta(days=1))
        .sign(tsa.root_key, hashes.SHA256())
    )
    with pytest.raises(TimestampError, match="different certificate"):
        verify(tsa, Token(embed=[der(impostor)]).build(tsa))


def test_untrusted_tsa(tsa: Tsa) -> None:
    other = make_tsa()
    with pytest.raises(TimestampError, match="not signed by a trusted"):
        verify(tsa, Token().build(other))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"eku": None}, "timeStamping"),
        ({"eku_critical": False}, "timeStamping"),
        ({"eku": [ExtendedKeyUsageOID.CODE_SIGNING]}, "timeStamping"),
        ({"leaf_not_before": T0 + timedelta(seconds=1)}, "not valid at genTime"),
        ({"leaf_not_after": T0 - timedelta(seconds=1)}, "not valid at genTime"),
        ({"root_not_after": T0 - timedelta(seconds=1)}, "not valid at genTime"),
    ],
)
def test_tsa_certificate_rules(options: dict[str, Any], message: str) -> None:
    tsa = make_tsa(**options)
    with pytest.raises(TimestampError, match=message):
        verify(tsa, Token().build(tsa))


def test_chain_is_checked_at_gen_time_not_now() -> None:
    # Expired long ago, valid at genTime: accepted (no clock is read).
    tsa = make_tsa(leaf_not_after=T0 + timedelta(seconds=1))
    assert verify(tsa, Token().build(tsa)) == T0


@pytest.mark.parametrize(
    ("window", "ok"),
    [
        ({"valid_from": T0}, True),
        ({"valid_from": T0 - timedelta(days=1), "valid_until": T0}, True),  # end inclusive
        ({"valid_from": T0 + timedelta(microseconds=1)}, False),
        (
            {"valid_from": T0 - timedelta(days=1), "valid_until": T0 - timedelta(microseconds=1)},
            False,
        ),
        ({"valid_from": None}, False),  # no start: unusable
    ],
)
def test_authority_validity_window(tsa: Tsa, window: dict[str, Any], ok: bool) -> None:
    token = Token().build(tsa)
    if ok:
        assert verify(tsa, token, **window) == T0
    else:
        with pytest.raises(TimestampError):
            verify(tsa, token, **window)


def test_authority_chain_must_verify(tsa: Tsa) -> None:
    other = make_tsa()
    token = Token().build(tsa)
    for chain in [(der(tsa.leaf), der(other.root)), (der(tsa.leaf),), (), (b"junk", der(tsa.root))]:
        with pytest.raises(TimestampError):
            verify(tsa, token, chain=chain)


def test_first_good_authority_wins(tsa: Tsa) -> None:
    other = make_tsa()
    verifier = TimestampVerifier(
        [other.authority(name="other"), tsa.authority(valid_from=None), tsa.authority(name="good")]
    )
    when, authority = verifier.verify_with_authority(Token().build(tsa), SIGNATURE)
    assert (when, authority.name) == (T0, "good")
    assert verifier.verify(Token().build(other), SIGNATURE) == T0


def test_errors_name_the_authority(tsa: Tsa) -> None:
    verifier = TimestampVerifier([tsa.authority(valid_until=T0 - timedelta(days=1))])
    with pytest.raises(TimestampError, match=r"test-tsa: genTime .* outside"):
        verifier.verify(Token().build(tsa), SIGNATURE)


def test_verify_timestamp_function(tsa: Tsa) -> None:
    token = Token().build(tsa)
    assert verify_timestamp(token, signature=SIGNATURE, authorities=[tsa.authority()]) == T0
    with pytest.raises(TimestampError):
        verify_timestamp(token, signature=SIGNATURE, authorities=[])


def test_authority_times_must_be_aware(tsa: Tsa) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TsaAuthority(chain=tsa.chain, valid_from=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        TsaAuthority(chain=tsa.chain, valid_from=T0, valid_until=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x30\x00", b"\x30\x03\x02\x01\x00", b"\x04\x00", b"junk" * 50],
)
def test_malformed_responses(tsa: Tsa, data: bytes) -> None:
    with pytest.raises(TimestampError):
        verify(tsa, data)


def test_signature_checks_are_memoised(tsa: Tsa) -> None:
    verifier = TimestampVerifier([tsa.authority()])
    token = Token().build(tsa)
    verifier.verify(token, SIGNATURE)
    hits = rfc3161._signature_ok.cache_info().hits
    verifier.verify(token, SIGNATURE)
    assert rfc3161._signature_ok.cache_info().hits == hits + 1


# --- the conformance vectors -----------------------------------------------------


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@attrs.frozen
class VectorCase:
    tokens: list[bytes]
    signature: bytes
    authorities: list[TsaAuthority]


def _vector_case(conformance: Any, case: str) -> VectorCase:
    bundle = conformance.bundle(case)
    timestamps = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    if "messageSignature" in bundle:
        signature = _b64(bundle["messageSignature"]["signature"])
    else:
        signature = _b64(bundle["dsseEnvelope"]["signatures"][0]["sig"])
    authorities = [
        TsaAuthority(
            chain=[_b64(c["rawBytes"]) for c in tsa["certChain"]["certificates"]],
            valid_from=_time(tsa.get("validFor", {}).get("start")),
            valid_until=_time(tsa.get("validFor", {}).get("end")),
            name=tsa.get("uri"),
        )
        for tsa in conformance.trusted_root(case)["timestampAuthorities"]
    ]
    return VectorCase([_b64(t["signedTimestamp"]) for t in timestamps], signature, authorities)


PASSING = [
    "rekor2-happy-path",
    "rekor2-timestamp-with-embedded-cert",
    "rekor2-timestamp-without-embedded-cert",
    "rekor2-timestamp-with-expired-cert-chain",
    "trust-root-tsa-validity-end-inclusive",
    "rekor2-dsse-happy-path",
]
FAILING = {
    "rekor2-timestamp-outside-trust-root-tsa-validity_fail": "outside the authority's validity",
    "rekor2-timestamp-outside-tsa-cert-validity_fail": "not valid at genTime",
    "rekor2-timestamp-payload-mismatch_fail": "not over this signature",
    # FreeTSA embeds its certificates in a SET that is not DER-sorted: rejected as
    # malformed before trust is even considered.
    "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail": "malformed",
    "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail": "not signed by a trusted",
}


@pytest.mark.vectors
@pytest.mark.parametrize("case", PASSING)
def test_vector_passes(conformance: Any, case: str) -> None:
    vc = _vector_case(conformance, case)
    verifier = TimestampVerifier(vc.authorities)
    for token in vc.tokens:
        when = verifier.verify(token, vc.signature)
        assert when.tzinfo is not None
        assert when == verify_timestamp(token, signature=vc.signature, authorities=vc.authorities)


@pytest.mark.vectors
def test_vector_validity_end_is_inclusive(conformance: Any) -> None:
    vc = _vector_case(conformance, "trust-root-tsa-validity-end-inclusive")
    (authority,) = vc.authorities
    assert authority.valid_until == datetime(2025, 6, 12, 12, 2, 20, tzinfo=UTC)
    assert TimestampVerifier(vc.authorities).verify(vc.tokens[0], vc.signature) == (
        authority.valid_until
    )
    earlier = attrs.evolve(authority, valid_until=authority.valid_until - timedelta(seconds=1))
    with pytest.raises(TimestampError, match="outside"):
        TimestampVerifier([earlier]).verify(vc.tokens[0], vc.signature)


@pytest.mark.vectors
@pytest.mark.parametrize(("case", "message"), FAILING.items())
def test_vector_fails(conformance: Any, case: str, message: str) -> None:
    vc = _vector_case(conformance, case)
    verifier = TimestampVerifier(vc.authorities)
    for token in vc.tokens:
        with pytest.raises(TimestampError, match=message):
            verifier.verify(token, vc.signature)


@pytest.mark.vectors
@pytest.mark.parametrize(
    "case", ["rekor2-timestamp-with-embedded-cert", "rekor2-timestamp-without-embedded-cert"]
)
def test_mutated_vector_tokens(conformance: Any, case: str) -> None:
    """Every single-byte change is rejected with TimestampError, or is accepted
    with the very same genTime (a change to bytes the TSA does not sign)."""
    vc = _vector_case(conformance, case)
    verifier = TimestampVerifier(vc.authorities)
    token = vc.tokens[0]
    expected = verifier.verify(token, vc.signature)
    certificates = _certificates_field(token)
    for i in range(len(token)):
        mutated = bytearray(token)
        mutated[i] ^= 0x01 if i % 2 else 0x80
        try:
            when = verifier.verify(bytes(mutated), vc.signature)
        except TimestampError:
            continue
        # Only the embedded certificates are neither signed nor trusted: a flip there
        # either turns the field into CRLs or makes the embedded leaf stop claiming
        # to be the signer. Everything else is covered by the signature or checked.
        assert i in certificates, i
        assert when == expected
    with pytest.raises(TimestampError):
        verifier.verify(token, vc.signature[:-1] + bytes([vc.signature[-1] ^ 1]))


def _certificates_field(token: bytes) -> range:
    """Where the SignedData ``certificates [0]`` field lies in a TimeStampResp."""
    response = rfc3161._der(token).enter(0x30)
    response.next(0x30)  # status
    content_info = response.enter(0x30)
    content_info.next(0x06)
    signed_data = content_info.enter(0xA0).enter(0x30)
    for tag in (0x02, 0x31, 0x30):  # version, digestAlgorithms, encapContentInfo
        signed_data.next(tag)
    header, _, stop = signed_data.next(0xA0)
    return range(header, stop)
