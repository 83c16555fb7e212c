"""Sigstore bundles, v0.1 to v0.3 (``dev.sigstore.bundle.v1``).

Owns: the bundle model, parsing from protobuf-JSON and binary protobuf, and the
invariants of each bundle version that span fields (exactly one content, exactly
one kind of verification material, what each version requires of its log
entries). What the model holds after ``from_json`` is structurally sound;
whether it *verifies* is the verifier's question. No I/O.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import attrs

from .._core import JSON_ERRORS
from ..errors import InvalidBundle
from ._converter import WireFormatError, structure, unstructure
from .common import (
    HASH_ALGORITHMS,
    MessageSignature,
    PublicKeyIdentifier,
    RFC3161SignedTimestamp,
    X509Certificate,
    X509CertificateChain,
)
from .dsse import Envelope
from .rekor import TransparencyLogEntry

__all__ = [
    "MAX_TIMESTAMPS",
    "MAX_TLOG_ENTRIES",
    "Bundle",
    "BundleVersion",
    "TimestampVerificationData",
    "VerificationMaterial",
]

BundleVersion = Literal["0.1", "0.2", "0.3"]

#: Caps on what one bundle may carry (DESIGN: at most 32 of each are read).
MAX_TLOG_ENTRIES = 32
MAX_TIMESTAMPS = 32

_MEDIA_TYPES: dict[str, BundleVersion] = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": "0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2": "0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3": "0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "0.3",
}
MEDIA_TYPE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"


@attrs.frozen
class TimestampVerificationData:
    rfc3161_timestamps: tuple[RFC3161SignedTimestamp, ...] = ()


@attrs.frozen
class VerificationMaterial:
    """The key or certificate, log entries and timestamps of a bundle.

    Exactly one of ``public_key``, ``x509_certificate_chain`` and
    ``certificate`` is set once the bundle has been parsed.
    """

    public_key: PublicKeyIdentifier | None = None
    x509_certificate_chain: X509CertificateChain | None = None
    certificate: X509Certificate | None = None
    tlog_entries: tuple[TransparencyLogEntry, ...] = ()
    timestamp_verification_data: TimestampVerificationData | None = None

    @property
    def leaf_certificate(self) -> bytes | None:
        """DER of the signing certificate, or ``None`` for a key-signed bundle."""
        if self.certificate is not None:
            return self.certificate.raw_bytes
        if self.x509_certificate_chain is not None:
            return self.x509_certificate_chain.certificates[0].raw_bytes
        return None

    @property
    def timestamps(self) -> tuple[bytes, ...]:
        """The DER RFC 3161 responses carried by the bundle."""
        if self.timestamp_verification_data is None:
            return ()
        return tuple(
            t.signed_timestamp for t in self.timestamp_verification_data.rfc3161_timestamps
        )


@attrs.frozen
class Bundle:
    """A Sigstore bundle: a signature or DSSE envelope plus the evidence for it.

    Build one with :meth:`from_json`, :meth:`from_dict` or :meth:`from_protobuf`;
    they raise :class:`~sigstore_async.errors.InvalidBundle` naming the bad
    field.
    """

    media_type: str = ""
    verification_material: VerificationMaterial | None = None
    message_signature: MessageSignature | None = None
    dsse_envelope: Envelope | None = None

    @property
    def version(self) -> BundleVersion:
        return _MEDIA_TYPES[self.media_type]

    @property
    def material(self) -> VerificationMaterial:
        """The verification material (always set on a parsed bundle)."""
        assert self.verification_material is not None
        return self.verification_material

    # --- reading -----------------------------------------------------------

    @classmethod
    def from_json(cls, data: str | bytes) -> Bundle:
        """Parse a bundle from its protobuf-JSON text.

        Raises:
            InvalidBundle: the text is not JSON, or not a well-formed bundle.
        """
        try:
            obj = json.loads(data)
        except JSON_ERRORS as e:
            raise InvalidBundle(f"not valid JSON: {e}", path="$") from e
        return cls.from_dict(obj)

    @classmethod
    def from_dict(cls, data: object) -> Bundle:
        """Parse a bundle from a decoded protobuf-JSON object.

        Raises:
            InvalidBundle: the object is not a well-formed bundle.
        """
        try:
            bundle = structure(data, cls)
        except WireFormatError as e:
            raise InvalidBundle(e.message, path=e.path) from e
        except RecursionError as e:
            raise InvalidBundle("bundle nested too deeply", path="$") from e
        bundle._check()
        return bundle

    @classmethod
    def from_protobuf(cls, data: bytes) -> Bundle:
        """Parse a bundle from its binary protobuf encoding.

        Raises:
            InvalidBundle: the bytes are not a well-formed bundle.
        """
        from ._protobuf import bundle_binary_to_json

        try:
            obj = bundle_binary_to_json(data)
        except ValueError as e:
            raise InvalidBundle(f"invalid protobuf encoding: {e}", path="$") from e
        return cls.from_dict(obj)

    # --- writing -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The canonical protobuf-JSON object of this bundle.

        One departure from canonical form: a log entry's ``logIndex`` and its
        inclusion proof's ``logIndex`` and ``hashes`` are written even when
        zero or empty (the first entry of a log, a tree of one leaf).
        protobuf-specs marks them required and sigstore-python 4.5 rejects
        bundles that omit them; readers of canonical JSON accept both.
        """
        out: dict[str, Any] = unstructure(self)
        for entry in out.get("verificationMaterial", {}).get("tlogEntries", []):
            entry.setdefault("logIndex", "0")
            proof = entry.get("inclusionProof")
            if proof is not None:
                proof.setdefault("logIndex", "0")
                proof.setdefault("hashes", [])
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        """The canonical protobuf-JSON text of this bundle."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_protobuf(self) -> bytes:
        """The binary protobuf encoding of this bundle.

        Raises:
            InvalidBundle: a field holds a value protobuf cannot encode (an enum
                name the schema does not have, say); possible only for a bundle
                built by hand, as :meth:`from_json` and :meth:`from_dict` refuse them.
        """
        from ._protobuf import bundle_json_to_binary

        try:
            return bundle_json_to_binary(self.to_dict())
        except ValueError as e:
            # Only a bundle built by hand, not one read by from_json, gets here.
            raise InvalidBundle(f"no protobuf encoding: {e}", path="$") from e

    # --- invariants --------------------------------------------------------

    def _check(self) -> None:
        if self.media_type not in _MEDIA_TYPES:
            raise InvalidBundle(
                f"unsupported bundle media type {self.media_type!r:.80}", path="$.mediaType"
            )
        version = _MEDIA_TYPES[self.media_type]
        vm = self.verification_material
        if vm is None:
            raise InvalidBundle("missing verification material", path="$.verificationMaterial")
        _check_material(vm, version)
        if (self.message_signature is None) == (self.dsse_envelope is None):
            raise InvalidBundle(
                "exactly one of messageSignature and dsseEnvelope must be set", path="$"
            )
        if self.message_signature is not None:
            if not self.message_signature.signature:
                raise InvalidBundle("empty signature", path="$.messageSignature.signature")
            md = self.message_signature.message_digest
            if md is not None:
                if not md.digest or md.algorithm in ("", "HASH_ALGORITHM_UNSPECIFIED"):
                    raise InvalidBundle(
                        "message digest without algorithm or value",
                        path="$.messageSignature.messageDigest",
                    )
                if md.algorithm not in HASH_ALGORITHMS:
                    # protobuf-JSON: an enum is one of its names; a name the schema
                    # does not have is malformed (and has no binary encoding).
                    raise InvalidBundle(
                        f"unknown hash algorithm {md.algorithm!r:.40}",
                        path="$.messageSignature.messageDigest.algorithm",
                    )
        if self.dsse_envelope is not None:
            env = self.dsse_envelope
            if not env.payload_type:
                raise InvalidBundle("empty payload type", path="$.dsseEnvelope.payloadType")
            if len(env.signatures) != 1:
                raise InvalidBundle(
                    f"DSSE envelope must carry exactly one signature, has {len(env.signatures)}",
                    path="$.dsseEnvelope.signatures",
                )
            if not env.signatures[0].sig:
                raise InvalidBundle("empty signature", path="$.dsseEnvelope.signatures[0].sig")


def _check_material(vm: VerificationMaterial, version: BundleVersion) -> None:
    base = "$.verificationMaterial"
    kinds = [
        k
        for k, v in (
            ("publicKey", vm.public_key),
            ("x509CertificateChain", vm.x509_certificate_chain),
            ("certificate", vm.certificate),
        )
        if v is not None
    ]
    if len(kinds) != 1:
        raise InvalidBundle(
            "exactly one of publicKey, x509CertificateChain and certificate must be set",
            path=base,
        )
    if vm.x509_certificate_chain is not None:
        if version == "0.3":
            # Client spec: v0.3 bundles carry the leaf alone, in `certificate`.
            raise InvalidBundle(
                "a v0.3 bundle must carry a single certificate, not a chain",
                path=f"{base}.x509CertificateChain",
            )
        if not vm.x509_certificate_chain.certificates:
            raise InvalidBundle(
                "empty certificate chain", path=f"{base}.x509CertificateChain.certificates"
            )
        for i, c in enumerate(vm.x509_certificate_chain.certificates):
            if not c.raw_bytes:
                raise InvalidBundle(
                    "empty certificate", path=f"{base}.x509CertificateChain.certificates[{i}]"
                )
    if vm.certificate is not None and not vm.certificate.raw_bytes:
        raise InvalidBundle("empty certificate", path=f"{base}.certificate.rawBytes")

    if len(vm.tlog_entries) > MAX_TLOG_ENTRIES:
        raise InvalidBundle(
            f"more than {MAX_TLOG_ENTRIES} transparency log entries", path=f"{base}.tlogEntries"
        )
    if len(vm.timestamps) > MAX_TIMESTAMPS:
        raise InvalidBundle(
            f"more than {MAX_TIMESTAMPS} timestamps",
            path=f"{base}.timestampVerificationData.rfc3161Timestamps",
        )
    for i, ts in enumerate(vm.timestamps):
        if not ts:
            raise InvalidBundle(
                "empty timestamp",
                path=f"{base}.timestampVerificationData.rfc3161Timestamps[{i}]",
            )
    for i, entry in enumerate(vm.tlog_entries):
        _check_entry(entry, version, f"{base}.tlogEntries[{i}]")


def _check_entry(entry: TransparencyLogEntry, version: BundleVersion, path: str) -> None:
    if entry.log_index < 0:
        raise InvalidBundle("negative log index", path=f"{path}.logIndex")
    if entry.integrated_time < 0:
        raise InvalidBundle("negative integrated time", path=f"{path}.integratedTime")
    if entry.log_id is None or not entry.log_id.key_id:
        raise InvalidBundle("missing log id", path=f"{path}.logId")
    kv = entry.kind_version
    if kv is None or not kv.kind or not kv.version:
        raise InvalidBundle("missing kind and version", path=f"{path}.kindVersion")
    if not entry.canonicalized_body:
        raise InvalidBundle("missing canonicalized body", path=f"{path}.canonicalizedBody")
    if version == "0.1" and entry.inclusion_promise is None:
        # Client spec: v0.1 bundles prove inclusion with a signed entry timestamp.
        raise InvalidBundle("a v0.1 bundle entry needs an inclusion promise", path=path)
    if entry.inclusion_promise is not None and not entry.inclusion_promise.signed_entry_timestamp:
        raise InvalidBundle("empty signed entry timestamp", path=f"{path}.inclusionPromise")
    proof = entry.inclusion_proof
    if version != "0.1" and proof is None:
        # Client spec: v0.2 and later bundles must carry an inclusion proof.
        raise InvalidBundle(
            f"a v{version} bundle entry needs an inclusion proof", path=f"{path}.inclusionProof"
        )
    if proof is not None:
        ppath = f"{path}.inclusionProof"
        if proof.log_index < 0 or proof.tree_size < 0:
            raise InvalidBundle("negative index or tree size", path=ppath)
        if version != "0.1" and (proof.checkpoint is None or not proof.checkpoint.envelope):
            raise InvalidBundle("inclusion proof without a checkpoint", path=f"{ppath}.checkpoint")
        if len(proof.root_hash) != 32:
            raise InvalidBundle("root hash must be 32 bytes", path=f"{ppath}.rootHash")
        for j, h in enumerate(proof.hashes):
            if len(h) != 32:
                raise InvalidBundle("proof hash must be 32 bytes", path=f"{ppath}.hashes[{j}]")
