"""From a signature to a bundle, sans-I/O.

Owns: what is signed (a message digest, a DSSE envelope, an in-toto
statement), the proposed transparency log entries (Rekor v1 ``hashedrekord``
and ``dsse`` 0.0.1, Rekor v2 ``hashedrekord`` 0.0.2 with DSSE logged over its
PAE), parsing what the logs answer into :class:`TransparencyLogEntry`, checking
the returned entry against what was submitted (body, inclusion proof,
checkpoint signature, signed entry timestamp), and assembling v0.3 bundles.

Does not own: sending anything (the service clients), keys and certificates
(the ``Signer``), or choosing services (``sign.config``). Pure: time is an
argument; every function takes bytes and models and returns models or raises.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .._core import JSON_ERRORS, Memo, canonical, checkpoint, merkle
from .._core.keys import PublicKey, default_hash_for_key, digest
from ..errors import ServiceError, TransparencyLogError
from ..models._converter import Int64, WireFormatError, structure
from ..models.bundle import (
    MEDIA_TYPE_V03,
    Bundle,
    TimestampVerificationData,
    VerificationMaterial,
)
from ..models.common import (
    HashOutput,
    LogId,
    MessageSignature,
    RFC3161SignedTimestamp,
    X509Certificate,
)
from ..models.dsse import Envelope, Signature
from ..models.rekor import (
    Checkpoint,
    InclusionPromise,
    InclusionProof,
    KindVersion,
    TransparencyLogEntry,
)
from ..trust import LogKey, TrustMaterial
from ..verify._bodies import check_entry_body
from ..verify.artifact import DIGEST_ALGORITHMS, Artifact

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "IN_TOTO_STATEMENT_V1",
    "ProposedEntry",
    "SignedMessage",
    "assemble_bundle",
    "check_log_entry",
    "find_log_key",
    "in_toto_statement",
    "key_details",
    "parse_rekor_v1_entry",
    "parse_rekor_v2_entry",
    "propose_entry",
]

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1"

T = TypeVar("T")

#: How far a log's integrated time may lie ahead of the signer's clock.
MAX_CLOCK_SKEW = timedelta(minutes=1)


# --- what is signed ---------------------------------------------------------


@attrs.frozen
class SignedMessage:
    """A signature over an artifact, with the digest it was made over.

    ``algorithm`` is a Sigstore hash name (``SHA2_256`` ...); the ECDSA
    signature is over that digest (prehashed).
    """

    digest: bytes
    algorithm: str
    signature: bytes

    def artifact(self) -> Artifact:
        return Artifact(digests={self.algorithm: self.digest})


def key_details(key: PublicKey) -> str:
    """The ``PublicKeyDetails`` name of a signing key (protobuf-specs)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "PKIX_ECDSA_P256_SHA_256"
        if isinstance(key.curve, ec.SECP384R1):
            return "PKIX_ECDSA_P384_SHA_384"
        if isinstance(key.curve, ec.SECP521R1):
            return "PKIX_ECDSA_P521_SHA_512"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "PKIX_ED25519"
    raise ValueError(f"unsupported signing key {type(key).__name__}")


def in_toto_statement(
    subjects: Sequence[tuple[str, Mapping[str, str]]],
    predicate_type: str,
    predicate: Mapping[str, Any] | None = None,
) -> bytes:
    """An in-toto v1 statement as compact JSON.

    ``subjects`` are ``(name, {"sha256": hex, ...})`` pairs.

    Raises:
        ValueError: no subjects, a subject without a digest, an empty
            predicate type, or a predicate that is not JSON.
    """
    if not subjects:
        raise ValueError("an in-toto statement needs at least one subject")
    if not predicate_type:
        raise ValueError("an in-toto statement needs a predicate type")
    out_subjects = []
    for name, digests in subjects:
        if not digests:
            raise ValueError(f"subject {name!r} has no digest")
        out_subjects.append({"name": name, "digest": dict(digests)})
    statement: dict[str, Any] = {
        "_type": IN_TOTO_STATEMENT_V1,
        "subject": out_subjects,
        "predicateType": predicate_type,
    }
    if predicate is not None:
        statement["predicate"] = dict(predicate)
    try:
        return json.dumps(statement, separators=(",", ":"), sort_keys=True).encode()
    except (TypeError, ValueError) as e:
        raise ValueError(f"the predicate is not JSON: {e}") from e


# --- proposed log entries ---------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _pem(der: bytes) -> bytes:
    text = _b64(der)
    lines = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n".encode()


@attrs.frozen
class ProposedEntry:
    """A log entry to submit, and everything needed to check what comes back."""

    #: Rekor API major version (1 or 2).
    rekor_version: int
    #: The kind and version the log should record.
    kind: str
    version: str
    #: The request body to POST.
    request: Mapping[str, Any]
    #: The signature bytes (message signature or the DSSE signature).
    signature: bytes
    #: DER of the signing certificate.
    certificate: bytes
    message: SignedMessage | None = None
    envelope: Envelope | None = None


def propose_entry(
    content: SignedMessage | Envelope,
    *,
    certificate: bytes,
    key: PublicKey,
    rekor_version: int,
) -> ProposedEntry:
    """The entry to submit for ``content`` to a Rekor of ``rekor_version``.

    Rekor v1: ``hashedrekord`` 0.0.1 for a message signature, ``dsse`` 0.0.1
    for an envelope. Rekor v2: ``hashedrekord`` 0.0.2; an envelope is logged as
    a hashedrekord over its PAE, hashed with the key's hash.

    Raises:
        ValueError: an unsupported Rekor version or key, or an envelope
            without exactly one signature.
    """
    if isinstance(content, Envelope):
        if len(content.signatures) != 1:
            raise ValueError("a DSSE envelope to log must carry exactly one signature")
        signature = content.signatures[0].sig
    else:
        signature = content.signature
    if rekor_version == 1:
        if isinstance(content, Envelope):
            envelope_json = json.dumps(
                {
                    "payload": _b64(content.payload),
                    "payloadType": content.payload_type,
                    "signatures": [{"sig": _b64(signature)}],
                },
                separators=(",", ":"),
            )
            request: dict[str, Any] = {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "proposedContent": {
                        "envelope": envelope_json,
                        "verifiers": [_b64(_pem(certificate))],
                    }
                },
            }
            return ProposedEntry(1, "dsse", "0.0.1", request, signature, certificate, None, content)
        prefix = DIGEST_ALGORITHMS[content.algorithm][0]
        request = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": prefix, "value": content.digest.hex()}},
                "signature": {
                    "content": _b64(signature),
                    "publicKey": {"content": _b64(_pem(certificate))},
                },
            },
        }
        return ProposedEntry(1, "hashedrekord", "0.0.1", request, signature, certificate, content)
    if rekor_version == 2:
        details = key_details(key)
        if isinstance(content, Envelope):
            # Rekor v2 logs DSSE as a hashedrekord over the PAE (rekor-v2 spec 6.1.4).
            entry_digest = digest(content.pae(), default_hash_for_key(key))
        else:
            entry_digest = content.digest
        request = {
            "hashedRekordRequestV002": {
                "digest": _b64(entry_digest),
                "signature": {
                    "content": _b64(signature),
                    "verifier": {
                        "x509Certificate": {"rawBytes": _b64(certificate)},
                        "keyDetails": details,
                    },
                },
            }
        }
        return ProposedEntry(
            2,
            "hashedrekord",
            "0.0.2",
            request,
            signature,
            certificate,
            content if isinstance(content, SignedMessage) else None,
            content if isinstance(content, Envelope) else None,
        )
    raise ValueError(f"unsupported Rekor API version {rekor_version}")


# --- log responses ----------------------------------------------------------


def _bad_response(service: str, what: str) -> ServiceError:
    return ServiceError(f"{service} returned an unusable entry: {what}", service=service)


def _hex(value: object, what: str, service: str) -> bytes:
    if not isinstance(value, str):
        raise _bad_response(service, f"{what} is not a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as e:
        raise _bad_response(service, f"{what} is not hex") from e


def _int(value: object, what: str, service: str) -> Int64:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad_response(service, f"{what} is not a non-negative integer")
    return Int64(value)


def parse_rekor_v1_entry(response: object, *, service: str = "rekor") -> TransparencyLogEntry:
    """Parse a Rekor v1 ``LogEntry`` response (``{uuid: {body, integratedTime,
    logID, logIndex, verification}}``) into the bundle's entry model.

    Raises:
        ServiceError: the response is not a single well-formed entry.
    """
    if not isinstance(response, dict) or len(response) != 1:
        raise _bad_response(service, "expected exactly one entry")
    (raw,) = response.values()
    if not isinstance(raw, dict):
        raise _bad_response(service, "the entry is not an object")
    try:
        body = base64.b64decode(raw.get("body", ""), validate=True)
    except (binascii.Error, TypeError, ValueError) as e:
        raise _bad_response(service, "body is not base64") from e
    try:
        parsed = json.loads(body)
        kind, version = parsed["kind"], parsed["apiVersion"]
    except (*JSON_ERRORS, KeyError, TypeError) as e:
        raise _bad_response(service, "body is not a Rekor entry") from e
    if not isinstance(kind, str) or not isinstance(version, str):
        raise _bad_response(service, "body kind or apiVersion is not a string")
    verification = raw.get("verification")
    if not isinstance(verification, dict):
        raise _bad_response(service, "no verification")
    proof_raw = verification.get("inclusionProof")
    if not isinstance(proof_raw, dict):
        raise _bad_response(service, "no inclusion proof")
    hashes = proof_raw.get("hashes", [])
    if not isinstance(hashes, list):
        raise _bad_response(service, "inclusion proof hashes is not a list")
    set_b64 = verification.get("signedEntryTimestamp")
    try:
        signed_entry_timestamp = base64.b64decode(set_b64 or "", validate=True)
    except (binascii.Error, TypeError, ValueError) as e:
        raise _bad_response(service, "signedEntryTimestamp is not base64") from e
    envelope = proof_raw.get("checkpoint")
    if not isinstance(envelope, str):
        raise _bad_response(service, "checkpoint is not a string")
    return TransparencyLogEntry(
        log_index=_int(raw.get("logIndex"), "logIndex", service),
        log_id=LogId(key_id=_hex(raw.get("logID"), "logID", service)),
        kind_version=KindVersion(kind=kind, version=version),
        integrated_time=_int(raw.get("integratedTime"), "integratedTime", service),
        inclusion_promise=(
            InclusionPromise(signed_entry_timestamp=signed_entry_timestamp)
            if signed_entry_timestamp
            else None
        ),
        inclusion_proof=InclusionProof(
            log_index=_int(proof_raw.get("logIndex"), "inclusionProof.logIndex", service),
            root_hash=_hex(proof_raw.get("rootHash"), "rootHash", service),
            tree_size=_int(proof_raw.get("treeSize"), "treeSize", service),
            hashes=tuple(_hex(h, "inclusion proof hash", service) for h in hashes),
            checkpoint=Checkpoint(envelope=envelope),
        ),
        canonicalized_body=body,
    )


def parse_rekor_v2_entry(response: object, *, service: str = "rekor") -> TransparencyLogEntry:
    """Parse a Rekor v2 response: a ``TransparencyLogEntry`` in protobuf-JSON.

    Raises:
        ServiceError: the response is not a well-formed entry.
    """
    try:
        entry = structure(response, TransparencyLogEntry)
    except WireFormatError as e:
        raise _bad_response(service, str(e)) from e
    except RecursionError as e:
        raise _bad_response(service, "nested too deeply") from e
    if entry.kind_version is None or entry.log_id is None or not entry.canonicalized_body:
        raise _bad_response(service, "missing kindVersion, logId or canonicalizedBody")
    return entry


# --- checking what the log returned ----------------------------------------


def _norm_url(url: str) -> str:
    return url.rstrip("/")


def find_log_key(trust: TrustMaterial, *, log_id: bytes, base_url: str, at: datetime) -> LogKey:
    """The trusted key of the log at ``base_url`` with this id, valid at ``at``.

    Raises:
        TransparencyLogError: the id is not a trusted log, belongs to another
            log than the one submitted to, or its key is not valid at ``at``.
    """
    keys = trust.tlog_keys(log_id)
    if not keys:
        raise TransparencyLogError(f"the entry names log {log_id.hex()}, not in the trusted root")
    same = [k for k in keys if _norm_url(k.base_url) == _norm_url(base_url)]
    if not same:
        raise TransparencyLogError(
            f"the entry names log {log_id.hex()} ({keys[0].base_url}), "
            f"but it was submitted to {base_url}"
        )
    for k in same:
        # DESIGN: a log key without a validity start is unusable.
        if k.valid_for.start is not None and k.valid_at(at):
            return k
    raise TransparencyLogError(f"the key of log {base_url} is not valid at {at.isoformat()}")


def check_log_entry(
    entry: TransparencyLogEntry,
    proposed: ProposedEntry,
    *,
    trust: TrustMaterial,
    base_url: str,
    now: datetime,
    memo: Memo[checkpoint.Checkpoint] | None = None,
) -> TransparencyLogEntry:
    """Check that ``entry`` is what was submitted to the log at ``base_url``,
    included in a tree whose checkpoint that log signed.

    ``memo(key, compute)``, if given, memoises checkpoint signature checks
    (a Rekor v2 batch shares one checkpoint); ``VerifyCache.get`` is one.

    Checks, in order: the kind and version; the body against the submitted
    signature, certificate and digest (or envelope); the log's identity; for
    Rekor v1 the signed entry timestamp and that the integrated time is not in
    the future; the inclusion proof up to the checkpoint's root; the
    checkpoint's signature by the log's key.

    Returns the entry unchanged, so that callers can write
    ``entries.append(check_log_entry(...))``.

    Raises:
        TransparencyLogError: anything differs or does not verify.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    kv = entry.kind_version
    if kv is None or (kv.kind, kv.version) != (proposed.kind, proposed.version):
        got = f"{kv.kind} {kv.version}" if kv else "nothing"
        raise TransparencyLogError(
            f"the log recorded {got}, {proposed.kind} {proposed.version} was submitted"
        )
    check_entry_body(
        entry,
        signature=proposed.signature,
        signer_der=proposed.certificate,
        signer_is_certificate=True,
        artifact=proposed.message.artifact() if proposed.message is not None else None,
        envelope=proposed.envelope,
    )
    if entry.log_id is None:
        raise TransparencyLogError("the entry has no log id")
    log_id = entry.log_id.key_id
    at = now
    if proposed.rekor_version == 1:
        if entry.integrated_time <= 0:
            raise TransparencyLogError("a Rekor v1 entry without an integrated time")
        at = canonical.integrated_time(entry.integrated_time, latest=now + MAX_CLOCK_SKEW)
    key = find_log_key(trust, log_id=log_id, base_url=base_url, at=at)
    if proposed.rekor_version == 1:
        if entry.inclusion_promise is None:
            raise TransparencyLogError("a Rekor v1 entry without a signed entry timestamp")
        canonical.verify_set(
            key=key.key,
            signed_entry_timestamp=entry.inclusion_promise.signed_entry_timestamp,
            body=entry.canonicalized_body,
            integrated_time=entry.integrated_time,
            log_index=entry.log_index,
            log_id=log_id,
        )
    proof = entry.inclusion_proof
    if proof is None or proof.checkpoint is None or not proof.checkpoint.envelope:
        raise TransparencyLogError("the entry has no inclusion proof with a checkpoint")
    merkle.verify_inclusion(
        leaf_hash=merkle.leaf_hash(entry.canonicalized_body),
        index=proof.log_index,
        tree_size=proof.tree_size,
        proof=proof.hashes,
        root_hash=proof.root_hash,
    )
    envelope = proof.checkpoint.envelope

    def verify() -> checkpoint.Checkpoint:
        return checkpoint.verify_checkpoint(envelope, key=key.key, key_id=key.key_id, name=key.name)

    memo_key = ("log checkpoint", trust.fingerprint, key.key_id, key.name, envelope)
    cp = memo(memo_key, verify) if memo is not None else verify()
    if cp.tree_size != proof.tree_size or cp.root_hash != proof.root_hash:
        raise TransparencyLogError("the checkpoint does not commit to the inclusion proof's tree")
    return entry


# --- bundles ----------------------------------------------------------------


def assemble_bundle(
    content: SignedMessage | Envelope,
    *,
    certificate: bytes,
    entries: Sequence[TransparencyLogEntry],
    timestamps: Sequence[bytes] = (),
) -> Bundle:
    """A v0.3 bundle with the leaf certificate alone.

    ``timestamps`` are DER ``TimeStampResp`` values.

    Raises:
        InvalidBundle: the parts do not make a well-formed bundle (a bug in
            the caller: every part has been checked by then).
    """
    tvd = (
        TimestampVerificationData(
            rfc3161_timestamps=tuple(RFC3161SignedTimestamp(t) for t in timestamps)
        )
        if timestamps
        else None
    )
    material = VerificationMaterial(
        certificate=X509Certificate(raw_bytes=certificate),
        tlog_entries=tuple(entries),
        timestamp_verification_data=tvd,
    )
    if isinstance(content, Envelope):
        bundle = Bundle(
            media_type=MEDIA_TYPE_V03,
            verification_material=material,
            dsse_envelope=Envelope(
                payload=content.payload,
                payload_type=content.payload_type,
                signatures=tuple(Signature(sig=s.sig) for s in content.signatures),
            ),
        )
    else:
        bundle = Bundle(
            media_type=MEDIA_TYPE_V03,
            verification_material=material,
            message_signature=MessageSignature(
                message_digest=HashOutput(algorithm=content.algorithm, digest=content.digest),
                signature=content.signature,
            ),
        )
    # Round-trip through the wire format: what is returned is exactly what
    # Bundle.from_json reads back, invariants checked.
    return Bundle.from_dict(bundle.to_dict())
