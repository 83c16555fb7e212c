"""Fulcio certificate handling: chains, validity, the leaf profile and identity.

Generated PKIs (cryptography) exercise each rule and rejection; the real
leaves of the sigstore-conformance vectors check that we read what Fulcio
issues; byte flips of a real leaf check that nothing but ``CertificateError``
ever escapes.
"""

from __future__ import annotations

import base64
import contextlib
import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from sigstore_async._core import _MAX_BY_IDENTITY, by_identity
from sigstore_async._core import x509 as cx509
from sigstore_async._core.der import tlv
from sigstore_async.errors import CertificateError

T0 = datetime(2025, 6, 1, tzinfo=UTC)
FULCIO = "1.3.6.1.4.1.57264.1."
DEFAULT_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
SignHash = hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512


# --- a small certificate factory -------------------------------------------


@functools.cache
def _key(name: str) -> SigningKey:
    """Deterministic-per-run keys by role, generated once (RSA is slow)."""
    if name.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    curve = ec.SECP384R1() if name.startswith("p384") else ec.SECP256R1()
    return ec.generate_private_key(curve)


def _name(cn: str) -> x509.Name:
    # Fulcio leaves have an empty subject; "" builds one.
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


def der_utf8(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    n = len(raw)
    if n < 0x80:
        return b"\x0c" + bytes([n]) + raw
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x0c" + bytes([0x80 | len(size)]) + size + raw


_KU_FLAGS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def key_usage(*flags: str) -> x509.KeyUsage:
    kwargs: dict[str, Any] = {f: f in flags for f in _KU_FLAGS}
    return x509.KeyUsage(**kwargs, encipher_only=False, decipher_only=False)


def make_cert(
    subject: str,
    key: SigningKey,
    *,
    issuer: str | None = None,
    signer: SigningKey | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    not_before: datetime = T0 - timedelta(days=365),
    not_after: datetime = T0 + timedelta(days=365),
    hash_algorithm: SignHash | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer or subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    signing_key = signer or key
    if hash_algorithm is None:
        hash_algorithm = (
            hashes.SHA384()
            if isinstance(signing_key, ec.EllipticCurvePrivateKey)
            and isinstance(signing_key.curve, ec.SECP384R1)
            else hashes.SHA256()
        )
    return builder.sign(signing_key, hash_algorithm)


def ca_extensions(
    *, path_length: int | None = None, ku: x509.KeyUsage | None = None
) -> list[tuple[x509.ExtensionType, bool]]:
    return [
        (x509.BasicConstraints(ca=True, path_length=path_length), True),
        (ku or key_usage("key_cert_sign", "crl_sign"), True),
    ]


def leaf_extensions(
    *,
    san: x509.GeneralName | None = None,
    ku: x509.KeyUsage | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CODE_SIGNING,),
    basic: x509.BasicConstraints | None = None,
    fulcio: dict[str, bytes] | None = None,
) -> list[tuple[x509.ExtensionType, bool]]:
    out: list[tuple[x509.ExtensionType, bool]] = [(ku or key_usage("digital_signature"), True)]
    if eku is not None:
        out.append((x509.ExtendedKeyUsage(list(eku)), False))
    if basic is not None:
        out.append((basic, True))
    out.append(
        (
            x509.SubjectAlternativeName(
                [san or x509.UniformResourceIdentifier("https://example.com/wf@refs/heads/main")]
            ),
            True,
        )
    )
    if fulcio is None:
        fulcio = {
            FULCIO + "1": b"https://issuer.example",
            FULCIO + "8": der_utf8("https://issuer.example"),
        }
    for dotted, value in fulcio.items():
        out.append((x509.UnrecognizedExtension(x509.ObjectIdentifier(dotted), value), False))
    return out


@attrs.frozen
class Pki:
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate

    @property
    def chain(self) -> list[x509.Certificate]:
        return [self.intermediate, self.root]


def make_leaf(
    *,
    signer: SigningKey | None = None,
    issuer: str = "intermediate",
    not_before: datetime = T0 - timedelta(minutes=5),
    not_after: datetime = T0 + timedelta(minutes=5),
    hash_algorithm: SignHash | None = None,
    **extensions: Any,
) -> x509.Certificate:
    return make_cert(
        "",
        _key("p256-leaf"),
        issuer=issuer,
        signer=signer or _key("p384-intermediate"),
        extensions=leaf_extensions(**extensions),
        not_before=not_before,
        not_after=not_after,
        hash_algorithm=hash_algorithm,
    )


@pytest.fixture(scope="module")
def pki() -> Pki:
    root = make_cert("root", _key("p384-root"), extensions=ca_extensions(path_length=1))
    intermediate = make_cert(
        "intermediate",
        _key("p384-intermediate"),
        issuer="root",
        signer=_key("p384-root"),
        extensions=ca_extensions(path_length=0),
    )
    return Pki(root=root, intermediate=intermediate, leaf=make_leaf())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# --- load_certificate --------------------------------------------------------


def test_load_certificate_round_trips(pki: Pki) -> None:
    assert cx509.load_certificate(der(pki.leaf)) == pki.leaf


@pytest.mark.parametrize("data", [b"", b"\x30", b"\x30\x00", b"not a certificate", b"\x00" * 64])
def test_load_certificate_rejects_malformed_der(data: bytes) -> None:
    with pytest.raises(CertificateError):
        cx509.load_certificate(data)


def test_load_certificate_rejects_truncated(pki: Pki) -> None:
    with pytest.raises(CertificateError):
        cx509.load_certificate(der(pki.leaf)[:-1])


# --- verify_chain ------------------------------------------------------------


def test_verify_chain_accepts_a_good_chain(pki: Pki) -> None:
    cx509.verify_chain(pki.leaf, pki.chain, at=[T0])
    assert cx509.chain_signatures_valid(der(pki.leaf), [der(c) for c in pki.chain])


def test_verify_chain_memoises_the_ca_part(pki: Pki) -> None:
    cx509.verify_chain(pki.leaf, pki.chain, at=[T0])
    hits = cx509._ca_path_problem.cache_info().hits
    cx509.verify_chain(pki.leaf, pki.chain, at=[T0])
    assert cx509._ca_path_problem.cache_info().hits == hits + 1


def test_verify_chain_accepts_rsa_pkcs1v15_signatures() -> None:
    root = make_cert("rsa root", _key("rsa-root"), extensions=ca_extensions())
    leaf = make_leaf(signer=_key("rsa-root"), issuer="rsa root")
    assert leaf.signature_hash_algorithm is not None
    cx509.verify_chain(leaf, [root], at=[T0])


def test_verify_chain_accepts_p256_sha256_root() -> None:
    root = make_cert("p256 root", _key("p256-root"), extensions=ca_extensions())
    leaf = make_leaf(signer=_key("p256-root"), issuer="p256 root")
    cx509.verify_chain(leaf, [root], at=[T0])


def test_verify_chain_rejects_unlisted_signature_algorithms() -> None:
    # cryptography no longer signs with SHA-1; ECDSA with SHA-224 is as far off
    # the allow-list (ECDSA and RSA PKCS#1 v1.5 with SHA-2 256/384/512, Ed25519).
    root = make_cert("p256 root", _key("p256-root"), extensions=ca_extensions())
    leaf = make_leaf(signer=_key("p256-root"), issuer="p256 root", hash_algorithm=hashes.SHA224())
    with pytest.raises(CertificateError, match="not signed by chain"):
        cx509.verify_chain(leaf, [root], at=[T0])


def _variant_chain(**overrides: Any) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """A root/intermediate/leaf chain with one part replaced."""
    root_ext = overrides.get("root_ext", ca_extensions(path_length=1))
    inter_ext = overrides.get("inter_ext", ca_extensions(path_length=0))
    root = make_cert("root", _key("p384-root"), extensions=root_ext)
    intermediate = make_cert(
        "intermediate",
        _key("p384-intermediate"),
        issuer="root",
        signer=overrides.get("inter_signer", _key("p384-root")),
        extensions=inter_ext,
    )
    leaf = make_leaf(
        signer=overrides.get("leaf_signer"), issuer=overrides.get("leaf_issuer", "intermediate")
    )
    return leaf, [intermediate, root]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"leaf_signer": _key("p384-other")}, "leaf certificate is not signed"),
        ({"leaf_issuer": "someone else"}, "leaf certificate is not signed"),
        ({"inter_signer": _key("p384-other")}, r"chain\[0\] is not signed by chain\[1\]"),
        (
            {"inter_ext": [(x509.BasicConstraints(ca=False, path_length=None), True)]},
            "basicConstraints",
        ),
        ({"inter_ext": [(key_usage("key_cert_sign"), True)]}, "basicConstraints"),
        ({"inter_ext": ca_extensions(ku=key_usage("crl_sign"))}, "keyCertSign"),
        ({"root_ext": ca_extensions(ku=key_usage("digital_signature"))}, "keyCertSign"),
        ({"root_ext": ca_extensions(path_length=0)}, "pathLenConstraint"),
    ],
    ids=[
        "leaf-wrong-key",
        "leaf-wrong-issuer-name",
        "intermediate-wrong-key",
        "intermediate-not-ca",
        "intermediate-no-basic-constraints",
        "intermediate-no-keycertsign",
        "root-no-keycertsign",
        "root-pathlen-0",
    ],
)
def test_verify_chain_rejections(overrides: dict[str, Any], message: str) -> None:
    leaf, chain = _variant_chain(**overrides)
    with pytest.raises(CertificateError, match=message):
        cx509.verify_chain(leaf, chain, at=[T0])
    assert not cx509.chain_signatures_valid(der(leaf), [der(c) for c in chain])


def test_path_length_counts_intermediates() -> None:
    root = make_cert("root", _key("p384-root"), extensions=ca_extensions(path_length=None))
    upper = make_cert(
        "upper",
        _key("p256-upper"),
        issuer="root",
        signer=_key("p384-root"),
        extensions=ca_extensions(path_length=0),
    )
    lower = make_cert(
        "intermediate",
        _key("p384-intermediate"),
        issuer="upper",
        signer=_key("p256-upper"),
        extensions=ca_extensions(path_length=0),
    )
    leaf = make_leaf()
    # upper has pathLen 0 but one intermediate (lower) below it.
    with pytest.raises(CertificateError, match="pathLenConstraint"):
        cx509.verify_chain(leaf, [lower, upper, root], at=[T0])
    upper_ok = make_cert(
        "upper",
        _key("p256-upper"),
        issuer="root",
        signer=_key("p384-root"),
        extensions=ca_extensions(path_length=1),
    )
    cx509.verify_chain(leaf, [lower, upper_ok, root], at=[T0])


def test_verify_chain_needs_a_self_signed_root(pki: Pki) -> None:
    with pytest.raises(CertificateError, match="self-signed root"):
        cx509.verify_chain(pki.leaf, [pki.intermediate], at=[T0])


def test_verify_chain_rejects_a_misordered_chain(pki: Pki) -> None:
    with pytest.raises(CertificateError):
        cx509.verify_chain(pki.leaf, [pki.root, pki.intermediate], at=[T0])


def test_verify_chain_rejects_an_empty_chain(pki: Pki) -> None:
    with pytest.raises(CertificateError, match="empty"):
        cx509.verify_chain(pki.leaf, [], at=[T0])


@pytest.mark.parametrize(
    ("times", "ok"),
    [
        ([T0], True),
        ([T0 - timedelta(minutes=5)], True),  # not_before, inclusive
        ([T0 + timedelta(minutes=5)], True),  # not_after, inclusive
        ([T0 - timedelta(minutes=5), T0 + timedelta(minutes=5)], True),
        ([T0 - timedelta(minutes=5, seconds=1)], False),
        ([T0 + timedelta(minutes=5, seconds=1)], False),
        ([T0, T0 + timedelta(hours=1)], False),  # every time must be inside
    ],
)
def test_verify_chain_validity_times(pki: Pki, times: list[datetime], ok: bool) -> None:
    if ok:
        cx509.verify_chain(pki.leaf, pki.chain, at=times)
    else:
        with pytest.raises(CertificateError, match="valid"):
            cx509.verify_chain(pki.leaf, pki.chain, at=times)


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(0),
        -timedelta(minutes=5),  # not_before, inclusive
        timedelta(minutes=5),  # not_after, inclusive
        -timedelta(minutes=5, seconds=1),
        timedelta(minutes=5, seconds=1),
        timedelta(days=400),
    ],
)
def test_validity_windows_follow_check_validity(pki: Pki, offset: timedelta) -> None:
    # The verifier reads each certificate's window once (validity_window, chain_windows)
    # and checks times against the windows (windows_hold): the same rule as check_validity.
    certs = [pki.leaf, *pki.chain]
    for cert in certs:
        assert cx509.validity_window(cert) == (cert.not_valid_before_utc, cert.not_valid_after_utc)
    when = T0 + offset
    try:
        cx509.check_validity(certs, at=[when])
        expected = True
    except CertificateError:
        expected = False
    windows = (cx509.validity_window(pki.leaf), *cx509.chain_windows(tuple(pki.chain)))
    assert cx509.windows_hold(windows, when) is expected
    # A window that did not read holds nothing.
    assert not cx509.windows_hold((*windows, None), when)


def test_verify_chain_checks_ca_validity() -> None:
    root = make_cert("root", _key("p384-root"), extensions=ca_extensions(path_length=1))
    intermediate = make_cert(
        "intermediate",
        _key("p384-intermediate"),
        issuer="root",
        signer=_key("p384-root"),
        extensions=ca_extensions(),
        not_after=T0 - timedelta(seconds=1),
    )
    leaf = make_leaf()
    with pytest.raises(CertificateError, match="certificate 1 has expired"):
        cx509.verify_chain(leaf, [intermediate, root], at=[T0])
    cx509.verify_chain_signatures(leaf, [intermediate, root])  # time-independent part is fine


def test_verify_chain_misuse(pki: Pki) -> None:
    with pytest.raises(ValueError, match="at least one"):
        cx509.verify_chain(pki.leaf, pki.chain, at=[])
    with pytest.raises(ValueError, match="timezone-aware"):
        cx509.verify_chain(pki.leaf, pki.chain, at=[datetime(2025, 6, 1)])


def test_chain_signatures_valid_never_raises(pki: Pki) -> None:
    assert not cx509.chain_signatures_valid(b"junk", [der(pki.intermediate), der(pki.root)])
    assert not cx509.chain_signatures_valid(der(pki.leaf), [b"junk"])
    assert not cx509.chain_signatures_valid(der(pki.leaf), [])


# --- check_leaf --------------------------------------------------------------


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ({"ku": key_usage("key_encipherment")}, "digitalSignature"),
        ({"eku": None}, "codeSigning"),
        ({"eku": [ExtendedKeyUsageOID.CLIENT_AUTH]}, "codeSigning"),
        ({"basic": x509.BasicConstraints(ca=True, path_length=None)}, "is a CA"),
    ],
    ids=["no-digital-signature", "no-eku", "eku-without-code-signing", "is-ca"],
)
def test_check_leaf_rejections(extensions: dict[str, Any], message: str) -> None:
    with pytest.raises(CertificateError, match=message):
        cx509.check_leaf(make_leaf(**extensions))


def test_check_leaf_requires_key_usage(pki: Pki) -> None:
    leaf = make_cert(
        "",
        _key("p256-leaf"),
        issuer="intermediate",
        signer=_key("p384-intermediate"),
        extensions=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)],
    )
    with pytest.raises(CertificateError, match="digitalSignature"):
        cx509.check_leaf(leaf)


def test_check_leaf_accepts(pki: Pki) -> None:
    cx509.check_leaf(pki.leaf)
    cx509.check_leaf(make_leaf(basic=x509.BasicConstraints(ca=False, path_length=None)))
    cx509.check_leaf(
        make_leaf(eku=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.CODE_SIGNING])
    )


# --- is_self_signed ----------------------------------------------------------


def test_is_self_signed(pki: Pki) -> None:
    assert cx509.is_self_signed(pki.root)
    assert not cx509.is_self_signed(pki.intermediate)
    assert not cx509.is_self_signed(pki.leaf)
    # Self-issued (same names) but signed by another key.
    impostor = make_cert("root", _key("p384-root"), signer=_key("p384-other"))
    assert not cx509.is_self_signed(impostor)


# --- leaf_identity -----------------------------------------------------------


@pytest.mark.parametrize(
    ("san", "expected"),
    [
        (x509.RFC822Name("alice@example.com"), "alice@example.com"),
        (x509.UniformResourceIdentifier("https://ci.example/wf"), "https://ci.example/wf"),
        (
            x509.OtherName(x509.ObjectIdentifier(FULCIO + "7"), der_utf8("alice!example.com")),
            "alice!example.com",
        ),
    ],
    ids=["email", "uri", "username-othername"],
)
def test_leaf_identity_san(san: x509.GeneralName, expected: str) -> None:
    assert cx509.leaf_identity(make_leaf(san=san)).san == expected


@pytest.mark.parametrize(
    "san",
    [
        x509.DNSName("example.com"),
        x509.OtherName(x509.ObjectIdentifier("1.2.3.4"), der_utf8("x")),
        x509.OtherName(x509.ObjectIdentifier(FULCIO + "7"), b"\x13\x01x"),  # not UTF8String
    ],
    ids=["dns", "other-othername", "username-not-utf8string"],
)
def test_leaf_identity_rejects_unsupported_san(san: x509.GeneralName) -> None:
    with pytest.raises(CertificateError):
        cx509.leaf_identity(make_leaf(san=san))


def test_leaf_identity_needs_exactly_one_san() -> None:
    two = make_cert(
        "",
        _key("p256-leaf"),
        extensions=[
            (
                x509.SubjectAlternativeName(
                    [x509.RFC822Name("a@example.com"), x509.RFC822Name("b@example.com")]
                ),
                True,
            )
        ],
    )
    with pytest.raises(CertificateError, match="2 subjectAltName"):
        cx509.leaf_identity(two)
    none = make_cert("", _key("p256-leaf"))
    with pytest.raises(CertificateError, match="no subjectAltName"):
        cx509.leaf_identity(none)


@pytest.mark.parametrize(
    ("fulcio", "issuer"),
    [
        ({FULCIO + "1": b"https://v1", FULCIO + "8": der_utf8("https://v2")}, "https://v2"),
        ({FULCIO + "1": b"https://v1"}, "https://v1"),
        ({FULCIO + "8": der_utf8("https://v2")}, "https://v2"),
        ({}, None),
    ],
)
def test_leaf_identity_issuer(fulcio: dict[str, bytes], issuer: str | None) -> None:
    assert cx509.leaf_identity(make_leaf(fulcio=fulcio)).issuer == issuer


def test_leaf_identity_extensions() -> None:
    long_value = "x" * 300  # two-byte long-form DER length
    medium_value = "y" * 200  # one-byte long-form DER length
    fulcio = {
        FULCIO + "2": b"push",
        FULCIO + "6": b"refs/heads/main",
        FULCIO + "8": der_utf8("https://issuer"),
        FULCIO + "9": der_utf8(long_value),
        FULCIO + "12": der_utf8(medium_value),
        FULCIO + "22": der_utf8("public"),
        FULCIO + "23": b"not ours",  # past .22: ignored
        FULCIO + "8.1": b"deeper arc: ignored",
        "1.2.3.4": b"unrelated",
    }
    identity = cx509.leaf_identity(make_leaf(fulcio=fulcio))
    assert dict(identity.extensions) == {
        FULCIO + "2": "push",
        FULCIO + "6": "refs/heads/main",
        FULCIO + "8": "https://issuer",
        FULCIO + "9": long_value,
        FULCIO + "12": medium_value,
        FULCIO + "22": "public",
    }
    with pytest.raises(TypeError):
        identity.extensions[FULCIO + "2"] = "changed"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        identity.san = "changed"  # type: ignore[misc]
    assert hash(identity) == hash(cx509.leaf_identity(make_leaf(fulcio=fulcio)))


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"\x0c",
        b"\x13\x03abc",  # PrintableString, not UTF8String
        b"\x0c\x04abc",  # length past the end
        b"\x0c\x02abc",  # trailing byte
        b"\x0c\x80abc\x00\x00",  # indefinite length
        b"\x0c\x81\x03abc",  # long form for a short length
        b"\x0c\x82\x00\x81" + b"a" * 0x81,  # leading zero in the long form
        b"\x0c\x85\x00\x00\x00\x00\x03abc",  # absurd length of length
        b"\x0c\x82\x01",  # truncated long form
        b"\x0c\x02\xc3\x28",  # invalid UTF-8
    ],
)
def test_leaf_identity_rejects_malformed_der_extension(value: bytes) -> None:
    with pytest.raises(CertificateError):
        cx509.leaf_identity(make_leaf(fulcio={FULCIO + "9": value}))


def test_leaf_identity_rejects_invalid_utf8_in_raw_extension() -> None:
    with pytest.raises(CertificateError, match="UTF-8"):
        cx509.leaf_identity(make_leaf(fulcio={FULCIO + "1": b"\xff\xfe"}))


# --- the conformance vectors -------------------------------------------------


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _leaf_der(bundle: dict[str, Any]) -> bytes | None:
    material = bundle["verificationMaterial"]
    if "certificate" in material:
        return _b64(material["certificate"]["rawBytes"])
    certificates = material.get("x509CertificateChain", {}).get("certificates", [])
    return _b64(certificates[0]["rawBytes"]) if certificates else None


def _ca_chains(trusted_root: dict[str, Any]) -> list[list[x509.Certificate]]:
    return [
        [cx509.load_certificate(_b64(c["rawBytes"])) for c in ca["certChain"]["certificates"]]
        for ca in trusted_root["certificateAuthorities"]
    ]


HAPPY_LEAVES = [
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-intoto-in-dsse-v3",
    "bundle-with-sct-with-extensions",
    "rekor2-happy-path",
    "rekor2-dsse-happy-path",
    "intoto-with-custom-trust-root",
]


@pytest.mark.vectors
@pytest.mark.parametrize("case", HAPPY_LEAVES)
def test_vector_leaves(conformance: Any, case: str) -> None:
    bundle = conformance.bundle(case)
    leaf_der = _leaf_der(bundle)
    assert leaf_der is not None
    leaf = cx509.load_certificate(leaf_der)
    cx509.check_leaf(leaf)
    assert not cx509.is_self_signed(leaf)
    identity = cx509.leaf_identity(leaf)
    assert identity.san == DEFAULT_IDENTITY
    assert identity.issuer == DEFAULT_ISSUER
    assert identity.extensions[FULCIO + "1"] == DEFAULT_ISSUER
    at = [leaf.not_valid_before_utc + timedelta(seconds=1)]
    accepted = 0
    for chain in _ca_chains(conformance.trusted_root(case)):
        try:
            cx509.verify_chain(leaf, chain, at=at)
            accepted += 1
        except CertificateError:
            pass
    assert accepted == 1


@pytest.mark.vectors
def test_vector_fulcio_v2_extensions(conformance: Any) -> None:
    leaf = cx509.load_certificate(_leaf_der(conformance.bundle("happy-path-v0.3")) or b"")
    extensions = cx509.leaf_identity(leaf).extensions
    assert extensions[FULCIO + "8"] == DEFAULT_ISSUER  # DER UTF8String
    assert extensions[FULCIO + "9"] == DEFAULT_IDENTITY  # long-form length (> 127 bytes)
    assert extensions[FULCIO + "11"] == "github-hosted"
    assert extensions[FULCIO + "20"] == extensions[FULCIO + "2"]  # trigger, v2 and v1


@pytest.mark.vectors
def test_vector_leaf_is_not_valid_outside_its_window(conformance: Any) -> None:
    case = "happy-path-v0.3"
    leaf = cx509.load_certificate(_leaf_der(conformance.bundle(case)) or b"")
    for chain in _ca_chains(conformance.trusted_root(case)):
        if cx509.chain_signatures_valid(
            leaf.public_bytes(serialization.Encoding.DER),
            [c.public_bytes(serialization.Encoding.DER) for c in chain],
        ):
            with pytest.raises(CertificateError, match="expired"):
                cx509.verify_chain(
                    leaf, chain, at=[leaf.not_valid_after_utc + timedelta(seconds=1)]
                )
            return
    pytest.fail("no CA of the production trust root issued the happy-path leaf")


@pytest.mark.vectors
def test_vector_bundle_with_root_cert(conformance: Any) -> None:
    bundle = conformance.bundle("bundle-with-root-cert_fail")
    certificates = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]
    loaded = [cx509.load_certificate(_b64(c["rawBytes"])) for c in certificates]
    assert [cx509.is_self_signed(c) for c in loaded] == [False, True, False]


@pytest.mark.vectors
def test_vector_wrong_instance_does_not_chain(conformance: Any) -> None:
    case = "bundle-from-wrong-instance_fail"
    leaf = cx509.load_certificate(_leaf_der(conformance.bundle(case)) or b"")
    for chain in _ca_chains(conformance.trusted_root(case)):
        with pytest.raises(CertificateError):
            cx509.verify_chain(leaf, chain, at=[leaf.not_valid_before_utc])


# --- the DER extension reader -------------------------------------------------


def _cryptography_view(cert: x509.Certificate) -> dict[str, tuple[bool, bytes]]:
    """Each extension as cryptography reads it: dotted OID -> (critical, extnValue)."""
    out = {}
    for ext in cert.extensions:
        value = ext.value
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else value.public_bytes()
        out[ext.oid.dotted_string] = (ext.critical, raw)
    return out


def _our_view(cert: x509.Certificate) -> dict[str, tuple[bool, bytes]]:
    read = cx509.read_leaf_extensions(der(cert))
    return {cx509._dotted(oid): value for oid, value in read.values.items()}


@pytest.mark.vectors
@pytest.mark.parametrize("case", HAPPY_LEAVES)
def test_der_reader_agrees_with_cryptography_on_vector_leaves(conformance: Any, case: str) -> None:
    leaf = cx509.load_certificate(_leaf_der(conformance.bundle(case)) or b"")
    assert _our_view(leaf) == _cryptography_view(leaf)
    # RFC 6962 3.2: the precertificate is the TBS without the SCT list.
    assert cx509.read_leaf_extensions(der(leaf)).precertificate_tbs == (
        leaf.tbs_precertificate_bytes
    )


def test_der_reader_agrees_with_cryptography_on_generated_leaves(pki: Pki) -> None:
    for leaf in (
        pki.leaf,
        make_leaf(san=x509.UniformResourceIdentifier("https://ci.example/wf")),
        make_leaf(fulcio={FULCIO + "9": der_utf8("x" * 300)}),
        make_cert("", _key("p256-leaf")),  # no extensions at all
    ):
        assert _our_view(leaf) == _cryptography_view(leaf)
        assert cx509.read_leaf_extensions(der(leaf)).precertificate_tbs is None


def test_der_reader_rejects_duplicates_and_non_der_flags(pki: Pki) -> None:
    original = der(pki.leaf)
    ku = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    ku_der = ku.public_bytes()
    # The DER of the keyUsage extension, critical: OID 2.5.29.15, TRUE, OCTET STRING.
    element = bytes.fromhex("0603551d0f0101ff04") + bytes((len(ku_der),)) + ku_der
    element = bytes((0x30, len(element))) + element
    assert element in original
    # A second copy of the extension: RFC 5280 4.2 allows one.
    twice = _with_extension_bytes(original, element, element + element)
    with pytest.raises(CertificateError, match="duplicate"):
        cx509.read_leaf_extensions(twice)
    # An explicit FALSE is not DER (X.690 11.5): the default is omitted.
    explicit_false = element.replace(b"\x01\x01\xff", b"\x01\x01\x00")
    with pytest.raises(CertificateError, match="critical flag"):
        cx509.read_leaf_extensions(_with_extension_bytes(original, element, explicit_false))


@given(st.binary(max_size=64))
def test_der_reader_raises_only_certificate_error(data: bytes) -> None:
    for candidate in (data, b"\x30" + bytes((len(data),)) + data if len(data) < 128 else data):
        with contextlib.suppress(CertificateError):
            cx509.read_leaf_extensions(candidate)


def test_der_reader_on_an_empty_tbs() -> None:
    # An outer SEQUENCE holding an empty TBSCertificate that ends the input:
    # reading past it once raised IndexError.
    with pytest.raises(CertificateError):
        cx509.read_leaf_extensions(bytes.fromhex("30023000"))


@pytest.mark.vectors
def test_der_reader_on_every_mutation_of_a_vector_leaf(conformance: Any) -> None:
    original = _leaf_der(conformance.bundle("happy-path-v0.3"))
    assert original is not None
    for i in range(len(original)):
        for flip in (0x01, 0x80, 0xFF):
            mutated = bytearray(original)
            mutated[i] ^= flip
            with contextlib.suppress(CertificateError):
                cx509.read_leaf_extensions(bytes(mutated))
        with contextlib.suppress(CertificateError):
            cx509.read_leaf_extensions(original[:i])  # every truncation


def _with_extension_bytes(cert_der: bytes, old: bytes, new: bytes) -> bytes:
    """``cert_der`` with one extension's encoding replaced, every enclosing length fixed."""
    tbs_fields = cx509._tbs_fields(cert_der)
    tbs = tbs_fields[0]
    # The extensions: [3] { SEQUENCE { ... } } at the end of the TBS content.
    wrapper_at = tbs.rindex(b"\xa3")
    while True:  # the [3] whose content runs to the end of the TBS
        try:
            reader = cx509._leaf_reader(tbs, wrapper_at, len(tbs))
            _, start, stop = reader.next(0xA3)
            if stop == len(tbs):
                break
        except CertificateError:
            pass
        wrapper_at = tbs.rindex(b"\xa3", 0, wrapper_at)
    seq = cx509._leaf_reader(tbs, start, len(tbs))
    _, seq_start, seq_stop = seq.next(0x30)
    content = tbs[seq_start:seq_stop].replace(old, new, 1)
    _, tbs_content_start, _ = cx509._leaf_reader(tbs).next(0x30)
    new_tbs = tlv(0x30, tbs[tbs_content_start:wrapper_at] + tlv(0xA3, tlv(0x30, content)))
    # The outer signature algorithm and signature, unchanged (the signature no longer verifies).
    return tlv(0x30, new_tbs + tbs_fields[4] + cert_der[tbs_fields[5] :])


# --- mutations of a real leaf ------------------------------------------------


def _outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except CertificateError:
        return "rejected"
    return "accepted"


@pytest.mark.vectors
def test_mutated_vector_leaf_only_raises_certificate_error(conformance: Any) -> None:
    case = "happy-path-v0.3"
    original = _leaf_der(conformance.bundle(case))
    assert original is not None
    chain = next(
        chain
        for chain in _ca_chains(conformance.trusted_root(case))
        if cx509.chain_signatures_valid(original, [der(c) for c in chain])
    )
    original_leaf = cx509.load_certificate(original)
    at = [original_leaf.not_valid_before_utc + timedelta(seconds=1)]
    rejected = accepted = 0
    for i in range(len(original)):
        mutated = bytearray(original)
        mutated[i] ^= 0x01 if i % 2 else 0x80
        try:
            leaf = cx509.load_certificate(bytes(mutated))
        except CertificateError:
            rejected += 1
            continue
        # Any outcome but a foreign exception is fine for the readers...
        _outcome(functools.partial(cx509.check_leaf, leaf))
        _outcome(functools.partial(cx509.leaf_identity, leaf))
        assert isinstance(cx509.is_self_signed(leaf), bool)
        # ...but a certificate whose signed part changed must never chain. (A flip of
        # the signature BIT STRING's unused-bits count leaves the signed bytes alone.)
        if _outcome(functools.partial(cx509.verify_chain, leaf, chain, at=at)) == "accepted":
            assert leaf.tbs_certificate_bytes == original_leaf.tbs_certificate_bytes, i
            accepted += 1
        else:
            rejected += 1
    assert accepted <= 1
    assert rejected >= len(original) - 1


def test_unhandled_critical_extensions_are_rejected(pki: Pki) -> None:
    """RFC 5280 4.2: a critical extension the verifier does not process rejects
    the certificate (a precertificate's poison, critical name constraints...)."""
    cx509.check_leaf(pki.leaf)
    extensions = leaf_extensions()
    poisoned = make_cert(
        "",
        _key("p256-leaf"),
        issuer="intermediate",
        signer=_key("p384-intermediate"),
        extensions=[*extensions, (x509.PrecertPoison(), True)],
    )
    with pytest.raises(
        CertificateError, match=r"critical extension 1\.3\.6\.1\.4\.1\.11129\.2\.4\.3"
    ):
        cx509.check_leaf(poisoned)
    # The same extension, not critical, is merely ignored.
    custom = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    cx509.check_leaf(
        make_cert(
            "",
            _key("p256-leaf"),
            issuer="intermediate",
            signer=_key("p384-intermediate"),
            extensions=[*extensions, (custom, False)],
        )
    )
    constrained = make_cert(
        "intermediate",
        _key("p384-intermediate"),
        issuer="root",
        signer=_key("p384-root"),
        extensions=[
            *ca_extensions(path_length=0),
            (
                x509.NameConstraints(
                    permitted_subtrees=[x509.DNSName("x.example")], excluded_subtrees=None
                ),
                True,
            ),
        ],
    )
    with pytest.raises(CertificateError, match=r"critical extension 2\.5\.29\.30"):
        cx509.verify_chain_signatures(pki.leaf, [constrained, pki.root])


def test_trust_root_objects_are_memoised_by_identity_and_by_value(pki: Pki) -> None:
    # The same chain object: found by identity, without hashing certificates.
    chain = tuple(pki.chain)
    cx509.verify_chain_signatures(pki.leaf, chain)
    hits = cx509._ca_path_problem.cache_info().hits
    cx509.verify_chain_signatures(pki.leaf, chain)
    assert cx509._ca_path_problem.cache_info().hits == hits
    assert cx509._CA_PATHS[id(chain)][0] is chain
    # An equal chain in another object: found by value.
    cx509.verify_chain_signatures(pki.leaf, list(pki.chain))
    assert cx509._ca_path_problem.cache_info().hits == hits + 1


def test_identity_memo_computes_once_per_object_and_stays_bounded() -> None:
    table: dict[int, tuple[Any, Any]] = {}
    calls: list[object] = []

    def compute(obj: object) -> int:
        calls.append(obj)
        return len(calls)

    a, b = [1], [1]  # equal, distinct
    assert by_identity(table, a, compute) == 1
    assert by_identity(table, a, compute) == 1
    assert by_identity(table, b, compute) == 2
    kept = [[i] for i in range(3 * _MAX_BY_IDENTITY)]
    for obj in kept:
        by_identity(table, obj, compute)
    assert len(table) <= _MAX_BY_IDENTITY
    assert all(entry[0] is not None for entry in table.values())
