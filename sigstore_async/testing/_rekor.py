"""LocalSigstore's transparency logs: Rekor v1 and Rekor v2.

Owns: the two logs' HTTP APIs, checking proposed entries as Rekor does (the
signature must verify with the given certificate or key), canonicalizing
entry bodies (RFC 8785), the append-only RFC 6962 trees, signed entry
timestamps (v1), inclusion and consistency proofs, and checkpoints as signed
notes.

Rekor v1 (``/api/v1``): ``hashedrekord`` and ``dsse`` 0.0.1 entries, answered
at once with an integrated time, a SET and an inclusion proof; a duplicate is
a 409 whose ``Location`` names the existing entry. Its checkpoints are signed
with ECDSA P-256 under the name ``host[:port]``, origin ``<name> - <tree id>``,
key hint the first four bytes of the log id (SHA-256 of the DER key).

Rekor v2 (``/api/v2``): ``hashedRekordRequestV002`` and ``dsseRequestV002``
requests, integrated in batches on an interval; a request is answered once its
batch is in the tree, with an inclusion proof and an Ed25519 checkpoint
(origin and name ``host[:port]``, key id per signed-note), and no integrated
time. DSSE is logged as a ``hashedrekord`` 0.0.2 over the envelope's PAE,
which is how sigstore-python 4.5 submits it and how this project verifies it
(DESIGN.md). A duplicate is answered with the existing entry.

Does not own: keys (``_pki``), faults (``_faults``), persistence (``_state``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .._core import JSON_ERRORS, canonical, checkpoint, merkle
from .._core.keys import PublicKey, as_public_key, verify_signature
from .._core.x509 import PARSE_ERRORS
from .._time import Clock
from ..models._converter import Int64, unstructure
from ..models.common import LogId
from ..models.dsse import pae
from ..models.rekor import Checkpoint, InclusionProof, KindVersion, TransparencyLogEntry
from ._faults import Adversary, Faults
from ._http import HTTPError, Request, Response, Route, bad_request
from ._pki import InstanceKeys, key_id
from ._state import StateStore

__all__ = ["RekorV1", "RekorV2"]

#: hashedrekord 0.0.1 hash names: (Sigstore name, digest size).
_V1_HASHES = {"sha256": ("SHA2_256", 32), "sha384": ("SHA2_384", 48), "sha512": ("SHA2_512", 64)}
#: Rekor v2 key details: the hash their signatures use.
_KEY_DETAILS_HASH = {
    "PKIX_ECDSA_P256_SHA_256": "SHA2_256",
    "PKIX_ECDSA_P384_SHA_384": "SHA2_384",
    "PKIX_ECDSA_P521_SHA_512": "SHA2_512",
    "PKIX_RSA_PKCS1V15_2048_SHA256": "SHA2_256",
    "PKIX_RSA_PKCS1V15_3072_SHA256": "SHA2_256",
    "PKIX_RSA_PKCS1V15_4096_SHA256": "SHA2_256",
}
_KEY_DETAILS_CURVE: dict[str, type[ec.EllipticCurve]] = {
    "PKIX_ECDSA_P256_SHA_256": ec.SECP256R1,
    "PKIX_ECDSA_P384_SHA_384": ec.SECP384R1,
    "PKIX_ECDSA_P521_SHA_512": ec.SECP521R1,
}
_HASHLIB = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise bad_request(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as e:  # binascii.Error, or non-ASCII text
        raise bad_request(f"{what} is not valid base64") from e


def _field(obj: object, *path: str) -> Any:
    for name in path:
        if not isinstance(obj, dict) or name not in obj:
            raise bad_request(f"missing field {'.'.join(path)}")
        obj = obj[name]
    return obj


def _tamper(signature_b64: str) -> str:
    """Another valid-looking signature: the adversarial 'body mismatch' mode."""
    raw = bytearray(base64.b64decode(signature_b64))
    raw[-1] ^= 0x01
    return _b64(bytes(raw))


def _pem_signer(pem: bytes, what: str) -> PublicKey:
    """A key from a PEM certificate or PEM public key, as Rekor v1 accepts them."""
    try:
        if b"CERTIFICATE" in pem:
            return as_public_key(x509.load_pem_x509_certificate(pem).public_key())
        return as_public_key(serialization.load_pem_public_key(pem))
    except PARSE_ERRORS as e:
        raise bad_request(f"{what} is not a PEM certificate or public key: {e}") from e


def _name_of(url: str) -> str:
    return urlsplit(url).netloc or url


@attrs.define
class _Tree:
    """An append-only log: leaves, their bodies and integration times."""

    tree: merkle.MerkleTree = attrs.field(factory=merkle.MerkleTree)
    bodies: list[bytes] = attrs.field(factory=list)
    times: list[int] = attrs.field(factory=list)
    by_leaf: dict[bytes, int] = attrs.field(factory=dict)

    def append(self, body: bytes, integrated_time: int) -> int:
        index = self.tree.append(body)
        self.bodies.append(body)
        self.times.append(integrated_time)
        self.by_leaf[merkle.leaf_hash(body)] = index
        return index

    @property
    def size(self) -> int:
        return self.tree.size


def _proof_hashes(tree: merkle.MerkleTree, index: int, size: int, faults: Faults) -> list[bytes]:
    hashes = tree.inclusion_proof(index, size)
    if faults.active(Adversary.WRONG_INCLUSION_PROOF):
        if hashes:
            hashes[0] = bytes([hashes[0][0] ^ 0x01]) + hashes[0][1:]
        else:
            hashes.append(hashlib.sha256(b"not a sibling").digest())
    return hashes


class RekorV1:
    """Rekor's v1 REST API over one log shard."""

    def __init__(
        self,
        keys: InstanceKeys,
        *,
        url: Callable[[], str],
        clock: Clock,
        faults: Faults,
        store: StateStore,
        tree_id: int,
    ) -> None:
        self._keys = keys
        self._url = url
        self._clock = clock
        self._faults = faults
        self._store = store
        self.tree_id = tree_id
        self.log = _Tree()
        self._lock = anyio.Lock()
        self._index: dict[str, list[int]] = {}
        self.log_id = key_id(keys.rekor_key.public_key())

    @property
    def url(self) -> str:
        return self._url()

    @property
    def name(self) -> str:
        return _name_of(self.url)

    def load(self, entries: list[tuple[bytes, int]]) -> None:
        for body, t in entries:
            index = self.log.append(body, t)
            self._index_entry(index, body)

    # --- proposed entries ----------------------------------------------------------------------

    def _canonical_hashedrekord(self, spec: Any) -> tuple[dict[str, Any], list[str]]:
        algorithm = _field(spec, "data", "hash", "algorithm")
        value = _field(spec, "data", "hash", "value")
        if algorithm not in _V1_HASHES:
            raise bad_request(f"unsupported hash algorithm {algorithm!r}")
        name, size = _V1_HASHES[algorithm]
        try:
            digest = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError as e:
            raise bad_request("data.hash.value is not hex") from e
        if len(digest) != size:
            raise bad_request(f"data.hash.value must be {size} bytes of {algorithm}")
        signature = _unb64(_field(spec, "signature", "content"), "signature.content")
        pem = _unb64(_field(spec, "signature", "publicKey", "content"), "publicKey.content")
        key = _pem_signer(pem, "signature.publicKey.content")
        if not verify_signature(key, signature, prehashed=digest, hash_algorithm=name):
            raise bad_request("the signature does not verify over the digest with the given key")
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": algorithm, "value": digest.hex()}},
                "signature": {"content": _b64(signature), "publicKey": {"content": _b64(pem)}},
            },
        }
        if self._faults.active(Adversary.ENTRY_BODY_MISMATCH):
            sig = body["spec"]["signature"]  # type: ignore[index]
            sig["content"] = _tamper(sig["content"])
        return body, [f"{algorithm}:{digest.hex()}"]

    def _canonical_dsse(self, spec: Any) -> tuple[dict[str, Any], list[str]]:
        envelope_text = _field(spec, "proposedContent", "envelope")
        verifiers = _field(spec, "proposedContent", "verifiers")
        if not isinstance(envelope_text, str):
            raise bad_request("proposedContent.envelope must be a JSON string")
        if not isinstance(verifiers, list) or not verifiers:
            raise bad_request("proposedContent.verifiers must be a non-empty list")
        try:
            envelope = json.loads(envelope_text)
        except JSON_ERRORS as e:
            raise bad_request("proposedContent.envelope is not JSON") from e
        payload_type = _field(envelope, "payloadType")
        if not isinstance(payload_type, str):
            raise bad_request("envelope.payloadType must be a string")
        payload = _unb64(_field(envelope, "payload"), "envelope.payload")
        signatures = _field(envelope, "signatures")
        if not isinstance(signatures, list) or not signatures:
            raise bad_request("the envelope has no signatures")
        keys = [
            (pem, _pem_signer(pem, "verifier"))
            for pem in (_unb64(v, "proposedContent.verifiers[]") for v in verifiers)
        ]
        message = pae(payload_type, payload)
        logged = []
        for i, entry in enumerate(signatures):
            sig = _unb64(_field(entry, "sig"), f"envelope.signatures[{i}].sig")
            for pem, key in keys:
                if verify_signature(key, sig, message=message):
                    logged.append({"signature": _b64(sig), "verifier": _b64(pem)})
                    break
            else:
                raise bad_request(f"envelope signature {i} does not verify with any verifier")
        if self._faults.active(Adversary.ENTRY_BODY_MISMATCH):
            logged[0]["signature"] = _tamper(logged[0]["signature"])
        envelope_hash = hashlib.sha256(envelope_text.encode()).hexdigest()
        payload_hash = hashlib.sha256(payload).hexdigest()
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": envelope_hash},
                "payloadHash": {"algorithm": "sha256", "value": payload_hash},
                # Rekor sorts them by their base64 signature.
                "signatures": sorted(logged, key=lambda s: s["signature"]),
            },
        }
        return body, [f"sha256:{payload_hash}", f"sha256:{envelope_hash}"]

    def canonicalize(self, proposed: object) -> tuple[bytes, list[str]]:
        """Check a proposed entry; return its canonical body and index keys.

        Raises:
            HTTPError: 400 for an unsupported kind or an entry that does not verify.
        """
        kind = _field(proposed, "kind")
        version = _field(proposed, "apiVersion")
        spec = _field(proposed, "spec")
        if (kind, version) == ("hashedrekord", "0.0.1"):
            body, keys = self._canonical_hashedrekord(spec)
        elif (kind, version) == ("dsse", "0.0.1"):
            body, keys = self._canonical_dsse(spec)
        else:
            raise bad_request(f"unsupported entry kind {kind!r} version {version!r}")
        return canonical.canonicalize(body), keys

    def _index_entry(self, index: int, body: bytes) -> None:
        try:
            obj = json.loads(body)
            spec = obj["spec"]
            if obj["kind"] == "hashedrekord":
                h = spec["data"]["hash"]
                keys = [f"{h['algorithm']}:{h['value']}"]
            else:
                keys = [
                    f"sha256:{spec['payloadHash']['value']}",
                    f"sha256:{spec['envelopeHash']['value']}",
                ]
        except (ValueError, KeyError, TypeError):
            return
        for k in keys:
            self._index.setdefault(k, []).append(index)

    # --- responses -------------------------------------------------------------------------------

    def entry_uuid(self, index: int) -> str:
        """The entry id: the tree id as 16 hex digits, then the leaf hash."""
        return f"{self.tree_id:016x}" + merkle.leaf_hash(self.log.bodies[index]).hex()

    def signed_checkpoint(self, size: int) -> str:
        root = self.log.tree.root(size)
        nanos = int(self._clock().timestamp() * 1e9)
        text = checkpoint.format_checkpoint(
            checkpoint.Checkpoint(
                origin=f"{self.name} - {self.tree_id}",
                tree_size=size,
                root_hash=root,
                extensions=(f"Timestamp: {nanos}",),
            )
        )
        signer = (
            self._keys.rogue_ec_key
            if self._faults.active(Adversary.CHECKPOINT_WRONG_KEY)
            else self._keys.rekor_key
        )
        return checkpoint.sign_note(
            text, name=self.name, key_hint=self.log_id[:4], private_key=signer
        )

    def entry_json(self, index: int) -> dict[str, Any]:
        """``{uuid: LogEntry}`` as Rekor v1 answers, with a proof at the current size."""
        size = self.log.size
        body = self.log.bodies[index]
        integrated_time = self.log.times[index]
        set_payload = canonical.set_payload(
            body=body, integrated_time=integrated_time, log_index=index, log_id=self.log_id
        )
        set_key = (
            self._keys.rogue_ec_key
            if self._faults.active(Adversary.WRONG_SET)
            else self._keys.rekor_key
        )
        set_signature = set_key.sign(set_payload, ec.ECDSA(hashes.SHA256()))
        proof = _proof_hashes(self.log.tree, index, size, self._faults)
        entry = {
            "body": _b64(body),
            "integratedTime": integrated_time,
            "logID": self.log_id.hex(),
            "logIndex": index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self.signed_checkpoint(size),
                    "hashes": [h.hex() for h in proof],
                    "logIndex": index,
                    "rootHash": self.log.tree.root(size).hex(),
                    "treeSize": size,
                },
                "signedEntryTimestamp": _b64(set_signature),
            },
        }
        return {self.entry_uuid(index): entry}

    # --- HTTP ------------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/api/v1/log/entries", self._create),
            Route("GET", "/api/v1/log/entries", self._get_by_index),
            Route("POST", "/api/v1/log/entries/retrieve", self._retrieve),
            Route("GET", "/api/v1/log/entries/{uuid}", self._get_by_uuid),
            Route("GET", "/api/v1/log", self._log_info),
            Route("GET", "/api/v1/log/publicKey", self._public_key),
            Route("GET", "/api/v1/log/proof", self._consistency),
            Route("POST", "/api/v1/index/retrieve", self._search_index),
        ]

    async def _create(self, request: Request) -> Response:
        body, index_keys = self.canonicalize(request.json_object())
        leaf = merkle.leaf_hash(body)
        async with self._lock:
            existing = self.log.by_leaf.get(leaf)
            if existing is not None:
                uuid = self.entry_uuid(existing)
                raise HTTPError(
                    409,
                    f"an equivalent entry already exists in the transparency log with UUID {uuid}",
                    headers={"location": f"{self.url}/api/v1/log/entries/{uuid}"},
                )
            integrated_time = int(self._clock().timestamp())
            index = self.log.append(body, integrated_time)
            for k in index_keys:
                self._index.setdefault(k, []).append(index)
            if self._store.persistent:
                await anyio.to_thread.run_sync(
                    self._store.append_entries, "rekor", [(index, body, integrated_time)]
                )
        uuid = self.entry_uuid(index)
        return Response.json(
            self.entry_json(index),
            status=201,
            headers={"location": f"{self.url}/api/v1/log/entries/{uuid}", "etag": uuid},
        )

    def _index_of_uuid(self, uuid: str) -> int:
        uuid = uuid.lower()
        if len(uuid) == 80:
            if uuid[:16] != f"{self.tree_id:016x}":
                raise HTTPError(404, f"no entry with UUID {uuid} in this shard")
            uuid = uuid[16:]
        if len(uuid) != 64:
            raise bad_request("an entry UUID is 64 or 80 hex digits")
        try:
            leaf = bytes.fromhex(uuid)
        except ValueError as e:
            raise bad_request("an entry UUID is hex") from e
        index = self.log.by_leaf.get(leaf)
        if index is None:
            raise HTTPError(404, f"no entry with UUID {uuid}")
        return index

    async def _get_by_uuid(self, request: Request, uuid: str) -> Response:
        return Response.json(self.entry_json(self._index_of_uuid(uuid)))

    def _log_index(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise bad_request("logIndex must be an integer")
        try:
            index = int(value)
        except ValueError as e:
            raise bad_request("logIndex must be an integer") from e
        if index < 0:
            raise bad_request("logIndex must not be negative")
        if index >= self.log.size:
            raise HTTPError(404, f"no entry at log index {index}")
        return index

    async def _get_by_index(self, request: Request) -> Response:
        if "logIndex" not in request.query:
            raise bad_request("give logIndex")
        return Response.json(self.entry_json(self._log_index(request.query["logIndex"])))

    async def _retrieve(self, request: Request) -> Response:
        query = request.json_object()
        found: list[int] = []
        uuids = query.get("entryUUIDs") or []
        indexes = query.get("logIndexes") or []
        entries = query.get("entries") or []
        if not all(isinstance(x, list) for x in (uuids, indexes, entries)):
            raise bad_request("entryUUIDs, logIndexes and entries must be lists")
        if len(uuids) + len(indexes) + len(entries) > 10:
            raise bad_request("at most 10 entries may be retrieved at once")
        for uuid in uuids:
            if not isinstance(uuid, str):
                raise bad_request("entryUUIDs must be strings")
            try:
                found.append(self._index_of_uuid(uuid))
            except HTTPError as e:
                if e.status != 404:
                    raise
        for value in indexes:
            try:
                found.append(self._log_index(value))
            except HTTPError as e:
                if e.status != 404:
                    raise
        for proposed in entries:
            body, _ = self.canonicalize(proposed)
            index = self.log.by_leaf.get(merkle.leaf_hash(body))
            if index is not None:
                found.append(index)
        return Response.json([self.entry_json(i) for i in found])

    async def _log_info(self, request: Request) -> Response:
        size = self.log.size
        return Response.json(
            {
                "rootHash": self.log.tree.root(size).hex(),
                "treeSize": size,
                "signedTreeHead": self.signed_checkpoint(size),
                "treeID": str(self.tree_id),
                "inactiveShards": [],
            }
        )

    async def _public_key(self, request: Request) -> Response:
        pem = self._keys.rekor_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return Response.raw(pem, "application/x-pem-file")

    async def _consistency(self, request: Request) -> Response:
        def size_arg(name: str, default: int | None) -> int:
            raw = request.query.get(name)
            if raw is None:
                if default is None:
                    raise bad_request(f"give {name}")
                return default
            try:
                return int(raw)
            except ValueError as e:
                raise bad_request(f"{name} must be an integer") from e

        first = size_arg("firstSize", 1)
        last = size_arg("lastSize", None)
        if not 1 <= first <= last:
            raise bad_request("need 1 <= firstSize <= lastSize")
        if last > self.log.size:
            raise bad_request(f"lastSize {last} is beyond the tree size {self.log.size}")
        hashes = self.log.tree.consistency_proof(first, last)
        return Response.json(
            {"hashes": [h.hex() for h in hashes], "rootHash": self.log.tree.root(last).hex()}
        )

    async def _search_index(self, request: Request) -> Response:
        query = request.json_object()
        value = query.get("hash")
        if not isinstance(value, str) or ":" not in value:
            raise bad_request("give hash as '<algorithm>:<hex>' (other searches are unsupported)")
        algorithm, _, hex_digest = value.partition(":")
        found = self._index.get(f"{algorithm.lower()}:{hex_digest.lower()}", [])
        return Response.json([self.entry_uuid(i) for i in found])


# --- Rekor v2 ----------------------------------------------------------------------------------


@attrs.define(eq=False)
class _Pending:
    body: bytes
    done: anyio.Event = attrs.field(factory=anyio.Event)
    index: int = -1
    size: int = 0
    checkpoint: str = ""


def _v2_verifier(verifier: object, what: str) -> tuple[PublicKey, dict[str, Any], str]:
    """A v2 ``Verifier``: the key, its canonical JSON and the hash its signatures use."""
    if not isinstance(verifier, dict):
        raise bad_request(f"{what} must be an object")
    details = verifier.get("keyDetails")
    if details not in _KEY_DETAILS_HASH:
        raise bad_request(f"{what}.keyDetails {details!r} is not supported for hashedrekord")
    has_cert, has_key = "x509Certificate" in verifier, "publicKey" in verifier
    if has_cert == has_key:
        raise bad_request(f"{what} needs exactly one of x509Certificate and publicKey")
    field = "x509Certificate" if has_cert else "publicKey"
    raw = _unb64(_field(verifier, field, "rawBytes"), f"{what}.{field}.rawBytes")
    try:
        if has_cert:
            key = as_public_key(x509.load_der_x509_certificate(raw).public_key())
        else:
            key = as_public_key(serialization.load_der_public_key(raw))
    except PARSE_ERRORS as e:
        raise bad_request(f"{what}.{field} is malformed: {e}") from e
    curve = _KEY_DETAILS_CURVE.get(str(details))
    if curve is not None:
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, curve):
            raise bad_request(f"{what}: the key does not match keyDetails {details}")
    elif not isinstance(key, rsa.RSAPublicKey):
        raise bad_request(f"{what}: the key does not match keyDetails {details}")
    canonical_verifier = {field: {"rawBytes": _b64(raw)}, "keyDetails": details}
    return key, canonical_verifier, _KEY_DETAILS_HASH[str(details)]


class RekorV2:
    """A Rekor v2 (rekor-tiles) write API with batched integration."""

    def __init__(
        self,
        keys: InstanceKeys,
        *,
        url: Callable[[], str],
        faults: Faults,
        store: StateStore,
        batch_interval: float,
    ) -> None:
        self._keys = keys
        self._url = url
        self._faults = faults
        self._store = store
        self.batch_interval = batch_interval
        self.log = _Tree()
        self._pending: list[_Pending] = []
        self._pending_by_leaf: dict[bytes, _Pending] = {}
        self._work = anyio.Event()
        self._raw_key = keys.rekor_v2_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def url(self) -> str:
        return self._url()

    @property
    def name(self) -> str:
        return _name_of(self.url)

    @property
    def log_id(self) -> bytes:
        """The signed-note key id, which is also the log id in the trust root."""
        return checkpoint.note_key_id_ed25519(self.name, self._raw_key)

    def load(self, entries: list[tuple[bytes, int]]) -> None:
        for body, _ in entries:
            self.log.append(body, 0)

    def signed_checkpoint(self, size: int) -> str:
        text = checkpoint.format_checkpoint(
            checkpoint.Checkpoint(
                origin=self.name, tree_size=size, root_hash=self.log.tree.root(size)
            )
        )
        signer: ed25519.Ed25519PrivateKey = (
            self._keys.rogue_ed25519_key
            if self._faults.active(Adversary.CHECKPOINT_WRONG_KEY)
            else self._keys.rekor_v2_key
        )
        return checkpoint.sign_note(
            text, name=self.name, key_hint=self.log_id[:4], private_key=signer
        )

    # --- batching ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Integrate pending entries, one batch per interval, until cancelled."""
        try:
            while True:
                await self._work.wait()
                await anyio.sleep(self.batch_interval)
                batch, self._pending = self._pending, []
                self._work = anyio.Event()
                if batch:
                    await self._integrate(batch)
        finally:
            # Shutting down: answer whoever still waits instead of leaving them hanging.
            for pending in self._pending:
                pending.done.set()
            self._pending.clear()
            self._pending_by_leaf.clear()

    async def _integrate(self, batch: list[_Pending]) -> None:
        rows = []
        for pending in batch:
            pending.index = self.log.append(pending.body, 0)
            rows.append((pending.index, pending.body, 0))
        size = self.log.size
        note = self.signed_checkpoint(size)
        if self._store.persistent:
            await anyio.to_thread.run_sync(self._store.append_entries, "rekor_v2", rows)
        for pending in batch:
            self._pending_by_leaf.pop(merkle.leaf_hash(pending.body), None)
            pending.size, pending.checkpoint = size, note
            pending.done.set()

    # --- requests ------------------------------------------------------------------------------

    def canonicalize(self, request: object) -> bytes:
        """Check a ``CreateEntryRequest``; return the canonical hashedrekord 0.0.2 body.

        Raises:
            HTTPError: 400 for a malformed request or a signature that does not verify.
        """
        if not isinstance(request, dict):
            raise bad_request("the request must be a JSON object")
        kinds = [k for k in ("hashedRekordRequestV002", "dsseRequestV002") if k in request]
        if len(kinds) != 1:
            raise bad_request("give exactly one of hashedRekordRequestV002 and dsseRequestV002")
        spec = request[kinds[0]]
        if kinds[0] == "hashedRekordRequestV002":
            digest = _unb64(_field(spec, "digest"), "digest")
            signature = _unb64(_field(spec, "signature", "content"), "signature.content")
            key, verifier, alg = _v2_verifier(
                _field(spec, "signature", "verifier"), "signature.verifier"
            )
            if len(digest) != hashlib.new(_HASHLIB[alg]).digest_size:
                raise bad_request(f"digest must be a {alg} digest")
            if not verify_signature(key, signature, prehashed=digest, hash_algorithm=alg):
                raise bad_request("the signature does not verify over the digest")
        else:
            envelope = _field(spec, "envelope")
            payload_type = _field(envelope, "payloadType")
            if not isinstance(payload_type, str):
                raise bad_request("envelope.payloadType must be a string")
            payload = _unb64(_field(envelope, "payload"), "envelope.payload")
            signatures = _field(envelope, "signatures")
            if not isinstance(signatures, list) or len(signatures) != 1:
                raise bad_request("the envelope must carry exactly one signature")
            signature = _unb64(_field(signatures[0], "sig"), "envelope.signatures[0].sig")
            verifiers = _field(spec, "verifiers")
            if not isinstance(verifiers, list) or not verifiers:
                raise bad_request("verifiers must be a non-empty list")
            message = pae(payload_type, payload)
            for i, candidate in enumerate(verifiers):
                key, verifier, alg = _v2_verifier(candidate, f"verifiers[{i}]")
                if verify_signature(key, signature, message=message, hash_algorithm=alg):
                    break
            else:
                raise bad_request("the envelope signature does not verify with any verifier")
            # Logged as a hashedrekord over the PAE (see the module docstring).
            digest = hashlib.new(_HASHLIB[alg], message).digest()
        content = _b64(signature)
        if self._faults.active(Adversary.ENTRY_BODY_MISMATCH):
            content = _tamper(content)
        body = {
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": {
                "hashedRekordV002": {
                    "data": {"algorithm": alg, "digest": _b64(digest)},
                    "signature": {"content": content, "verifier": verifier},
                }
            },
        }
        return canonical.canonicalize(body)

    def entry_json(self, index: int, size: int, note: str) -> dict[str, Any]:
        """The ``TransparencyLogEntry`` protobuf-JSON that rekor-tiles answers with."""
        hashes = _proof_hashes(self.log.tree, index, size, self._faults)
        entry = TransparencyLogEntry(
            log_index=Int64(index),
            log_id=LogId(key_id=self.log_id),
            kind_version=KindVersion(kind="hashedrekord", version="0.0.2"),
            inclusion_proof=InclusionProof(
                log_index=Int64(index),
                root_hash=self.log.tree.root(size),
                tree_size=Int64(size),
                hashes=tuple(hashes),
                checkpoint=Checkpoint(envelope=note),
            ),
            canonicalized_body=self.log.bodies[index],
        )
        out: dict[str, Any] = unstructure(entry)
        # protobuf-JSON omits zero values and empty lists; clients (sigstore-python 4.5)
        # require the proof's hashes and are happier with index 0 spelled out.
        out.setdefault("logIndex", "0")
        out["inclusionProof"].setdefault("logIndex", "0")
        out["inclusionProof"].setdefault("hashes", [])
        return out

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/api/v2/log/entries", self._create),
            Route("GET", "/api/v2/checkpoint", self._checkpoint),
            Route("GET", "/checkpoint", self._checkpoint),
        ]

    async def _create(self, request: Request) -> Response:
        body = self.canonicalize(request.json())
        leaf = merkle.leaf_hash(body)
        existing = self.log.by_leaf.get(leaf)
        if existing is not None:
            size = self.log.size
            return Response.json(self.entry_json(existing, size, self.signed_checkpoint(size)))
        pending = self._pending_by_leaf.get(leaf)
        if pending is None:
            pending = _Pending(body)
            self._pending_by_leaf[leaf] = pending
            self._pending.append(pending)
            self._work.set()
        await pending.done.wait()
        if pending.index < 0:
            raise HTTPError(503, "the log is shutting down", headers={"retry-after": "1"})
        return Response.json(
            self.entry_json(pending.index, pending.size, pending.checkpoint), status=201
        )

    async def _checkpoint(self, request: Request) -> Response:
        return Response.text(self.signed_checkpoint(self.log.size))
