"""Fulcio certificates: loading, chain checks, the leaf profile and the signer identity.

Owns: parsing DER certificates; checking that a leaf chains to one given CA
chain (signatures, CA flags, key usage, path length) and that every
certificate is valid at given times; the Fulcio leaf profile (digitalSignature,
codeSigning, not a CA); reading the identity (SAN, OIDC issuer, Fulcio
extensions 1.3.6.1.4.1.57264.1.x) out of a leaf.

Does not own: choosing which CA of the trust root to try or which times count
(the verify steps do), SCTs (``sct``), identity policies, revocation (Sigstore
has none). Never reads the clock: every time is a parameter.

Caching: the checks that do not depend on time are split from the ones that
do. ``chain_signatures_valid`` is a pure function of DER bytes, so a caller can
memoise it on ``(leaf DER, chain DERs)``; ``check_validity`` is cheap and runs
per verified time. The CA part of a chain (intermediate signed by root) is the
same for every bundle and is memoised here, in a small bounded cache, and so
is each CA certificate's parsed public key and raw subject.

Speed: given the leaf's DER, its signature is checked from the DER itself
(the to-be-signed bytes, the issuer name and the signature sliced out, the CA
key parsed once), not with ``verify_directly_issued_by``, which re-parses the
issuer's public key on every call; for Fulcio's P-384 intermediate that is a
tenth of a leaf check.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, SignatureAlgorithmOID

from sigstore_async._core.der import Reader
from sigstore_async.errors import CertificateError

__all__ = [
    "FULCIO_EXTENSION_ARC",
    "FulcioIdentity",
    "chain_signatures_valid",
    "check_leaf",
    "check_validity",
    "is_self_signed",
    "leaf_identity",
    "load_certificate",
    "verify_chain",
    "verify_chain_signatures",
]

#: The arc under which Fulcio puts its certificate extensions.
FULCIO_EXTENSION_ARC = "1.3.6.1.4.1.57264.1."
_ISSUER_V1 = x509.ObjectIdentifier(FULCIO_EXTENSION_ARC + "1")  # raw UTF-8, deprecated
_ISSUER_V2 = x509.ObjectIdentifier(FULCIO_EXTENSION_ARC + "8")  # DER UTF8String
_USERNAME_SAN = x509.ObjectIdentifier(FULCIO_EXTENSION_ARC + "7")  # otherName type id
# Fulcio's extension numbering: .1 to .6 hold the raw UTF-8 bytes (deprecated
# encoding); .7 is the otherName SAN type, never an extension; .8 to .22 hold a
# DER UTF8String. (Fulcio docs/oid-info.md.)
_RAW_EXTENSIONS = range(1, 7)
_DER_EXTENSIONS = range(8, 23)
#: Fulcio's extension OIDs: dotted string, and whether the value is DER (else raw UTF-8).
#: Looked up by OID object, which hashes cheaply (``dotted_string`` costs a microsecond).
_FULCIO_OIDS: dict[x509.ObjectIdentifier, tuple[str, bool]] = {
    x509.ObjectIdentifier(f"{FULCIO_EXTENSION_ARC}{n}"): (f"{FULCIO_EXTENSION_ARC}{n}", der)
    for numbers, der in ((_RAW_EXTENSIONS, False), (_DER_EXTENSIONS, True))
    for n in numbers
}

# Certificate signature algorithms we accept (no SHA-1, no MD5).
_ALLOWED_SIGNATURE_ALGORITHMS = frozenset(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.ED25519,
    }
)

#: Each allowed signature algorithm: the issuer key type it needs and its hash.
_SIGNATURE_SPECS: dict[x509.ObjectIdentifier, tuple[type, type[hashes.HashAlgorithm] | None]] = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: (ec.EllipticCurvePublicKey, hashes.SHA256),
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: (ec.EllipticCurvePublicKey, hashes.SHA384),
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: (ec.EllipticCurvePublicKey, hashes.SHA512),
    SignatureAlgorithmOID.RSA_WITH_SHA256: (rsa.RSAPublicKey, hashes.SHA256),
    SignatureAlgorithmOID.RSA_WITH_SHA384: (rsa.RSAPublicKey, hashes.SHA384),
    SignatureAlgorithmOID.RSA_WITH_SHA512: (rsa.RSAPublicKey, hashes.SHA512),
    SignatureAlgorithmOID.ED25519: (ed25519.Ed25519PublicKey, None),
}
assert set(_SIGNATURE_SPECS) == _ALLOWED_SIGNATURE_ALGORITHMS

# What cryptography raises on malformed or unsupported content when a lazily
# parsed part of a certificate is first touched.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
)


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse one DER-encoded X.509 certificate.

    Raises:
        CertificateError: ``der`` is not a well-formed certificate.
    """
    try:
        return x509.load_der_x509_certificate(der)
    except _PARSE_ERRORS as e:
        raise CertificateError(f"malformed certificate: {e}") from e


def _extensions(cert: x509.Certificate) -> x509.Extensions:
    try:
        return cert.extensions
    except _PARSE_ERRORS as e:
        raise CertificateError(f"malformed certificate extensions: {e}") from e


def _get(
    extensions: x509.Extensions, cls: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def _issued_by(
    child: x509.Certificate, parent: x509.Certificate, child_der: bytes | None = None
) -> bool:
    """Whether ``parent``'s name is ``child``'s issuer and its key signed ``child``.

    ``child_der``, the DER that ``child`` was loaded from, selects the fast path.
    """
    try:
        if child.signature_algorithm_oid not in _ALLOWED_SIGNATURE_ALGORITHMS:
            return False
        if child_der is not None:
            return _signed_by(child, child_der, parent)
        child.verify_directly_issued_by(parent)
    except (InvalidSignature, *_PARSE_ERRORS):
        return False
    return True


def _der_element(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The DER element at ``buf[pos:end]``: (tag, content start, stop).

    Raises:
        ValueError: truncated, or a length form DER does not allow (``DerError``).
    """
    header, start, stop = Reader(buf, pos, end).next()
    return buf[header], start, stop


def _tbs_fields(der: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes, int]:
    """Slices of a DER certificate (RFC 5280 4.1): the TBSCertificate, its
    signature algorithm, issuer and subject, the outer signature algorithm, and
    where the signature BIT STRING starts.

    Raises:
        ValueError: not a well-formed certificate.
    """
    tag, start, stop = _der_element(der, 0, len(der))
    if tag != 0x30 or stop != len(der):
        raise ValueError("not a DER certificate")
    tag, tbs_start, tbs_stop = _der_element(der, start, stop)
    if tag != 0x30:
        raise ValueError("not a TBSCertificate")
    fields: list[bytes] = []
    pos = tbs_start
    tag, _, next_pos = _der_element(der, pos, tbs_stop)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = next_pos
    # serialNumber, signature, issuer, validity, subject.
    for expected in (0x02, 0x30, 0x30, 0x30, 0x30):
        tag, _, next_pos = _der_element(der, pos, tbs_stop)
        if tag != expected:
            raise ValueError("malformed TBSCertificate")
        fields.append(der[pos:next_pos])
        pos = next_pos
    tag, _, outer_stop = _der_element(der, tbs_stop, stop)
    if tag != 0x30:
        raise ValueError("malformed signatureAlgorithm")
    tbs = der[start:tbs_stop]
    return tbs, fields[1], fields[2], fields[4], der[tbs_stop:outer_stop], outer_stop


@functools.lru_cache(maxsize=64)
def _issuer_view(parent: x509.Certificate) -> tuple[object, bytes]:
    """A CA certificate's public key, parsed once, and its raw subject name."""
    subject = _tbs_fields(parent.public_bytes(serialization.Encoding.DER))[3]
    return parent.public_key(), subject


def _signed_by(child: x509.Certificate, child_der: bytes, parent: x509.Certificate) -> bool:
    """``verify_directly_issued_by`` over the child's own DER (see the module docstring)."""
    key_type, hash_type = _SIGNATURE_SPECS[child.signature_algorithm_oid]
    tbs, inner_algorithm, issuer, _, outer_algorithm, signature_at = _tbs_fields(child_der)
    # RFC 5280 4.1.1.2: the signature field inside the TBSCertificate names the same algorithm.
    if inner_algorithm != outer_algorithm:
        return False
    tag, start, stop = _der_element(child_der, signature_at, len(child_der))
    if tag != 0x03 or stop != len(child_der) or start >= stop or child_der[start] != 0:
        return False  # a BIT STRING without unused bits
    signature = child_der[start + 1 : stop]
    key, subject = _issuer_view(parent)
    # Names as encoded; an issuer encoded differently from the CA's subject is
    # compared as RFC 5280 7.1 does, through cryptography.
    if issuer != subject and child.issuer != parent.subject:
        return False
    if not isinstance(key, key_type):
        return False
    if isinstance(key, ec.EllipticCurvePublicKey):
        assert hash_type is not None
        key.verify(signature, tbs, ec.ECDSA(hash_type()))
    elif isinstance(key, rsa.RSAPublicKey):
        assert hash_type is not None
        key.verify(signature, tbs, padding.PKCS1v15(), hash_type())
    else:
        assert isinstance(key, ed25519.Ed25519PublicKey)
        key.verify(signature, tbs)
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    """Whether ``cert`` names itself as issuer and its own key verifies its signature.

    Never raises: a certificate that cannot be checked is not self-signed.
    """
    try:
        if cert.issuer != cert.subject:
            return False
    except _PARSE_ERRORS:
        return False
    return _issued_by(cert, cert)


#: Extensions this module processes, so may honour when marked critical.
_HANDLED_CRITICAL = frozenset(
    {
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    }
)


def _unhandled_critical(extensions: x509.Extensions) -> str | None:
    """RFC 5280 4.2: a certificate with a critical extension the verifier does
    not process MUST be rejected (a precertificate's poison, name or policy
    constraints this client does not evaluate)."""
    for ext in extensions:
        if ext.critical and ext.oid not in _HANDLED_CRITICAL:
            return f"unhandled critical extension {ext.oid.dotted_string}"
    return None


def _ca_problem(cert: x509.Certificate, intermediates_below: int) -> str | None:
    """Why ``cert`` cannot act as a CA with ``intermediates_below`` non-self-issued
    intermediate CA certificates between it and the leaf, or None."""
    try:
        extensions = _extensions(cert)
    except CertificateError as e:
        return e.message
    critical = _unhandled_critical(extensions)
    if critical is not None:
        return critical
    bc = _get(extensions, x509.BasicConstraints)
    # RFC 5280 4.2.1.9: a CA certificate asserts cA in basicConstraints.
    if bc is None or not isinstance(bc.value, x509.BasicConstraints) or not bc.value.ca:
        return "CA certificate lacks basicConstraints CA=true"
    path_length = bc.value.path_length
    # RFC 5280 4.2.1.9: pathLenConstraint bounds the non-self-issued intermediates below.
    if path_length is not None and intermediates_below > path_length:
        return f"pathLenConstraint {path_length} exceeded ({intermediates_below} below)"
    ku = _get(extensions, x509.KeyUsage)
    # RFC 5280 4.2.1.3: when keyUsage is present, keyCertSign is needed to sign certificates.
    if ku is not None and isinstance(ku.value, x509.KeyUsage) and not ku.value.key_cert_sign:
        return "CA certificate key usage lacks keyCertSign"
    return None


@functools.lru_cache(maxsize=64)
def _ca_path_problem(chain: tuple[x509.Certificate, ...]) -> str | None:
    """Time-independent problems of a CA chain ordered leaf-most first, or None.

    Memoised: trust roots have a handful of CA chains and every bundle checks
    one of them. Certificates hash and compare by their DER encoding.
    """
    if not chain:
        return "empty CA chain"
    below = 0  # non-self-issued intermediates between chain[i] and the leaf
    for i, cert in enumerate(chain):
        problem = _ca_problem(cert, below)
        if problem is not None:
            return f"chain[{i}]: {problem}"
        parent = chain[i + 1] if i + 1 < len(chain) else cert
        if not _issued_by(cert, parent):
            if parent is cert:
                return f"chain[{i}]: the last certificate is not a self-signed root"
            return f"chain[{i}] is not signed by chain[{i + 1}]"
        try:
            if cert.issuer != cert.subject:
                below += 1
        except _PARSE_ERRORS:
            return f"chain[{i}]: malformed name"
    return None


def verify_chain_signatures(
    leaf: x509.Certificate, chain: Sequence[x509.Certificate], *, leaf_der: bytes | None = None
) -> None:
    """Check everything about a chain that does not depend on time.

    ``chain`` is one CA's chain from the trust root, leaf-most first
    (intermediates, then the root). The leaf must be signed by ``chain[0]``,
    each ``chain[i]`` by ``chain[i + 1]``, the last must be self-signed, and
    every CA certificate must be a CA (basicConstraints, keyCertSign when key
    usage is present, path length constraints honoured). ``leaf_der``, the DER
    ``leaf`` was loaded from, makes the leaf's check cheaper.

    Raises:
        CertificateError: any of the checks fails.
    """
    ca_chain = tuple(chain)
    problem = _ca_path_problem(ca_chain)
    if problem is not None:
        raise CertificateError(problem)
    if not _issued_by(leaf, ca_chain[0], leaf_der):
        raise CertificateError("the leaf certificate is not signed by chain[0]")


def chain_signatures_valid(leaf_der: bytes, chain_ders: Sequence[bytes]) -> bool:
    """Whether ``verify_chain_signatures`` accepts these DER certificates.

    A pure function of its arguments, so callers may memoise it on
    ``(leaf_der, tuple(chain_ders))``; the leaf signature check is the costly
    part (one ECDSA P-384 verification with Fulcio's intermediate). Never raises.
    """
    try:
        leaf = load_certificate(leaf_der)
        chain = [load_certificate(der) for der in chain_ders]
        verify_chain_signatures(leaf, chain, leaf_der=leaf_der)
    except CertificateError:
        return False
    return True


def _check_times(at: Sequence[datetime]) -> None:
    if not at:
        raise ValueError("at least one verification time is needed")
    if any(t.tzinfo is None for t in at):
        raise ValueError("verification times must be timezone-aware")


def check_validity(certificates: Sequence[x509.Certificate], *, at: Sequence[datetime]) -> None:
    """Check that every certificate is valid at every time in ``at``.

    Validity is inclusive at both ends (RFC 5280 4.1.2.5).

    Raises:
        CertificateError: a certificate is not valid at one of the times.
        ValueError: ``at`` is empty or holds a naive datetime (misuse).
    """
    _check_times(at)
    earliest, latest = min(at), max(at)
    for i, cert in enumerate(certificates):
        try:
            not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        except _PARSE_ERRORS as e:
            raise CertificateError(f"certificate {i}: malformed validity: {e}") from e
        if earliest < not_before:
            raise CertificateError(
                f"certificate {i} is not yet valid at {earliest.isoformat()} "
                f"(valid from {not_before.isoformat()})"
            )
        if latest > not_after:
            raise CertificateError(
                f"certificate {i} has expired at {latest.isoformat()} "
                f"(valid until {not_after.isoformat()})"
            )


def verify_chain(
    leaf: x509.Certificate, chain: Sequence[x509.Certificate], *, at: Sequence[datetime]
) -> None:
    """Check that ``leaf`` chains to ``chain`` and that all of it is valid at each time.

    ``chain`` is one CA's certificate chain from the trust root, leaf-most
    first, ending in the root. This is ``verify_chain_signatures`` followed by
    ``check_validity`` over the leaf and the chain; callers that verify many
    bundles can memoise ``chain_signatures_valid`` instead and call
    ``check_validity`` themselves.

    Raises:
        CertificateError: the chain does not verify, or a certificate is not
            valid at one of the times.
        ValueError: ``at`` is empty or holds a naive datetime (misuse).
    """
    _check_times(at)
    verify_chain_signatures(leaf, chain)
    check_validity([leaf, *chain], at=at)


def check_leaf(leaf: x509.Certificate) -> None:
    """Check the Fulcio leaf profile: a code-signing certificate that is not a CA.

    Raises:
        CertificateError: keyUsage is missing or lacks digitalSignature,
            extendedKeyUsage is missing or lacks codeSigning, the
            certificate is a CA, or it has a critical extension this client
            does not process (RFC 5280 4.2).
    """
    extensions = _extensions(leaf)
    critical = _unhandled_critical(extensions)
    if critical is not None:
        raise CertificateError(f"leaf has an {critical}")
    ku = _get(extensions, x509.KeyUsage)
    # client spec: the leaf MUST have digitalSignature key usage.
    if ku is None or not isinstance(ku.value, x509.KeyUsage) or not ku.value.digital_signature:
        raise CertificateError("leaf key usage lacks digitalSignature")
    eku = _get(extensions, x509.ExtendedKeyUsage)
    # client spec: the leaf MUST have the codeSigning extended key usage.
    if (
        eku is None
        or not isinstance(eku.value, x509.ExtendedKeyUsage)
        or ExtendedKeyUsageOID.CODE_SIGNING not in eku.value
    ):
        raise CertificateError("leaf extended key usage lacks codeSigning")
    bc = _get(extensions, x509.BasicConstraints)
    if bc is not None and isinstance(bc.value, x509.BasicConstraints) and bc.value.ca:
        raise CertificateError("leaf certificate is a CA")


def _der_utf8string(data: bytes) -> str:
    """Decode exactly one DER UTF8String (tag 0x0C, definite minimal length)."""
    if len(data) < 2 or data[0] != 0x0C:
        raise CertificateError("expected a DER UTF8String")
    first = data[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        # 0x80 is BER's indefinite length; lengths past 4 bytes are absurd here.
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise CertificateError("bad DER length in UTF8String")
        length_bytes = data[2 : 2 + count]
        length, start = int.from_bytes(length_bytes, "big"), 2 + count
        # X.690 10.1: the long form only for lengths >= 128, in the fewest octets.
        if length < 0x80 or length_bytes[0] == 0:
            raise CertificateError("non-minimal DER length in UTF8String")
    if start + length != len(data):
        raise CertificateError("UTF8String length does not match its content")
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise CertificateError(f"invalid UTF-8 in UTF8String: {e}") from e


def _raw_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CertificateError(f"invalid UTF-8 in extension: {e}") from e


def _san(extensions: x509.Extensions) -> str:
    san = _get(extensions, x509.SubjectAlternativeName)
    if san is None or not isinstance(san.value, x509.SubjectAlternativeName):
        raise CertificateError("leaf has no subjectAltName")
    names = list(san.value)
    # Fulcio issues exactly one SAN: the identity of the token it was given.
    if len(names) != 1:
        raise CertificateError(f"leaf has {len(names)} subjectAltName values, expected 1")
    name = names[0]
    if isinstance(name, x509.RFC822Name | x509.UniformResourceIdentifier):
        return name.value
    if isinstance(name, x509.OtherName) and name.type_id == _USERNAME_SAN:
        return _der_utf8string(name.value)
    raise CertificateError(f"unsupported subjectAltName type {type(name).__name__}")


def _frozen_mapping(values: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(values))


@attrs.frozen
class FulcioIdentity:
    """The identity a Fulcio leaf certifies.

    ``san`` is the one Subject Alternative Name (an email address, a URI, or a
    Fulcio username otherName). ``issuer`` is the OIDC issuer, or None when the
    certificate names none. ``extensions`` maps each Fulcio extension OID
    present (dotted string, ``1.3.6.1.4.1.57264.1.1`` to ``.1.22``) to its
    decoded value.
    """

    san: str
    issuer: str | None
    # A read-only view; left out of the hash because mapping proxies do not hash.
    extensions: Mapping[str, str] = attrs.field(converter=_frozen_mapping, hash=False)


def leaf_identity(leaf: x509.Certificate) -> FulcioIdentity:
    """Read the SAN, the OIDC issuer and the Fulcio extensions of a leaf.

    Raises:
        CertificateError: the SAN is missing, not exactly one value or of an
            unsupported type, or an extension value is malformed.
    """
    extensions = _extensions(leaf)
    values: dict[str, str] = {}
    for extension in extensions:
        known = _FULCIO_OIDS.get(extension.oid)  # a deeper arc such as .1.8.1 is not ours
        if known is None:
            continue
        dotted, is_der = known
        value = extension.value
        if not isinstance(value, x509.UnrecognizedExtension):
            continue
        values[dotted] = _der_utf8string(value.value) if is_der else _raw_utf8(value.value)
    issuer = values.get(_ISSUER_V2.dotted_string, values.get(_ISSUER_V1.dotted_string))
    return FulcioIdentity(san=_san(extensions), issuer=issuer, extensions=values)
