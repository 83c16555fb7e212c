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
tenth of a leaf check. A leaf's extensions are read from its DER with the
strict DER rules of ``_core.der`` (``read_leaf_extensions``): cryptography
would build an object for each of a Fulcio leaf's twenty-odd extensions, at
the cost of the rest of the leaf's checks together. CA certificates, checked
once per trust root, go through cryptography.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from sigstore_async._core import IdentityTable, by_identity
from sigstore_async._core.der import Reader, oid_content, span, tlv
from sigstore_async._core.keys import KIND_EC, KIND_ED25519, KIND_RSA, key_kind
from sigstore_async.errors import CertificateError

__all__ = [
    "FULCIO_EXTENSION_ARC",
    "FulcioIdentity",
    "PARSE_ERRORS",
    "LeafExtensions",
    "chain_signatures_valid",
    "chain_windows",
    "check_leaf",
    "check_validity",
    "is_self_signed",
    "leaf_identity",
    "load_certificate",
    "read_leaf_extensions",
    "validity_window",
    "verify_chain",
    "verify_chain_signatures",
    "windows_hold",
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

#: Each allowed signature algorithm: the kind of issuer key it needs (``keys.key_kind``)
#: and the arguments that follow signature and data in that key's ``verify``, made once.
_SIGNATURE_SPECS: dict[x509.ObjectIdentifier, tuple[int, tuple[object, ...]]] = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: (KIND_EC, (ec.ECDSA(hashes.SHA256()),)),
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: (KIND_EC, (ec.ECDSA(hashes.SHA384()),)),
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: (KIND_EC, (ec.ECDSA(hashes.SHA512()),)),
    SignatureAlgorithmOID.RSA_WITH_SHA256: (KIND_RSA, (padding.PKCS1v15(), hashes.SHA256())),
    SignatureAlgorithmOID.RSA_WITH_SHA384: (KIND_RSA, (padding.PKCS1v15(), hashes.SHA384())),
    SignatureAlgorithmOID.RSA_WITH_SHA512: (KIND_RSA, (padding.PKCS1v15(), hashes.SHA512())),
    SignatureAlgorithmOID.ED25519: (KIND_ED25519, ()),
}
assert set(_SIGNATURE_SPECS) == _ALLOWED_SIGNATURE_ALGORITHMS

#: What cryptography raises on a malformed or unsupported certificate, when it
#: is loaded or when a lazily parsed part of it is first touched. Not all are
#: ValueErrors: ``InvalidVersion`` (a version other than v1 to v3) is not.
PARSE_ERRORS = (
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
    except PARSE_ERRORS as e:
        raise CertificateError(f"malformed certificate: {e}") from e


def _extensions(cert: x509.Certificate) -> x509.Extensions:
    try:
        return cert.extensions
    except PARSE_ERRORS as e:
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
    except (InvalidSignature, *PARSE_ERRORS):
        return False
    return True


def _der_element(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The DER element at ``buf[pos:end]``: (tag, content start, stop).

    Raises:
        ValueError: truncated, or a length form DER does not allow (``DerError``).
    """
    start, stop = span(buf, pos, end, None)
    return buf[pos], start, stop


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


_ISSUER_VIEWS: IdentityTable = {}
_CA_PATHS: IdentityTable = {}


@functools.lru_cache(maxsize=64)
def _issuer_view(parent: x509.Certificate) -> tuple[object, bytes]:
    """A CA certificate's public key, parsed once, and its raw subject name."""
    subject = _tbs_fields(parent.public_bytes(serialization.Encoding.DER))[3]
    return parent.public_key(), subject


def _signed_by(child: x509.Certificate, child_der: bytes, parent: x509.Certificate) -> bool:
    """``verify_directly_issued_by`` over the child's own DER (see the module docstring)."""
    kind, algorithm = _SIGNATURE_SPECS[child.signature_algorithm_oid]
    tbs, inner_algorithm, issuer, _, outer_algorithm, signature_at = _tbs_fields(child_der)
    # RFC 5280 4.1.1.2: the signature field inside the TBSCertificate names the same algorithm.
    if inner_algorithm != outer_algorithm:
        return False
    tag, start, stop = _der_element(child_der, signature_at, len(child_der))
    if tag != 0x03 or stop != len(child_der) or start >= stop or child_der[start] != 0:
        return False  # a BIT STRING without unused bits
    signature = child_der[start + 1 : stop]
    key, subject = by_identity(_ISSUER_VIEWS, parent, _issuer_view)
    # Names as encoded; an issuer encoded differently from the CA's subject is
    # compared as RFC 5280 7.1 does, through cryptography.
    if issuer != subject and child.issuer != parent.subject:
        return False
    # The key's kind, not isinstance(): cryptography's key classes are ABCs.
    if key_kind(key) != kind:
        return False
    issuer_key: Any = key
    issuer_key.verify(signature, tbs, *algorithm)
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    """Whether ``cert`` names itself as issuer and its own key verifies its signature.

    Never raises: a certificate that cannot be checked is not self-signed.
    """
    try:
        if cert.issuer != cert.subject:
            return False
    except PARSE_ERRORS:
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
        except PARSE_ERRORS:
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
    problem = by_identity(_CA_PATHS, ca_chain, _ca_path_problem)
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


def validity_window(cert: x509.Certificate) -> tuple[datetime, datetime] | None:
    """``cert``'s validity (not before, not after; inclusive, RFC 5280 4.1.2.5), or
    None when it does not read. Never raises."""
    try:
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    except PARSE_ERRORS:
        return None


_CHAIN_WINDOWS: IdentityTable = {}


def _read_chain_windows(
    chain: Sequence[x509.Certificate],
) -> tuple[tuple[datetime, datetime] | None, ...]:
    return tuple(validity_window(cert) for cert in chain)


def chain_windows(
    chain: Sequence[x509.Certificate],
) -> tuple[tuple[datetime, datetime] | None, ...]:
    """``validity_window`` of each certificate of a trust root's CA chain, read once
    per chain object (a batch checks the same chain for every bundle)."""
    return by_identity(_CHAIN_WINDOWS, chain, _read_chain_windows)


def windows_hold(windows: Sequence[tuple[datetime, datetime] | None], when: datetime) -> bool:
    """``check_validity``'s rule over windows already read: whether every window
    holds ``when`` (inclusive at both ends); a window that did not read holds nothing."""
    return all(w is not None and w[0] <= when <= w[1] for w in windows)


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
        except PARSE_ERRORS as e:
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


# --- a leaf's extensions, read from its DER ------------------------------------
#
# A Fulcio leaf carries about twenty extensions; having cryptography build an
# object for each costs more than everything else this module does with the
# leaf. The leaf profile, the identity and the SCTs need six of them, read here
# with the strict DER reader from the certificate's own bytes.

_OID_KEY_USAGE = oid_content("2.5.29.15")
_OID_EXTENDED_KEY_USAGE = oid_content("2.5.29.37")
_OID_BASIC_CONSTRAINTS = oid_content("2.5.29.19")
_OID_SUBJECT_ALT_NAME = oid_content("2.5.29.17")
#: The embedded SCT list extension (RFC 6962 3.3), as OID content octets.
SCT_LIST_OID: bytes = oid_content("1.3.6.1.4.1.11129.2.4.2")
_OID_CODE_SIGNING = oid_content("1.3.6.1.5.5.7.3.3")
_OID_USERNAME_SAN = oid_content(FULCIO_EXTENSION_ARC + "7")
#: ``_HANDLED_CRITICAL`` as OID content octets.
_HANDLED_CRITICAL_DER = frozenset(oid_content(oid.dotted_string) for oid in _HANDLED_CRITICAL)
#: ``_FULCIO_OIDS`` by OID content octets.
_FULCIO_OIDS_DER: dict[bytes, tuple[str, bool]] = {
    oid_content(dotted): (dotted, is_der) for dotted, is_der in _FULCIO_OIDS.values()
}


def _leaf_reader(buf: bytes, pos: int = 0, end: int | None = None) -> Reader:
    """The strict DER reader (``_core.der``); every problem raises ``CertificateError``."""
    return Reader(buf, pos, end, CertificateError)


@attrs.frozen
class LeafExtensions:
    """The extensions of a certificate, as its DER encodes them.

    ``values`` maps each extension's OID (content octets) to whether it is
    critical and its ``extnValue`` octets. ``precertificate_tbs`` is the
    TBSCertificate without the embedded SCT list (RFC 6962 3.2), or None when
    the certificate has none.
    """

    values: Mapping[bytes, tuple[bool, bytes]]
    precertificate_tbs: bytes | None


def _malformed(message: str) -> CertificateError:
    return CertificateError(f"malformed certificate: {message}")


def read_leaf_extensions(der: bytes) -> LeafExtensions:
    """Read the extensions of the DER certificate ``der``.

    RFC 5280 4.2: an extension may appear once. The profile check, the
    identity and the SCT check take what this returns, so that a caller reads
    a leaf once.

    Raises:
        CertificateError: the DER is malformed, or an extension repeats.
    """
    end = len(der)
    start, stop = span(der, 0, end, 0x30, _malformed)
    if stop != end:
        raise CertificateError("malformed certificate: trailing data")
    tbs_start, tbs_stop = span(der, start, stop, 0x30, _malformed)
    pos = tbs_start
    if pos < tbs_stop and der[pos] == 0xA0:  # [0] EXPLICIT version
        pos = span(der, pos, tbs_stop, 0xA0, _malformed)[1]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    for tag in (0x02, 0x30, 0x30, 0x30, 0x30, 0x30):
        pos = span(der, pos, tbs_stop, tag, _malformed)[1]
    for optional in (0x81, 0x82):  # issuerUniqueID, subjectUniqueID
        if pos < tbs_stop and der[pos] == optional:
            pos = span(der, pos, tbs_stop, optional, _malformed)[1]
    values: dict[bytes, tuple[bool, bytes]] = {}
    if pos == tbs_stop:
        return LeafExtensions(values=values, precertificate_tbs=None)
    wrapper_at = pos
    list_at, wrapper_stop = span(der, pos, tbs_stop, 0xA3, _malformed)
    if wrapper_stop != tbs_stop:
        raise CertificateError("malformed certificate: data after the extensions")
    list_start, list_stop = span(der, list_at, wrapper_stop, 0x30, _malformed)
    if list_stop != wrapper_stop or list_start == list_stop:
        raise CertificateError("malformed certificate extensions")
    sct_span: tuple[int, int] | None = None
    pos = list_start
    while pos < list_stop:
        ext_start, ext_stop = span(der, pos, list_stop, 0x30, _malformed)
        oid_start, oid_stop = span(der, ext_start, ext_stop, 0x06, _malformed)
        oid = der[oid_start:oid_stop]
        critical = False
        at = oid_stop
        if at < ext_stop and der[at] == 0x01:
            flag_start, at = span(der, at, ext_stop, 0x01, _malformed)
            # DER (X.690 11.5): a DEFAULT FALSE is omitted, TRUE is 0xFF.
            if der[flag_start:at] != b"\xff":
                raise CertificateError("malformed critical flag in certificate extension")
            critical = True
        value_start, value_stop = span(der, at, ext_stop, 0x04, _malformed)
        if value_stop != ext_stop:
            raise CertificateError("malformed certificate extension")
        if oid in values:
            raise CertificateError(f"duplicate certificate extension {_dotted(oid)}")
        values[oid] = (critical, der[value_start:value_stop])
        if oid == SCT_LIST_OID:
            sct_span = (pos, ext_stop)
        pos = ext_stop
    precert = None
    if sct_span is not None:
        remaining = der[list_start : sct_span[0]] + der[sct_span[1] : list_stop]
        rebuilt = tlv(0xA3, tlv(0x30, remaining)) if remaining else b""
        precert = tlv(0x30, der[tbs_start:wrapper_at] + rebuilt)
    return LeafExtensions(values=values, precertificate_tbs=precert)


def _der(cert: x509.Certificate) -> bytes:
    try:
        return cert.public_bytes(serialization.Encoding.DER)
    except PARSE_ERRORS as e:  # pragma: no cover - a loaded certificate re-encodes
        raise CertificateError(f"malformed certificate: {e}") from e


def _bit_string(content: bytes) -> bytes:
    """The bits of a DER BIT STRING's content, with unused trailing bits cleared."""
    if not content or content[0] > 7 or (len(content) == 1 and content[0]):
        raise CertificateError("malformed BIT STRING")
    return content[1:]


def _check_profile(values: Mapping[bytes, tuple[bool, bytes]]) -> None:
    for oid, (critical, _) in values.items():
        if critical and oid not in _HANDLED_CRITICAL_DER:
            raise CertificateError(f"leaf has an unhandled critical extension {_dotted(oid)}")
    # client spec: the leaf MUST have digitalSignature key usage (bit 0).
    ku = values.get(_OID_KEY_USAGE)
    bits = _bit_string(_leaf_reader(ku[1]).content(0x03)) if ku is not None else b""
    if not bits or not bits[0] & 0x80:
        raise CertificateError("leaf key usage lacks digitalSignature")
    # client spec: the leaf MUST have the codeSigning extended key usage.
    eku = values.get(_OID_EXTENDED_KEY_USAGE)
    purposes = []
    if eku is not None:
        outer = _leaf_reader(eku[1])
        reader = outer.enter(0x30)
        outer.finish()
        while not reader.done():
            purposes.append(reader.content(0x06))
    if _OID_CODE_SIGNING not in purposes:
        raise CertificateError("leaf extended key usage lacks codeSigning")
    bc = values.get(_OID_BASIC_CONSTRAINTS)
    if bc is not None:
        outer = _leaf_reader(bc[1])
        reader = outer.enter(0x30)
        outer.finish()
        if reader.peek() == 0x01:  # cA, DEFAULT FALSE: present means TRUE in DER
            if reader.content(0x01) != b"\xff":
                raise CertificateError("malformed basicConstraints")
            raise CertificateError("leaf certificate is a CA")


def _dotted(oid: bytes) -> str:
    """The dotted form of OBJECT IDENTIFIER content octets (for messages)."""
    arcs: list[int] = []
    value = 0
    for byte in oid:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return oid.hex()
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def check_leaf(leaf: x509.Certificate, *, extensions: LeafExtensions | None = None) -> None:
    """Check the Fulcio leaf profile: a code-signing certificate that is not a CA.

    ``extensions``, ``read_leaf_extensions`` of the leaf's DER, saves reading them again.

    Raises:
        CertificateError: keyUsage is missing or lacks digitalSignature,
            extendedKeyUsage is missing or lacks codeSigning, the
            certificate is a CA, or it has a critical extension this client
            does not process (RFC 5280 4.2).
    """
    _check_profile((extensions or read_leaf_extensions(_der(leaf))).values)


def _der_utf8string(data: bytes) -> str:
    """Decode exactly one DER UTF8String (tag 0x0C, definite minimal length)."""
    start, stop = span(data, 0, len(data), 0x0C, _malformed)
    if stop != len(data):
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


def _ascii(data: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as e:
        raise CertificateError(f"non-ASCII IA5String in subjectAltName: {e}") from e


#: GeneralName choices by their (context-specific) tag, for messages (RFC 5280 4.2.1.6).
_SAN_KINDS = {
    0xA0: "otherName",
    0x81: "rfc822Name",
    0x82: "dNSName",
    0xA3: "x400Address",
    0xA4: "directoryName",
    0xA5: "ediPartyName",
    0x86: "uniformResourceIdentifier",
    0x87: "iPAddress",
    0x88: "registeredID",
}


def _san(values: Mapping[bytes, tuple[bool, bytes]]) -> str:
    san = values.get(_OID_SUBJECT_ALT_NAME)
    if san is None:
        raise CertificateError("leaf has no subjectAltName")
    outer = _leaf_reader(san[1])
    reader = outer.enter(0x30)
    outer.finish()
    names: list[tuple[int, int, int]] = []
    while not reader.done():
        header, start, stop = reader.next()
        names.append((reader.buf[header], start, stop))
    # Fulcio issues exactly one SAN: the identity of the token it was given.
    if len(names) != 1:
        raise CertificateError(f"leaf has {len(names)} subjectAltName values, expected 1")
    tag, start, stop = names[0]
    buf = reader.buf
    if tag in (0x81, 0x86):  # rfc822Name, uniformResourceIdentifier: IA5String
        return _ascii(buf[start:stop])
    if tag == 0xA0:  # otherName: type-id, [0] EXPLICIT value
        other = _leaf_reader(buf, start, stop)
        type_id = other.content(0x06)
        value = other.content(0xA0)
        other.finish()
        if type_id == _OID_USERNAME_SAN:
            return _der_utf8string(value)
    raise CertificateError(f"unsupported subjectAltName type {_SAN_KINDS.get(tag, hex(tag))}")


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


def leaf_identity(
    leaf: x509.Certificate, *, extensions: LeafExtensions | None = None
) -> FulcioIdentity:
    """Read the SAN, the OIDC issuer and the Fulcio extensions of a leaf.

    ``extensions``, ``read_leaf_extensions`` of the leaf's DER, saves reading them again.

    Raises:
        CertificateError: the SAN is missing, not exactly one value or of an
            unsupported type, or an extension value is malformed.
    """
    by_oid = (extensions or read_leaf_extensions(_der(leaf))).values
    values: dict[str, str] = {}
    for oid, (_, value) in by_oid.items():
        known = _FULCIO_OIDS_DER.get(oid)  # a deeper arc such as .1.8.1 is not ours
        if known is not None:
            dotted, is_der = known
            values[dotted] = _der_utf8string(value) if is_der else _raw_utf8(value)
    issuer = values.get(_ISSUER_V2.dotted_string, values.get(_ISSUER_V1.dotted_string))
    return FulcioIdentity(san=_san(by_oid), issuer=issuer, extensions=values)
