"""Helpers of the benchmarks: the vectors, timing, sigstore-python, and a synthetic release.

Owns: finding the sigstore-conformance vectors, a timing loop that is fair to
both contenders on a busy machine, a thin adapter over sigstore-python (a
benchmark-only dependency), and ``make_release``: a batch of bundles as one CI
job would sign them, built here with throw-away keys (one Fulcio-style leaf
certificate, one checkpoint, a TSA token or a SET per bundle) under a trusted
root of its own. Nothing here is imported by the package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import statistics
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sigstore_async import Bundle, Identity, TrustMaterial
from sigstore_async._core import canonical, checkpoint, merkle
from sigstore_async._core.der import oid_content
from sigstore_async.testing._pki import SIGNING_KEY_USAGE, ca_certificate
from sigstore_async.verify import Artifact
from sigstore_async.verify.core import VerifyCache, verify_bundle

REPO = Path(__file__).resolve().parent.parent

IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
PRODUCTION_ROOT = (
    REPO / "sigstore_async" / "trust" / "_embedded" / "production" / "trusted_root.json"
)


# --- the vectors ----------------------------------------------------------------------


def bundle_verify_dir() -> Path | None:
    """The conformance vectors' ``bundle-verify``: $SIGSTORE_ASYNC_VECTORS or ../shared/vectors."""
    env = os.environ.get("SIGSTORE_ASYNC_VECTORS")
    root = Path(env) if env else REPO.parent / "shared" / "vectors"
    base = root / "sigstore-conformance" / "bundle-verify"
    return base if base.is_dir() else None


@dataclass(frozen=True)
class VectorCase:
    name: str
    label: str
    bundle: bytes
    artifact: bytes
    trusted_root: bytes
    identity: str = IDENTITY
    issuer: str = ISSUER


def our_verification(case: VectorCase) -> Callable[[VerifyCache | None], None]:
    """Our verification of ``case``, parse included, with the cache given per call
    (None: a fresh one, nothing memoised across bundles). The trust root is read
    once, as a verifier holds it."""
    trust = TrustMaterial.from_json(case.trusted_root)
    policy = Identity(case.identity, case.issuer)
    now = datetime.now(UTC)

    def verify(cache: VerifyCache | None) -> None:
        verify_bundle(
            Bundle.from_json(case.bundle),
            artifact=Artifact.from_bytes(case.artifact),
            policy=policy,
            trust=trust,
            now=now,
            cache=cache,
        )

    return verify


def vector_case(base: Path, name: str, label: str) -> VectorCase:
    case = base / name
    root = case / "trusted_root.json"
    artifact = case / "artifact" if (case / "artifact").exists() else base / "a.txt"
    return VectorCase(
        name=name,
        label=label,
        bundle=(case / "bundle.sigstore.json").read_bytes(),
        artifact=artifact.read_bytes(),
        trusted_root=(root if root.exists() else PRODUCTION_ROOT).read_bytes(),
    )


# --- timing ---------------------------------------------------------------------------


@dataclass
class Race:
    """Seconds per call (or per bundle) of each contender, round by round."""

    rounds: dict[str, list[float]]

    @property
    def best(self) -> dict[str, float]:
        """The best round of each: rounds in which something else ran are discarded."""
        return {name: min(times) for name, times in self.rounds.items()}

    def paired_ratio(self, slower: str, faster: str) -> float:
        """Median over rounds of ``slower``'s time over ``faster``'s in the same round.

        This host runs at two speeds that switch every few seconds (another
        tenant on the core): the best rounds of two contenders may come from
        different speeds, while the two halves of one round share one.
        """
        return statistics.median(
            a / b for a, b in zip(self.rounds[slower], self.rounds[faster], strict=True)
        )


def race(contenders: Mapping[str, Callable[[], object]], *, rounds: int, per_round: int) -> Race:
    """Seconds per call of each contender, per round.

    Rounds alternate between the contenders (in reversed order every other
    round) so that both see the same machine. Short rounds, many of them: the
    ratio of a round's halves is then taken at one machine speed.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            call = contenders[name]
            start = time.perf_counter()
            for _ in range(per_round):
                call()
            times[name].append((time.perf_counter() - start) / per_round)
    return Race(times)


def race_batches(contenders: Mapping[str, Callable[[], int]], *, rounds: int) -> Race:
    """Like ``race`` for calls that each verify a batch: seconds per bundle."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            count = contenders[name]()
            times[name].append((time.perf_counter() - start) / count)
    return Race(times)


# --- sigstore-python ------------------------------------------------------------------


class SigstorePython:
    """sigstore-python's verifier over one trusted root, offline."""

    def __init__(self, trusted_root: bytes, identity: str, issuer: str) -> None:
        from sigstore.models import Bundle, TrustedRoot
        from sigstore.verify import Verifier
        from sigstore.verify.policy import Identity
        from sigstore_models.trustroot import v1 as trustroot_v1

        self._bundle = Bundle
        self._verifier = Verifier(
            trusted_root=TrustedRoot(trustroot_v1.TrustedRoot.from_json(trusted_root))
        )
        self._policy = Identity(identity=identity, issuer=issuer)

    @staticmethod
    def version() -> str | None:
        try:
            from importlib.metadata import version

            return version("sigstore")
        except Exception:
            return None

    def verify(self, bundle: bytes, artifact: bytes) -> None:
        """``Bundle.from_json`` and ``verify_artifact``, as a user would call them."""
        self._verifier.verify_artifact(artifact, self._bundle.from_json(bundle), self._policy)

    def timestamp_step(self, bundle: bytes) -> Callable[[], object]:
        """Its RFC 3161 step alone (``Verifier._verify_timestamp_authority``), for profiling."""
        parsed = self._bundle.from_json(bundle)
        return lambda: self._verifier._verify_timestamp_authority(parsed)


def sigstore_python_unavailable() -> str | None:
    """Why sigstore-python cannot be compared with, or None when it can."""
    try:
        import sigstore.verify  # noqa: F401
        import sigstore_models.trustroot.v1  # noqa: F401
    except ImportError as e:
        return f"sigstore-python not importable: {e}"
    return None


# --- a synthetic release ------------------------------------------------------------------
#
# One CI job signs N artifacts in one go: one ephemeral key and Fulcio certificate,
# N signatures, N log entries that end up under one checkpoint, and (Rekor v2) one
# RFC 3161 token per signature. Everything is made here with fresh keys.


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spki(key: Any) -> bytes:
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# DER, just enough for an RFC 3161 token (X.690).
def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _set(*items: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(items)))  # DER: SET OF sorted by encoding


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _oid(dotted: str) -> bytes:
    return _tlv(0x06, oid_content(dotted))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _gentime(t: datetime) -> bytes:
    return _tlv(0x18, t.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())


_SHA256 = "2.16.840.1.101.3.4.2.1"
_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore-async.bench"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    not_before: datetime,
    path_length: int | None,
) -> x509.Certificate:
    return ca_certificate(
        common_name=name,
        key=key,
        issuer=issuer[0] if issuer else None,
        issuer_key=issuer[1] if issuer else None,
        not_before=not_before,
        not_after=not_before + timedelta(days=3650),
        path_length=path_length,
    )


def _sct_list(sct: bytes) -> bytes:
    # RFC 6962 3.3: SignedCertificateTimestampList, in an OCTET STRING (the extension value).
    entry = struct.pack(">H", len(sct)) + sct
    return _octets(struct.pack(">H", len(entry)) + entry)


@dataclass(frozen=True)
class Release:
    """N signed artifacts under one trusted root; bundles as JSON."""

    rekor: Literal["v1", "v2"]
    trusted_root: bytes
    bundles: list[bytes]
    artifacts: list[bytes]
    identity: str
    issuer: str

    def pairs(self) -> Iterator[tuple[bytes, bytes]]:
        return zip(self.bundles, self.artifacts, strict=True)


def make_release(
    count: int, rekor: Literal["v1", "v2"], *, when: datetime | None = None
) -> Release:
    """Sign ``count`` distinct artifacts as one release: one leaf certificate, one checkpoint.

    ``rekor="v1"``: hashedrekord 0.0.1 entries with a SET each (their integrated
    times are the verified times). ``rekor="v2"``: hashedrekord 0.0.2 entries
    without integrated times, each signature timestamped by a TSA.
    """
    t0 = (when or datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    ca_start = t0 - timedelta(days=365)
    identity = "https://github.com/example/release/.github/workflows/release.yml@refs/tags/v1.0.0"
    issuer = ISSUER

    # Fulcio-style CA: a P-384 root and intermediate, as the public-good instance has.
    root_key = ec.generate_private_key(ec.SECP384R1())
    inter_key = ec.generate_private_key(ec.SECP384R1())
    root = _ca("bench-root", root_key, None, ca_start, None)
    inter = _ca("bench-intermediate", inter_key, (root, root_key), ca_start, 0)

    ct_key = ec.generate_private_key(ec.SECP256R1())
    ct_log_id = hashlib.sha256(_spki(ct_key.public_key())).digest()

    # The signer: one ephemeral P-256 key, one leaf with an embedded SCT.
    signer = ec.generate_private_key(ec.SECP256R1())
    leaf_start = t0 - timedelta(minutes=1)

    def leaf_builder(sct_extension: bytes) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(inter.subject)
            .public_key(signer.public_key())
            .serial_number(serial)
            .not_valid_before(leaf_start)
            .not_valid_after(leaf_start + timedelta(minutes=10))
            .add_extension(SIGNING_KEY_USAGE, critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(signer.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]),
                critical=True,
            )
            .add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), issuer.encode()
                ),
                critical=False,
            )
            .add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), _tlv(0x0C, issuer.encode())
                ),
                critical=False,
            )
            .add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"), sct_extension
                ),
                critical=False,
            )
        )

    serial = x509.random_serial_number()
    sct_time = int(leaf_start.timestamp() * 1000) + 500
    placeholder = leaf_builder(_sct_list(b"\x00" * 10)).sign(inter_key, hashes.SHA384())
    issuer_key_hash = hashlib.sha256(_spki(inter_key.public_key())).digest()
    tbs = placeholder.tbs_precertificate_bytes
    # RFC 6962 3.2: the precertificate SCT signs version, type, timestamp, entry type,
    # issuer key hash, TBSCertificate and extensions.
    signed = (
        struct.pack(">BBQH", 0, 0, sct_time, 1)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + b"\x00\x00"
    )
    sct_sig = ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    sct = (
        b"\x00"
        + ct_log_id
        + struct.pack(">Q", sct_time)
        + b"\x00\x00"
        + bytes([4, 3])  # sha256, ecdsa
        + struct.pack(">H", len(sct_sig))
        + sct_sig
    )
    leaf = leaf_builder(_sct_list(sct)).sign(inter_key, hashes.SHA384())
    assert leaf.tbs_precertificate_bytes == tbs
    leaf_der = _der(leaf)
    leaf_pem = leaf.public_bytes(serialization.Encoding.PEM)

    # The transparency log.
    log_start = ca_start
    if rekor == "v1":
        log_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = ec.generate_private_key(
            ec.SECP256R1()
        )
        log_public = log_key.public_key()
        log_id = hashlib.sha256(_spki(log_public)).digest()
        log_host = "rekor.bench.test"
        origin = f"{log_host} - 1193050959916656506"
        key_hint = log_id[:4]
        key_details = "PKIX_ECDSA_P256_SHA_256"
    else:
        log_key = ed25519.Ed25519PrivateKey.generate()
        log_public = log_key.public_key()
        log_host = "log2025.rekor.bench.test"
        raw = log_public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        log_id = checkpoint.note_key_id_ed25519(log_host, raw)
        origin = log_host
        key_hint = log_id[:4]
        key_details = "PKIX_ED25519"

    # The TSA (Rekor v2 only): a P-384 leaf under a P-384 root, signing with ECDSA-SHA256,
    # as the public-good TSA does.
    tsa_root_key = ec.generate_private_key(ec.SECP384R1())
    tsa_key = ec.generate_private_key(ec.SECP384R1())
    tsa_root = _ca("bench-tsa-root", tsa_root_key, None, ca_start, None)
    tsa_leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("bench-tsa"))
        .issuer_name(tsa_root.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca_start)
        .not_valid_after(ca_start + timedelta(days=3650))
        .add_extension(SIGNING_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(tsa_root_key.public_key()),
            critical=False,
        )
        .sign(tsa_root_key, hashes.SHA384())
    )
    tsa_der = _der(tsa_leaf)
    tsa_issuer_serial = _seq(tsa_leaf.issuer.public_bytes(), _int(tsa_leaf.serial_number))
    ess = _seq(_seq(_seq(_octets(hashlib.sha256(tsa_der).digest()))))

    def timestamp(signature: bytes, serial_number: int, gen_time: datetime) -> bytes:
        tst_info = _seq(
            _int(1),
            _oid("1.3.6.1.4.1.57264.2"),
            _seq(_seq(_oid(_SHA256)), _octets(hashlib.sha256(signature).digest())),
            _int(serial_number),
            _gentime(gen_time),
        )
        attrs = [
            _seq(_oid("1.2.840.113549.1.9.3"), _set(_oid(_TST_INFO))),
            _seq(
                _oid("1.2.840.113549.1.9.5"),
                _set(_tlv(0x17, gen_time.strftime("%y%m%d%H%M%SZ").encode())),
            ),
            _seq(_oid("1.2.840.113549.1.9.4"), _set(_octets(hashlib.sha256(tst_info).digest()))),
            _seq(_oid("1.2.840.113549.1.9.16.2.47"), _set(ess)),
        ]
        signed_attrs = _set(*attrs)
        sig = tsa_key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        signer_info = _seq(
            _int(1),
            tsa_issuer_serial,
            _seq(_oid(_SHA256)),
            b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT SET OF Attribute
            _seq(_oid(_ECDSA_SHA256)),
            _octets(sig),
        )
        signed_data = _seq(
            _int(3),
            _set(_seq(_oid(_SHA256))),
            _seq(_oid(_TST_INFO), _tlv(0xA0, _octets(tst_info))),
            _tlv(0xA0, tsa_der),
            _set(signer_info),
        )
        content_info = _seq(_oid(_SIGNED_DATA), _tlv(0xA0, signed_data))
        return _seq(_seq(_int(0)), content_info)

    # Sign, log and (v2) timestamp every artifact.
    tree = merkle.MerkleTree()
    entries: list[dict[str, Any]] = []
    artifacts: list[bytes] = []
    for i in range(count):
        artifact = b"release artifact %d\n" % i + secrets.token_bytes(32)
        digest = hashlib.sha256(artifact).digest()
        signature = signer.sign(artifact, ec.ECDSA(hashes.SHA256()))
        if rekor == "v1":
            body_obj: dict[str, Any] = {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                    "signature": {
                        "content": _b64(signature),
                        "publicKey": {"content": _b64(leaf_pem)},
                    },
                },
            }
        else:
            body_obj = {
                "apiVersion": "0.0.2",
                "kind": "hashedrekord",
                "spec": {
                    "hashedRekordV002": {
                        "data": {"algorithm": "SHA2_256", "digest": _b64(digest)},
                        "signature": {
                            "content": _b64(signature),
                            "verifier": {
                                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                "x509Certificate": {"rawBytes": _b64(leaf_der)},
                            },
                        },
                    }
                },
            }
        body = canonical.canonicalize(body_obj)
        index = tree.append(body)
        integrated = int(t0.timestamp()) + i // 50
        entry: dict[str, Any] = {
            "logIndex": str(index),
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": "hashedrekord", "version": body_obj["apiVersion"]},
            "canonicalizedBody": _b64(body),
        }
        extra: dict[str, Any] = {}
        if rekor == "v1":
            assert isinstance(log_key, ec.EllipticCurvePrivateKey)
            payload = canonical.set_payload(
                body=body, integrated_time=integrated, log_index=index, log_id=log_id
            )
            entry["integratedTime"] = str(integrated)
            entry["inclusionPromise"] = {
                "signedEntryTimestamp": _b64(log_key.sign(payload, ec.ECDSA(hashes.SHA256())))
            }
        else:
            gen_time = t0 + timedelta(seconds=i // 50)
            extra["timestampVerificationData"] = {
                "rfc3161Timestamps": [
                    {"signedTimestamp": _b64(timestamp(signature, i + 1, gen_time))}
                ]
            }
        entries.append({"entry": entry, "extra": extra, "signature": signature, "digest": digest})
        artifacts.append(artifact)

    # One checkpoint over the whole release.
    size = tree.size
    root_hash = tree.root()
    note = checkpoint.sign_note(
        f"{origin}\n{size}\n{_b64(root_hash)}\n",
        name=log_host,
        key_hint=key_hint,
        private_key=log_key,
    )
    bundles = []
    for index, item in enumerate(entries):
        entry = item["entry"]
        entry["inclusionProof"] = {
            "logIndex": str(index),
            "rootHash": _b64(root_hash),
            "treeSize": str(size),
            "hashes": [_b64(h) for h in tree.inclusion_proof(index)],
            "checkpoint": {"envelope": note},
        }
        bundle = {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": _b64(leaf_der)},
                "tlogEntries": [entry],
                **item["extra"],
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(item["digest"])},
                "signature": _b64(item["signature"]),
            },
        }
        bundles.append(json.dumps(bundle).encode())

    def authority(chain: list[x509.Certificate], uri: str) -> dict[str, Any]:
        return {
            "subject": {"organization": "sigstore-async.bench", "commonName": uri},
            "uri": uri,
            "certChain": {"certificates": [{"rawBytes": _b64(_der(c))} for c in chain]},
            "validFor": {"start": _iso(ca_start)},
        }

    def log(base_url: str, key: Any, key_id: bytes, details: str) -> dict[str, Any]:
        return {
            "baseUrl": base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": _b64(_spki(key)),
                "keyDetails": details,
                "validFor": {"start": _iso(log_start)},
            },
            "logId": {"keyId": _b64(key_id)},
        }

    trusted_root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [log(f"https://{log_host}", log_public, log_id, key_details)],
        "certificateAuthorities": [authority([inter, root], "https://fulcio.bench.test")],
        "ctlogs": [
            log(
                "https://ctfe.bench.test", ct_key.public_key(), ct_log_id, "PKIX_ECDSA_P256_SHA_256"
            )
        ],
        "timestampAuthorities": (
            [authority([tsa_leaf, tsa_root], "https://tsa.bench.test")] if rekor == "v2" else []
        ),
    }
    return Release(
        rekor=rekor,
        trusted_root=json.dumps(trusted_root).encode(),
        bundles=bundles,
        artifacts=artifacts,
        identity=identity,
        issuer=issuer,
    )
