"""RFC 3161 timestamp tokens over a signature, checked against trusted TSAs.

Owns: deciding whether a DER ``TimeStampResp`` is a valid timestamp of given
signature bytes by one of the timestamp authorities (TSAs) of the trust root,
and returning its ``genTime``.

Does not own: which TSAs are trusted (the caller builds ``TsaAuthority``
values from the trust root), how many verified times a bundle needs, or
comparing the time with the signing certificate (the verify steps do). Never
reads the clock: a TSA chain is checked at the token's own ``genTime``.

How it checks, and why it does not call ``rfc3161_client.Verifier``:
``rfc3161_client`` parses the response (status, ``TSTInfo``), and this module
verifies the CMS ``SignedData`` itself with ``cryptography``. The library's
verifier hands the token and the chain to OpenSSL's ``PKCS7_verify`` on every
call, which rebuilds a certificate store and re-verifies the TSA chain each
time; that was about three quarters of its cost. Here each authority's chain
is verified once, when a ``TimestampVerifier`` is built, and a token costs a
small DER walk, two hashes and one signature check (memoised on the exact
signed bytes). The steps (RFC 5652 5.4 and 11, RFC 3161 2.3 and 2.4, RFC
5816):

1. the response status is granted and the token is CMS ``SignedData``
   (version 3) over a ``TSTInfo`` (version 1) with exactly one ``SignerInfo``
   (version 1), whose digest algorithm ``digestAlgorithms`` lists;
2. the message imprint is the hash of the given signature bytes;
3. the signed attributes carry content type ``id-ct-TSTInfo`` and a message
   digest equal to the hash of the encapsulated ``TSTInfo``;
4. the signer identifier (issuer and serial number) names an authority's
   leaf; a certificate embedded in the token is never trusted, and one that
   claims the signer's identity must be that leaf;
5. the ``ESSCertID``/``ESSCertIDv2`` signing-certificate attribute, when
   present, hashes to that leaf;
6. the signature over the signed attributes verifies with the leaf's key;
7. every certificate of the authority's chain is valid at ``genTime``, and
   ``genTime`` lies in the authority's validity window (end inclusive).

The authority's chain is checked once: leaf signed by the next certificate up
to a self-signed root, CA flags and path lengths (``x509.verify_chain_signatures``),
and a leaf with a critical extended key usage that includes timeStamping
(RFC 3161 2.3).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import decode_timestamp_response

from sigstore_async._core import Memo
from sigstore_async._core import x509 as _x509
from sigstore_async._core.der import Reader, oid_content
from sigstore_async._core.keys import (
    KIND_EC,
    KIND_ED25519,
    KIND_RSA,
    PublicKey,
    as_public_key,
    key_kind,
    verify_signature,
)
from sigstore_async._core.tsa_authority import TsaAuthority
from sigstore_async.errors import CertificateError, TimestampError

__all__ = ["Memo", "TimestampVerifier", "TsaAuthority", "verify_timestamp"]

_logger = logging.getLogger(__name__)


#: OID content octets (``_core.der``); the name is kept for the tests.
_oid = oid_content

_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_TST_INFO = _oid("1.2.840.113549.1.9.16.1.4")
_ATTR_CONTENT_TYPE = _oid("1.2.840.113549.1.9.3")
_ATTR_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_ATTR_SIGNING_CERT = _oid("1.2.840.113549.1.9.16.2.12")  # ESSCertID, SHA-1 (RFC 2634)
_ATTR_SIGNING_CERT_V2 = _oid("1.2.840.113549.1.9.16.2.47")  # ESSCertIDv2 (RFC 5035)

#: Digest algorithm OIDs (content octets) to hashlib names and Sigstore hash names.
_DIGESTS: dict[bytes, tuple[str, str]] = {
    _oid("2.16.840.1.101.3.4.2.1"): ("sha256", "SHA2_256"),
    _oid("2.16.840.1.101.3.4.2.2"): ("sha384", "SHA2_384"),
    _oid("2.16.840.1.101.3.4.2.3"): ("sha512", "SHA2_512"),
}
_DIGESTS_DOTTED = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_SHA1 = _oid("1.3.14.3.2.26")
#: CMS signature algorithms: key type, and the hash if the OID fixes one (else
#: the SignerInfo digest algorithm's).
_SIGNATURES: dict[bytes, tuple[str, str | None]] = {
    _oid("1.2.840.10045.4.3.2"): ("ec", "SHA2_256"),
    _oid("1.2.840.10045.4.3.3"): ("ec", "SHA2_384"),
    _oid("1.2.840.10045.4.3.4"): ("ec", "SHA2_512"),
    _oid("1.2.840.113549.1.1.1"): ("rsa", None),  # rsaEncryption (PKCS #1 v1.5)
    _oid("1.2.840.113549.1.1.11"): ("rsa", "SHA2_256"),
    _oid("1.2.840.113549.1.1.12"): ("rsa", "SHA2_384"),
    _oid("1.2.840.113549.1.1.13"): ("rsa", "SHA2_512"),
    _oid("1.3.101.112"): ("ed25519", None),
}
#: Key types as ``keys.key_kind`` names them.
_KEY_KINDS: dict[str, int] = {"ec": KIND_EC, "rsa": KIND_RSA, "ed25519": KIND_ED25519}

# DER tags used below (X.690 8.1.2).
_INTEGER, _OCTET_STRING, _OID, _SEQUENCE, _SET = 0x02, 0x04, 0x06, 0x30, 0x31
_CTX0, _CTX1 = 0xA0, 0xA1


def _der(buf: bytes, pos: int = 0, end: int | None = None) -> Reader:
    """The strict DER reader (``_core.der``); every problem raises ``TimestampError``."""
    return Reader(buf, pos, end, TimestampError)


def _algorithm(der: Reader) -> bytes:
    """An AlgorithmIdentifier's OID; its parameters are not needed here."""
    inner = der.enter(_SEQUENCE)
    oid = inner.content(_OID)
    if not inner.done():
        inner.any()
    inner.finish()
    return oid


class _SignedToken:
    """What the checks need from a token's CMS SignedData (RFC 5652 5.1, 5.3).

    A plain class rather than attrs, so that a compiled build (mypyc) makes
    it a native one."""

    __slots__ = (
        "attributes",
        "certificates",
        "digest_oid",
        "econtent",
        "econtent_type",
        "sid",
        "signature",
        "signature_oid",
        "signed_attrs",
    )

    def __init__(
        self,
        *,
        econtent_type: bytes,
        econtent: bytes,
        certificates: tuple[bytes, ...],
        sid: bytes,
        digest_oid: bytes,
        signed_attrs: bytes,
        attributes: dict[bytes, list[bytes]],
        signature_oid: bytes,
        signature: bytes,
    ) -> None:
        self.econtent_type = econtent_type
        self.econtent = econtent
        self.certificates = certificates
        self.sid = sid  # content of the IssuerAndSerialNumber signer identifier
        self.digest_oid = digest_oid
        self.signed_attrs = signed_attrs  # re-tagged as SET OF, as signed (RFC 5652 5.4)
        self.attributes = attributes  # attribute OID -> encoded values
        self.signature_oid = signature_oid
        self.signature = signature


def _parse_token(content_info: bytes) -> _SignedToken:
    outer = _der(content_info)
    ci = outer.enter(_SEQUENCE)
    outer.finish()
    if ci.content(_OID) != _SIGNED_DATA:
        raise TimestampError("the timestamp token is not CMS SignedData")
    explicit = ci.enter(_CTX0)
    ci.finish()
    sd = explicit.enter(_SEQUENCE)
    explicit.finish()
    # RFC 5652 5.1: version 3, since the content type is not id-data.
    if sd.content(_INTEGER) != b"\x03":
        raise TimestampError("unexpected SignedData version")
    digest_set = sd.enter(_SET)
    digest_algorithms = set()
    while not digest_set.done():
        digest_algorithms.add(_algorithm(digest_set))
    encap = sd.enter(_SEQUENCE)
    econtent_type = encap.content(_OID)
    econtent_explicit = encap.enter(_CTX0)
    encap.finish()
    econtent = econtent_explicit.content(_OCTET_STRING)
    econtent_explicit.finish()
    certificates: list[bytes] = []
    if sd.peek() == _CTX0:
        certs = sd.enter(_CTX0)
        while not certs.done():
            if certs.peek() == _SEQUENCE:
                certificates.append(certs.element(_SEQUENCE))
            else:
                certs.any()  # other CertificateChoices: never used here
    if sd.peek() == _CTX1:
        sd.next(_CTX1)  # crls
    signer_infos = sd.enter(_SET)
    sd.finish()
    si = signer_infos.enter(_SEQUENCE)
    if not signer_infos.done():
        raise TimestampError("expected exactly one SignerInfo")

    # RFC 5652 5.3: version 1 goes with an issuerAndSerialNumber signer identifier.
    if si.content(_INTEGER) != b"\x01":
        raise TimestampError("unexpected SignerInfo version")
    # rfc3161-client only parses the IssuerAndSerialNumber choice of
    # SignerIdentifier, so a subjectKeyIdentifier never gets this far.
    sid = si.content(_SEQUENCE)
    digest_oid = _algorithm(si)
    # RFC 5652 5.1: digestAlgorithms lists the signers' digest algorithms.
    if digest_oid not in digest_algorithms:
        raise TimestampError("the SignerInfo digest algorithm is not among digestAlgorithms")
    if si.peek() != _CTX0:
        # RFC 5652 5.3: signed attributes are required when the content is not id-data.
        raise TimestampError("the SignerInfo has no signed attributes")
    header, start, stop = si.next(_CTX0)
    signed_attrs = bytes([_SET]) + content_info[header + 1 : stop]
    attributes: dict[bytes, list[bytes]] = {}
    attrs_der = _der(content_info, start, stop)
    while not attrs_der.done():
        attribute = attrs_der.enter(_SEQUENCE)
        attr_type = attribute.content(_OID)
        values_der = attribute.enter(_SET)
        attribute.finish()
        if attr_type in attributes:
            raise TimestampError("a signed attribute appears twice")
        values = []
        while not values_der.done():
            values.append(values_der.any())
        attributes[attr_type] = values
    signature_oid = _algorithm(si)
    signature = si.content(_OCTET_STRING)
    if si.peek() == _CTX1:
        si.next(_CTX1)  # unsigned attributes
    si.finish()
    return _SignedToken(
        econtent_type=econtent_type,
        econtent=econtent,
        certificates=tuple(certificates),
        sid=sid,
        digest_oid=digest_oid,
        signed_attrs=signed_attrs,
        attributes=attributes,
        signature_oid=signature_oid,
        signature=signature,
    )


def _single_attribute(token: _SignedToken, oid: bytes, tag: int, name: str) -> bytes:
    """The content of an attribute that must appear once with one value (RFC 5652 11)."""
    values = token.attributes.get(oid)
    if values is None or len(values) != 1:
        raise TimestampError(f"the {name} signed attribute must have exactly one value")
    der = _der(values[0])
    content = der.content(tag)
    der.finish()
    return content


def _signed_imprint(tst_info: bytes) -> bytes:
    """The hashedMessage of a DER TSTInfo (RFC 3161 2.4.2): version, policy,
    then messageImprint ``SEQUENCE { AlgorithmIdentifier, OCTET STRING }``."""
    outer = _der(tst_info)
    info = outer.enter(_SEQUENCE)
    outer.finish()
    info.content(_INTEGER)  # version
    info.content(_OID)  # policy
    imprint = info.enter(_SEQUENCE)
    _algorithm(imprint)
    message = imprint.content(_OCTET_STRING)
    imprint.finish()
    return message


def _issuer_and_serial(cert_der: bytes) -> bytes:
    """The raw issuer Name and serial INTEGER of a certificate, as an
    IssuerAndSerialNumber holds them (RFC 5652 10.2.4)."""
    outer = _der(cert_der)
    cert = outer.enter(_SEQUENCE)
    outer.finish()
    tbs = cert.enter(_SEQUENCE)
    if tbs.peek() == _CTX0:
        tbs.next(_CTX0)  # version
    serial = tbs.element(_INTEGER)
    tbs.next(_SEQUENCE)  # signature algorithm
    return tbs.element(_SEQUENCE) + serial


class _Authority:
    """A ``TsaAuthority`` with everything that does not depend on the token
    worked out once. ``problem`` says why it is unusable, if it is."""

    __slots__ = (
        "issuer_serial",
        "key",
        "leaf_der",
        "not_after",
        "not_before",
        "problem",
        "source",
        "valid_from",
        "valid_until",
    )

    def __init__(self, authority: TsaAuthority) -> None:
        self.source = authority
        self.valid_from = authority.valid_from
        self.valid_until = authority.valid_until
        self.leaf_der = authority.chain[0] if authority.chain else b""
        self.problem: str | None = None
        self.issuer_serial = b""
        self.key: PublicKey | None = None
        self.not_before = self.not_after = datetime.min.replace(tzinfo=UTC)
        try:
            self._prepare(authority)
        except (CertificateError, TimestampError) as e:
            self.problem = e.message
        except _x509.PARSE_ERRORS as e:
            self.problem = f"malformed certificate: {e}"

    def _prepare(self, authority: TsaAuthority) -> None:
        if not authority.chain:
            self.problem = "the authority has no certificates"
            return
        # First, so that errors can say when a token names an unusable authority.
        self.issuer_serial = _issuer_and_serial(self.leaf_der)
        if self.valid_from is None:
            # Our rule (as for log keys in DESIGN.md): no validity start, no use.
            self.problem = "the authority has no validity start"
            return
        if len(authority.chain) < 2:
            self.problem = "the authority's chain needs a leaf and a root"
            return
        chain = [_x509.load_certificate(der) for der in authority.chain]
        leaf = chain[0]
        _x509.verify_chain_signatures(leaf, chain[1:])
        try:
            eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            eku = None
        # RFC 3161 2.3: the TSA certificate's extended key usage is critical and
        # has id-kp-timeStamping.
        if eku is None or not eku.critical or ExtendedKeyUsageOID.TIME_STAMPING not in eku.value:
            self.problem = "the TSA certificate lacks a critical timeStamping extended key usage"
            return
        self.key = as_public_key(leaf.public_key())
        # The whole chain must be valid at genTime: the intersection of the windows.
        self.not_before = max(cert.not_valid_before_utc for cert in chain)
        self.not_after = min(cert.not_valid_after_utc for cert in chain)

    def names_leaf(self, token: _SignedToken) -> bool:
        """Whether the token's signer identifier is this authority's leaf (RFC 5652 5.3)."""
        return bool(self.issuer_serial) and token.sid == self.issuer_serial


def _signature_check(
    authority: _Authority, key_type: str, hash_name: str, data: bytes, signature: bytes
) -> bool:
    """One CMS signature check (pure: its result depends on the arguments only)."""
    key = authority.key
    if key is None or key_kind(key) != _KEY_KINDS[key_type]:
        return False
    return verify_signature(key, signature, message=data, hash_algorithm=hash_name)


#: The module's own memo of signature checks, on the exact bytes, for callers
#: that pass no ``memo``.
_signature_ok = functools.lru_cache(maxsize=1024)(_signature_check)


@functools.lru_cache(maxsize=64)
def _certificate_digest(der: bytes, hash_name: str) -> bytes:
    """A trusted TSA certificate's digest (memoised: the same few certificates every time)."""
    return hashlib.new(hash_name, der).digest()


def _ess_problem(token: _SignedToken, leaf_der: bytes) -> str | None:
    """RFC 2634 5.4 / RFC 5035: the first ESSCertID(v2) identifies the signer's certificate."""
    for oid, version in ((_ATTR_SIGNING_CERT_V2, 2), (_ATTR_SIGNING_CERT, 1)):
        if oid not in token.attributes:
            continue
        content = _single_attribute(token, oid, _SEQUENCE, "signing certificate")
        certs = _der(content).enter(_SEQUENCE)  # SEQUENCE OF ESSCertID(v2)
        cert_id = certs.enter(_SEQUENCE)
        hash_name = "sha1"
        if version == 2:
            hash_name = "sha256"  # RFC 5035: DEFAULT id-sha256
            if cert_id.peek() == _SEQUENCE:
                digest_oid = _algorithm(cert_id)
                if digest_oid not in _DIGESTS:
                    return "unsupported hash in the signing certificate attribute"
                hash_name = _DIGESTS[digest_oid][0]
        if cert_id.content(_OCTET_STRING) != _certificate_digest(leaf_der, hash_name):
            return "the signing certificate attribute names another certificate"
    return None


class TimestampVerifier:
    """Verifies RFC 3161 timestamp tokens against a fixed set of TSAs.

    Build one per trust root and reuse it: each authority's chain is parsed
    and checked once, here, and signature checks are memoised. Instances are
    immutable after construction and safe to share between threads.
    """

    def __init__(self, authorities: Sequence[TsaAuthority]) -> None:
        self._authorities = tuple(_Authority(a) for a in authorities)
        for i, authority in enumerate(self._authorities):
            if authority.problem is not None:
                _logger.debug("timestamp authority %d is unusable: %s", i, authority.problem)

    def verify(self, token: bytes, signature: bytes) -> datetime:
        """Verify ``token`` as a timestamp of ``signature`` and return its ``genTime``.

        ``token`` is a DER ``TimeStampResp``, as bundles carry it in
        ``timestampVerificationData.rfc3161Timestamps[].signedTimestamp``;
        ``signature`` is the bundle's signature bytes, whose hash the token's
        message imprint must be. The result is an aware UTC datetime.

        Raises:
            TimestampError: the token is malformed, does not cover
                ``signature``, or no trusted authority vouches for it at its
                ``genTime``.
        """
        return self.verify_with_authority(token, signature)[0]

    def verify_with_authority(
        self, token: bytes, signature: bytes, *, memo: Memo[bool] | None = None
    ) -> tuple[datetime, TsaAuthority]:
        """Like ``verify``, and also return the authority that vouches for the token
        (callers counting distinct timestamp sources need it).

        ``memo``, when given, replaces this module's own memo of signature
        checks: a verifier that owns a bounded cache of pure checks (and wants
        none to outlive it) passes its own.

        Raises:
            TimestampError: see ``verify``.
        """
        try:
            response = decode_timestamp_response(token)
            # RFC 3161 2.4.2: a token is present with status granted(0) or grantedWithMods(1).
            if response.status not in (0, 1):
                raise TimestampError(f"the TSA refused the request (status {response.status})")
            info = response.tst_info
            if info.version != 1:
                raise TimestampError(f"unsupported TSTInfo version {info.version}")
            imprint = info.message_imprint
            imprint_hash = _DIGESTS_DOTTED.get(imprint.hash_algorithm.dotted_string)
            imprint_message = imprint.message
            gen_time = info.gen_time
        except ValueError as e:
            raise TimestampError(f"malformed timestamp response: {e}") from e
        if imprint_hash is None:
            raise TimestampError("unsupported message imprint hash algorithm")
        if imprint_message != hashlib.new(imprint_hash, signature).digest():
            raise TimestampError("the timestamp is not over this signature")
        gen_time = gen_time.replace(tzinfo=UTC) if gen_time.tzinfo is None else gen_time
        gen_time = gen_time.astimezone(UTC)

        # The token as a slice of the input, not ``response.time_stamp_token()``, which
        # re-encodes it at a cost of about 80 us. Both parsers are strict DER, so
        # they agree on the bytes.
        outer = _der(token)
        response_der = outer.enter(_SEQUENCE)
        outer.finish()
        response_der.next(_SEQUENCE)  # PKIStatusInfo, read above
        content_info = response_der.element(_SEQUENCE)
        response_der.finish()
        signed = _parse_token(content_info)
        if signed.econtent_type != _TST_INFO:
            raise TimestampError("the token does not encapsulate a TSTInfo")
        # The imprint was read by rfc3161-client; what the signature covers is
        # ``signed.econtent``. Read the imprint from those signed bytes too, so
        # that no difference between the two parsers can separate them.
        if _signed_imprint(signed.econtent) != imprint_message:
            raise TimestampError("the signed TSTInfo does not carry the imprint that was read")
        if signed.digest_oid not in _DIGESTS:
            raise TimestampError("unsupported SignerInfo digest algorithm")
        digest_name, digest_sigstore_name = _DIGESTS[signed.digest_oid]
        # RFC 5652 11.1 and 11.2: the signed attributes bind the content type and digest.
        content_type = _single_attribute(signed, _ATTR_CONTENT_TYPE, _OID, "content type")
        if content_type != _TST_INFO:
            raise TimestampError("the signed content type is not TSTInfo")
        message_digest = _single_attribute(
            signed, _ATTR_MESSAGE_DIGEST, _OCTET_STRING, "message digest"
        )
        if message_digest != hashlib.new(digest_name, signed.econtent).digest():
            raise TimestampError("the signed message digest does not match the TSTInfo")
        if signed.signature_oid not in _SIGNATURES:
            raise TimestampError("unsupported timestamp signature algorithm")
        key_type, signature_hash = _SIGNATURES[signed.signature_oid]
        signature_hash = signature_hash or digest_sigstore_name

        problems: list[str] = []
        for i, authority in enumerate(self._authorities):
            if not authority.names_leaf(signed):
                continue
            problem = authority.problem
            if problem is None:
                problem = self._check(authority, signed, key_type, signature_hash, gen_time, memo)
                if problem is None:
                    return gen_time, authority.source
            problems.append(f"authority {authority.source.name or i}: {problem}")
        if not problems:
            raise TimestampError("the timestamp is not signed by a trusted timestamp authority")
        raise TimestampError("; ".join(problems))

    @staticmethod
    def _check(
        authority: _Authority,
        signed: _SignedToken,
        key_type: str,
        signature_hash: str,
        gen_time: datetime,
        memo: Memo[bool] | None,
    ) -> str | None:
        """Why ``authority`` does not vouch for the token, or None when it does."""
        for cert in signed.certificates:
            # An embedded certificate is only a hint; one claiming to be the
            # signer must be the trusted leaf itself.
            if cert != authority.leaf_der and _issuer_and_serial(cert) == signed.sid:
                return "the token embeds a different certificate for its signer"
        ess_problem = _ess_problem(signed, authority.leaf_der)
        if ess_problem is not None:
            return ess_problem
        if memo is None:
            ok = _signature_ok(
                authority, key_type, signature_hash, signed.signed_attrs, signed.signature
            )
        else:
            ok = memo(
                (
                    "tsa-signature",
                    authority.leaf_der,
                    key_type,
                    signature_hash,
                    signed.signed_attrs,
                    signed.signature,
                ),
                functools.partial(
                    _signature_check,
                    authority,
                    key_type,
                    signature_hash,
                    signed.signed_attrs,
                    signed.signature,
                ),
            )
        if not ok:
            return "the token's signature does not verify with the TSA certificate"
        if not authority.not_before <= gen_time <= authority.not_after:
            return f"the TSA certificate chain is not valid at genTime {gen_time.isoformat()}"
        assert authority.valid_from is not None
        if gen_time < authority.valid_from or (
            authority.valid_until is not None and gen_time > authority.valid_until
        ):
            return f"genTime {gen_time.isoformat()} is outside the authority's validity"
        return None


@functools.lru_cache(maxsize=16)
def _verifier_for(authorities: tuple[TsaAuthority, ...]) -> TimestampVerifier:
    return TimestampVerifier(authorities)


def verify_timestamp(
    token: bytes, *, signature: bytes, authorities: Sequence[TsaAuthority]
) -> datetime:
    """Verify one RFC 3161 token over ``signature``; return its ``genTime`` (aware UTC).

    A convenience over ``TimestampVerifier``; the verifier for a given set of
    authorities is built once and reused.

    Raises:
        TimestampError: see ``TimestampVerifier.verify``.
    """
    return _verifier_for(tuple(authorities)).verify(token, signature)
