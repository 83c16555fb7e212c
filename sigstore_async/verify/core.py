"""The Sigstore verification pipeline, sans-I/O.

Owns: every step of client-side bundle verification, in order, with the edge
rules of DESIGN.md: signing material, RFC 3161 timestamps, transparency log
entries (body, inclusion proof, checkpoint, SET), the threshold of verified
times, the certificate chain at each verified time with key usage and SCTs, the
identity policy, and the signature over the artifact or DSSE envelope.

Pure: the time is an argument, nothing is fetched. Two kinds of memo, kept
apart so that a benchmark (or a user) can tell what is shared:

- what follows from the trust root alone (the TSAs' checked chains, the CA
  part of each Fulcio chain, issuer key hashes) is worked out once per trusted
  root, keyed by its fingerprint, like the parsed keys of ``TrustMaterial``;
- pure checks over a bundle's inputs (the leaf's chain signature, SCTs, SETs,
  checkpoints, timestamp and artifact signatures) go through a
  ``VerifyCache``, whose keys hold every input the result depends on (the key
  material itself, never a name for it). Inputs repeat across a batch: one
  release signed in one go shares a certificate and often a checkpoint. With
  ``cache=None`` a call memoises only within itself, so nothing runs twice for
  one bundle and nothing outlives the call.

Does not own: reading files or the network (the ``Verifier`` shell), parsing
bundles (``models``), or indexing trust roots (``trust``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, TypeVar

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from .._core import JSON_ERRORS, canonical, checkpoint, merkle, rfc3161, sct
from .._core import x509 as cx509
from .._core.keys import (
    KIND_ED25519,
    PublicKey,
    as_public_key,
    default_hash_for_key,
    key_kind,
    verify_signature,
)
from ..errors import (
    CertificateError,
    PolicyError,
    SignatureError,
    TimestampError,
    TransparencyLogError,
    VerificationError,
)
from ..models.bundle import Bundle
from ..models.common import TimeRange
from ..models.dsse import Envelope
from ..models.rekor import TransparencyLogEntry
from ..trust import LogKey, TrustMaterial
from ._bodies import check_entry_body
from .artifact import DIGEST_ALGORITHMS, Artifact
from .policy import Policy

__all__ = [
    "Statement",
    "VerificationOptions",
    "VerificationResult",
    "VerifiedTime",
    "VerifyCache",
    "VerifyingKey",
    "verify_bundle",
]

T = TypeVar("T")

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_IN_TOTO_TYPES = {"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"}


@attrs.frozen
class VerificationOptions:
    """Thresholds of the verification (each counts distinct sources)."""

    #: Verified times needed: distinct TSAs plus distinct logs with a valid SET.
    timestamp_threshold: int = 1
    #: Transparency log entries needed, from distinct logs.
    tlog_threshold: int = 1
    #: Embedded SCTs needed, from distinct CT logs.
    sct_threshold: int = 1
    #: How far a verified time may lie after ``now`` (clock skew).
    max_clock_skew: timedelta = timedelta(minutes=1)

    def __attrs_post_init__(self) -> None:
        for name in ("timestamp_threshold", "tlog_threshold", "sct_threshold"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@attrs.frozen
class VerifyingKey:
    """A managed public key to verify key-signed bundles with.

    ``valid_for``, when given, must contain every verified time.
    """

    key: PublicKey
    valid_for: TimeRange | None = None

    @classmethod
    def from_pem(cls, pem: bytes, valid_for: TimeRange | None = None) -> VerifyingKey:
        """Raises ``ValueError`` on a malformed key."""
        from .._core.keys import load_pem_public_key

        return cls(load_pem_public_key(pem), valid_for)

    @property
    def der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@attrs.frozen
class VerifiedTime:
    """A time the bundle is proven to have existed at, and who vouches for it."""

    time: datetime
    source: Literal["timestamp_authority", "transparency_log"]
    #: The TSA's URI (or certificate subject) or the log's base URL.
    authority: str


@attrs.frozen
class Statement:
    """An in-toto statement from a DSSE payload."""

    type: str
    subjects: tuple[tuple[str, Mapping[str, str]], ...]
    predicate_type: str
    predicate: Any


@attrs.frozen
class VerificationResult:
    """What a successful verification established."""

    bundle: Bundle
    #: The certificate's SAN (email, URI, ...), ``None`` for key-signed bundles.
    identity: str | None
    #: The OIDC issuer recorded in the certificate.
    issuer: str | None
    #: Fulcio extensions present in the certificate, by dotted OID.
    extensions: Mapping[str, str]
    #: DER of the signing certificate, ``None`` for key-signed bundles.
    certificate: bytes | None
    verified_times: tuple[VerifiedTime, ...]
    #: The log entries that verified, as the bundle gives them. A SET (Rekor
    #: v1) covers an entry's body, integrated time, log id and log index; a
    #: Rekor v2 entry has no SET, and the index that its inclusion proof
    #: verified is ``inclusion_proof.log_index`` (the entry's own
    #: ``log_index`` is then not covered by any signature).
    log_entries: tuple[TransparencyLogEntry, ...]
    #: For DSSE bundles: the payload type and payload, and the statement for in-toto.
    payload_type: str | None = None
    payload: bytes | None = None
    statement: Statement | None = None


class VerifyCache:
    """A bounded, thread-safe memo of pure checks, shared by a verifier's batches.

    Only successful results are stored. Keys include every input of the check
    (certificate and chain bytes, trust-root fingerprint, note text ...).
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self._data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                value: T = self._data[key]
                return value
            self.misses += 1
        value = compute()
        with self._lock:
            self._data[key] = value
            if len(self._data) > self._maxsize:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class _CallMemo(VerifyCache):
    """The memo of one ``verify_bundle`` call: nothing runs twice within it,
    nothing outlives it. One caller, a few keys: no lock, no eviction."""

    def __init__(self) -> None:  # no lock, no order: see the class docstring
        self._results: dict[tuple[Any, ...], Any] = {}
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        results = self._results
        if key in results:
            found: T = results[key]
            return found
        value = compute()
        results[key] = value
        return value

    def clear(self) -> None:
        self._results.clear()


def _memo(cache: VerifyCache | None, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    return compute() if cache is None else cache.get(key, compute)


# --- what follows from the trust root alone ----------------------------------

_derived_lock = threading.Lock()
_TSA_VERIFIERS: OrderedDict[bytes, rfc3161.TimestampVerifier] = OrderedDict()
_MAX_TRUST_ROOTS = 16


def _tsa_verifier_for(trust: TrustMaterial) -> rfc3161.TimestampVerifier:
    """The TSA verifier of this trusted root (its chains checked once), by fingerprint."""
    with _derived_lock:
        verifier = _TSA_VERIFIERS.get(trust.fingerprint)
        if verifier is not None:
            _TSA_VERIFIERS.move_to_end(trust.fingerprint)
            return verifier
    verifier = _tsa_verifier(trust)
    with _derived_lock:
        _TSA_VERIFIERS[trust.fingerprint] = verifier
        if len(_TSA_VERIFIERS) > _MAX_TRUST_ROOTS:
            _TSA_VERIFIERS.popitem(last=False)
    return verifier


# DER SubjectPublicKeyInfo of key objects (log keys, a VerifyingKey's key), so
# that memo keys name a key by its bytes; serialising one costs about 10 us.
# Key objects do not hash: entries are found by id() and hold the key itself,
# so an id cannot be reused while its entry lives.
_SPKI: OrderedDict[int, tuple[PublicKey, bytes]] = OrderedDict()
_MAX_SPKI = 256


def _spki(key: PublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of ``key``."""
    with _derived_lock:
        entry = _SPKI.get(id(key))
        if entry is not None and entry[0] is key:
            _SPKI.move_to_end(id(key))
            return entry[1]
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with _derived_lock:
        _SPKI[id(key)] = (key, der)
        if len(_SPKI) > _MAX_SPKI:
            _SPKI.popitem(last=False)
    return der


# --- step helpers -----------------------------------------------------------


@attrs.frozen
class _Leaf:
    cert: x509.Certificate
    identity: cx509.FulcioIdentity
    key: PublicKey
    extensions: cx509.LeafExtensions
    #: Its validity window, read once (a batch checks it for every bundle), or None.
    validity: tuple[datetime, datetime] | None


def _load_leaf(der: bytes) -> _Leaf:
    cert = cx509.load_certificate(der)
    extensions = cx509.read_leaf_extensions(der)
    cx509.check_leaf(cert, extensions=extensions)
    identity = cx509.leaf_identity(cert, extensions=extensions)
    try:
        key = as_public_key(cert.public_key())
    except (ValueError, UnsupportedAlgorithm) as e:
        raise CertificateError(f"unsupported certificate key: {e}") from e
    return _Leaf(
        cert=cert,
        identity=identity,
        key=key,
        extensions=extensions,
        validity=cx509.validity_window(cert),
    )


def _tsa_verifier(trust: TrustMaterial) -> rfc3161.TimestampVerifier:
    authorities = [
        rfc3161.TsaAuthority(
            chain=ca.chain_der,
            valid_from=ca.valid_for.start,
            valid_until=ca.valid_for.end,
            name=ca.uri or ca.chain[0].subject.rfc4514_string(),
        )
        for ca in trust.tsas
    ]
    return rfc3161.TimestampVerifier(authorities)


def _verify_timestamps(
    tokens: Sequence[bytes],
    signature: bytes,
    trust: TrustMaterial,
    cache: VerifyCache | None,
) -> list[VerifiedTime]:
    if not tokens:
        return []
    verifier = _tsa_verifier_for(trust)
    memo = partial(_memo, cache)
    times = []
    for i, token in enumerate(tokens):
        try:
            when, authority = verifier.verify_with_authority(token, signature, memo=memo)
        except TimestampError as e:
            raise TimestampError(
                f"timestamp {i}: {e.message}",
                path=f"$.verificationMaterial.timestampVerificationData.rfc3161Timestamps[{i}]",
            ) from e
        times.append(VerifiedTime(when, "timestamp_authority", authority.name or ""))
    return times


def _log_key_for(
    entry: TransparencyLogEntry, trust: TrustMaterial, times: Sequence[datetime]
) -> LogKey:
    assert entry.log_id is not None
    keys = trust.tlog_keys(entry.log_id.key_id)
    if not keys:
        raise TransparencyLogError(f"log {entry.log_id.key_id.hex()} is not in the trusted root")
    for key in keys:
        if key.valid_for.start is None:
            continue  # DESIGN: a log key without a validity start is unusable
        if times and all(key.valid_at(t) for t in times):
            return key
    raise TransparencyLogError(
        f"the key of log {entry.log_id.key_id.hex()} is not valid at the entry's time"
    )


def _verify_entry(
    entry: TransparencyLogEntry,
    path: str,
    *,
    trust: TrustMaterial,
    tsa_times: Sequence[datetime],
    now: datetime,
    options: VerificationOptions,
    cache: VerifyCache | None,
) -> tuple[LogKey, VerifiedTime | None]:
    """Prove one entry's inclusion; return its log and the time its SET vouches for."""
    promise, proof = entry.inclusion_promise, entry.inclusion_proof
    integrated: datetime | None = None
    if entry.integrated_time:  # a negative one: refused by Bundle.from_json, not by hand
        try:
            integrated = canonical.integrated_time(
                entry.integrated_time, latest=now + options.max_clock_skew
            )
        except TransparencyLogError as e:
            raise TransparencyLogError(e.message, path=path) from e
    if promise is not None and integrated is None:
        raise TransparencyLogError("an inclusion promise needs an integrated time", path=path)
    # The log key must be valid when the entry was made: at its integrated time
    # (Rekor v1), or at the verified timestamps (Rekor v2 has no integrated time).
    key_times: Sequence[datetime] = [integrated] if integrated is not None else tsa_times
    if not key_times:
        raise TimestampError(
            "the log entry has no integrated time; a timestamp from a trusted TSA is required",
            path=path,
        )
    key = _log_key_for(entry, trust, key_times)
    assert entry.log_id is not None
    # The RFC 6962 leaf hash names the body in memo keys too (hashing a body
    # costs as much as the rest of a SET check's bookkeeping).
    body_leaf_hash = merkle.leaf_hash(entry.canonicalized_body)
    verified: VerifiedTime | None = None
    if promise is not None:
        assert integrated is not None

        def check_set() -> bool:
            canonical.verify_set(
                key=key.key,
                signed_entry_timestamp=promise.signed_entry_timestamp,
                body=entry.canonicalized_body,
                integrated_time=entry.integrated_time,
                log_index=entry.log_index,
                log_id=entry.log_id.key_id if entry.log_id else b"",
            )
            return True

        _memo(
            cache,
            (
                "set",
                key.spki or _spki(key.key),
                entry.log_id.key_id,
                promise.signed_entry_timestamp,
                body_leaf_hash,
                entry.integrated_time,
                entry.log_index,
            ),
            check_set,
        )
        verified = VerifiedTime(integrated, "transparency_log", key.base_url)
    if proof is not None:
        merkle.verify_inclusion(
            leaf_hash=body_leaf_hash,
            index=proof.log_index,
            tree_size=proof.tree_size,
            proof=proof.hashes,
            root_hash=proof.root_hash,
        )
        if proof.checkpoint is None or not proof.checkpoint.envelope:
            raise TransparencyLogError("inclusion proof without a checkpoint", path=path)
        envelope = proof.checkpoint.envelope
        cp = _memo(
            cache,
            ("checkpoint", key.spki or _spki(key.key), key.key_id, key.name, envelope),
            lambda: checkpoint.verify_checkpoint(
                envelope, key=key.key, key_id=key.key_id, name=key.name
            ),
        )
        if cp.tree_size != proof.tree_size or cp.root_hash != proof.root_hash:
            raise TransparencyLogError(
                "the checkpoint does not commit to the inclusion proof's tree", path=path
            )
    return key, verified


def _verify_tlog(
    bundle: Bundle,
    *,
    signature: bytes,
    signer_der: bytes,
    signer_is_certificate: bool,
    artifact: Artifact | None,
    envelope: Envelope | None,
    trust: TrustMaterial,
    tsa_times: Sequence[datetime],
    now: datetime,
    options: VerificationOptions,
    cache: VerifyCache | None,
) -> tuple[list[TransparencyLogEntry], list[VerifiedTime]]:
    entries = bundle.material.tlog_entries
    logs: set[bytes] = set()
    set_times: list[VerifiedTime] = []
    for i, entry in enumerate(entries):
        path = f"$.verificationMaterial.tlogEntries[{i}]"
        try:
            check_entry_body(
                entry,
                signature=signature,
                signer_der=signer_der,
                signer_is_certificate=signer_is_certificate,
                artifact=artifact,
                envelope=envelope,
                memo=partial(_memo, cache),
            )
            key, verified = _verify_entry(
                entry,
                path,
                trust=trust,
                tsa_times=tsa_times,
                now=now,
                options=options,
                cache=cache,
            )
        except VerificationError as e:
            if e.path is None:
                e.path = path
            raise
        logs.add(key.key_id)
        if verified is not None:
            set_times.append(verified)
    if len(logs) < options.tlog_threshold:
        raise TransparencyLogError(
            f"{len(logs)} verified log entries from distinct logs, "
            f"{options.tlog_threshold} required",
            path="$.verificationMaterial.tlogEntries",
        )
    return list(entries), set_times


def _distinct_sources(times: Sequence[VerifiedTime]) -> int:
    return len({(t.source, t.authority) for t in times})


def _chain_ok(leaf: x509.Certificate, leaf_der: bytes, chain: Sequence[x509.Certificate]) -> bool:
    try:
        cx509.verify_chain_signatures(leaf, chain, leaf_der=leaf_der)
    except CertificateError:
        return False
    return True


def _verify_certificate(
    leaf_der: bytes,
    leaf: _Leaf,
    times: Sequence[datetime],
    trust: TrustMaterial,
    options: VerificationOptions,
    cache: VerifyCache | None,
) -> None:
    issuer: tuple[x509.Certificate, bytes] | None = None
    for when in times:
        for ca in trust.fulcio:
            if not ca.valid_at(when):
                continue
            if not _memo(
                cache,
                ("chain", leaf_der, ca.chain_der),
                partial(_chain_ok, leaf.cert, leaf_der, ca.chain),
            ):
                continue
            # check_validity's rule over windows read once: the leaf's with the leaf.
            if not (
                cx509.windows_hold((leaf.validity,), when)
                and cx509.windows_hold(cx509.chain_windows(ca.chain), when)
            ):
                continue
            issuer = ca.chain[0], ca.chain_der[0]
            break
        else:
            raise CertificateError(
                f"the certificate does not chain to a Fulcio CA of the trusted root valid at "
                f"{when.isoformat()}"
            )
    if issuer is None:
        raise CertificateError("no verified time to check the certificate at")
    if options.sct_threshold:
        issuer_cert, issuer_der = issuer
        _memo(
            cache,
            ("sct", leaf_der, issuer_der, trust.fingerprint, options.sct_threshold),
            lambda: sct.verify_embedded_scts(
                leaf.cert,
                issuer_cert,
                ct_keys=trust.ct_key,
                threshold=options.sct_threshold,
                extensions=leaf.extensions,
            ),
        )


def parse_statement(payload: bytes) -> Statement:
    """Parse an in-toto statement.

    Raises:
        SignatureError: the payload is not an in-toto statement.
    """
    try:
        obj = json.loads(payload)
    except JSON_ERRORS as e:
        raise SignatureError("the DSSE payload is not JSON") from e
    if not isinstance(obj, dict):
        raise SignatureError("the in-toto statement is not a JSON object")
    st_type = obj.get("_type")
    # A string first: a list or object would not even hash for the set lookup.
    if not isinstance(st_type, str) or st_type not in _IN_TOTO_TYPES:
        raise SignatureError(f"unsupported in-toto statement type {st_type!r:.80}")
    subjects_raw = obj.get("subject")
    if not isinstance(subjects_raw, list) or not subjects_raw:
        raise SignatureError("the in-toto statement has no subjects")
    subjects = []
    for s in subjects_raw:
        if not isinstance(s, dict) or not isinstance(s.get("digest"), dict):
            raise SignatureError("malformed in-toto subject")
        name = s.get("name", "")
        digest = s["digest"]
        if not isinstance(name, str) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in digest.items()
        ):
            raise SignatureError("malformed in-toto subject")
        subjects.append((name, dict(digest)))
    predicate_type = obj.get("predicateType", "")
    if not isinstance(predicate_type, str):
        raise SignatureError("malformed in-toto predicateType")
    return Statement(
        type=st_type,
        subjects=tuple(subjects),
        predicate_type=predicate_type,
        predicate=obj.get("predicate"),
    )


def _subject_matches(statement: Statement, artifact: Artifact) -> bool:
    for _, digest in statement.subjects:
        for name, (prefix, _, _) in DIGEST_ALGORITHMS.items():
            have = artifact.digest(name)
            want = digest.get(prefix)
            if have is not None and want is not None and want.lower() == have.hex():
                return True
    return False


def _verify_message_signature(
    bundle: Bundle,
    key: PublicKey,
    signer_der: bytes,
    artifact: Artifact,
    cache: VerifyCache | None,
) -> None:
    ms = bundle.message_signature
    assert ms is not None
    alg = default_hash_for_key(key)
    if ms.message_digest is not None:
        # The digest is an unauthenticated hint, but one that contradicts the
        # artifact means the bundle is not about this artifact.
        hinted = artifact.digest(ms.message_digest.algorithm)
        if hinted is not None and hinted != ms.message_digest.digest:
            raise SignatureError("the bundle's message digest does not match the artifact")
    # Memo keys name the signer by its certificate or key DER; a message by its
    # digest. When the bytes are there, they are what is verified: ECDSA and RSA
    # check the digest of the bytes under the key's hash (``Artifact.from_bytes``
    # computes it once for every step that needs it); Ed25519 signs the bytes
    # themselves.
    data = artifact.data
    if data is not None and key_kind(key) == KIND_ED25519:
        ok = _memo(
            cache,
            ("message", signer_der, artifact.digest_of_data("SHA2_256"), ms.signature),
            lambda: verify_signature(key, ms.signature, message=data),
        )
    else:
        digest = artifact.digest(alg) if data is None else artifact.digest_of_data(alg)
        if digest is None:
            raise SignatureError(f"the signature needs the artifact's {alg} digest")
        ok = _memo(
            cache,
            ("prehashed", signer_der, alg, digest, ms.signature),
            lambda: verify_signature(key, ms.signature, prehashed=digest, hash_algorithm=alg),
        )
    if not ok:
        raise SignatureError("the signature does not verify over the artifact")


def _verify_dsse(
    envelope: Envelope,
    key: PublicKey,
    signer_der: bytes,
    artifact: Artifact | None,
    cache: VerifyCache | None,
) -> Statement | None:
    pae, sig = envelope.pae(), envelope.signatures[0].sig
    if not _memo(
        cache,
        ("message", signer_der, hashlib.sha256(pae).digest(), sig),
        lambda: verify_signature(key, sig, message=pae),
    ):
        raise SignatureError("the DSSE signature does not verify over the envelope")
    if envelope.payload_type == IN_TOTO_PAYLOAD_TYPE:
        statement = parse_statement(envelope.payload)
        if artifact is not None and not _subject_matches(statement, artifact):
            raise SignatureError("no in-toto subject carries the artifact's digest")
        return statement
    if artifact is not None and (
        artifact.digest("SHA2_256") != hashlib.sha256(envelope.payload).digest()
    ):
        raise SignatureError("the DSSE payload is not the artifact")
    return None


# --- the pipeline -----------------------------------------------------------


def verify_bundle(
    bundle: Bundle,
    *,
    artifact: Artifact | None,
    policy: Policy | None,
    trust: TrustMaterial,
    now: datetime,
    key: VerifyingKey | None = None,
    options: VerificationOptions | None = None,
    cache: VerifyCache | None = None,
) -> VerificationResult:
    """Verify a parsed bundle against an artifact, a policy and trust material.

    ``artifact`` may be ``None`` only for DSSE bundles (the envelope is then
    verified without binding it to an artifact). ``policy`` is required for
    certificate-signed bundles; key-signed bundles need ``key``.

    Raises:
        VerificationError: a subclass naming the step that rejected the bundle.
    """
    options = options or VerificationOptions()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if cache is None:
        # A memo for this call alone: nothing runs twice for one bundle (say, the
        # leaf's chain for a TSA time and again for a SET time), nothing outlives it.
        cache = _CallMemo()
    vm = bundle.material
    envelope = bundle.dsse_envelope
    if envelope is None and artifact is None:
        raise SignatureError("a message-signature bundle needs the artifact or its digest")

    # 1. Signing material.
    leaf: _Leaf | None = None
    leaf_der = vm.leaf_certificate
    if leaf_der is None:
        if key is None:
            raise SignatureError(
                "the bundle is signed with a key; a verification key is required",
                path="$.verificationMaterial.publicKey",
            )
        signing_key, signer_der = key.key, _spki(key.key)
    else:
        if key is not None:
            raise CertificateError(
                "the bundle carries a certificate but a verification key was given"
            )
        if policy is None:
            raise TypeError("a policy is required to verify a certificate-signed bundle")
        if vm.x509_certificate_chain is not None:
            for i, c in enumerate(vm.x509_certificate_chain.certificates):
                cert = _memo(
                    cache, ("cert", c.raw_bytes), partial(cx509.load_certificate, c.raw_bytes)
                )
                if cx509.is_self_signed(cert):
                    raise CertificateError(
                        "the bundle carries a root certificate",
                        path=f"$.verificationMaterial.x509CertificateChain.certificates[{i}]",
                    )
        der = leaf_der
        leaf = _memo(cache, ("leaf", der), lambda: _load_leaf(der))
        signing_key, signer_der = leaf.key, leaf_der

    signature = (
        envelope.signatures[0].sig if envelope is not None else bundle.message_signature.signature  # type: ignore[union-attr]
    )

    # 2. Timestamps from trusted TSAs.
    tsa_times = _verify_timestamps(vm.timestamps, signature, trust, cache)

    # 3. Transparency log entries; SETs add verified times.
    entries, set_times = _verify_tlog(
        bundle,
        signature=signature,
        signer_der=signer_der,
        signer_is_certificate=leaf is not None,
        artifact=artifact,
        envelope=envelope,
        trust=trust,
        tsa_times=[t.time for t in tsa_times],
        now=now,
        options=options,
        cache=cache,
    )
    verified_times = [*tsa_times, *set_times]
    for vt in verified_times:
        if vt.time > now + options.max_clock_skew:
            raise TimestampError(f"verified time {vt.time.isoformat()} is in the future")
    if _distinct_sources(verified_times) < options.timestamp_threshold:
        raise TimestampError(
            f"{_distinct_sources(verified_times)} verified times from distinct sources, "
            f"{options.timestamp_threshold} required"
        )
    times = [vt.time for vt in verified_times]

    # 4. Certificate (or key) at every verified time; SCTs.
    if leaf is not None:
        assert leaf_der is not None
        _verify_certificate(leaf_der, leaf, times, trust, options, cache)
        # 5. Identity policy.
        assert policy is not None
        policy.check(leaf.identity)
    else:
        assert key is not None
        if key.valid_for is not None and not all(key.valid_for.contains(t) for t in times):
            raise SignatureError("the verification key is not valid at the verified times")
        if policy is not None:
            raise PolicyError("identity policies apply to certificates, not to keys")

    # 6. The signature over the artifact or the envelope.
    statement = None
    if envelope is not None:
        statement = _verify_dsse(envelope, signing_key, signer_der, artifact, cache)
    else:
        assert artifact is not None
        _verify_message_signature(bundle, signing_key, signer_der, artifact, cache)

    return VerificationResult(
        bundle=bundle,
        identity=leaf.identity.san if leaf else None,
        issuer=leaf.identity.issuer if leaf else None,
        extensions=dict(leaf.identity.extensions) if leaf else {},
        certificate=leaf_der,
        verified_times=tuple(verified_times),
        log_entries=tuple(entries),
        payload_type=envelope.payload_type if envelope else None,
        payload=envelope.payload if envelope else None,
        statement=statement,
    )
