"""A minimal, pure stand-in for Rekor v1 and v2 responses, for the sans-I/O
assembly tests (the Signer tests use LocalSigstore).

It builds canonical bodies from proposed entries the way the logs do, keeps an
RFC 6962 tree, and answers with inclusion proofs, signed checkpoints and (v1)
signed entry timestamps.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from sigstore_async._core import canonical, checkpoint, merkle
from sigstore_async.models import (
    LogId,
    PublicKey,
    TimeRange,
    TransparencyLogInstance,
    TrustedRoot,
)
from sigstore_async.sign.assembly import ProposedEntry
from sigstore_async.trust import TrustMaterial

V1_URL = "https://rekor.test"
V2_URL = "https://log2.rekor.test"
START = datetime(2020, 1, 1, tzinfo=UTC)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _spki(key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class FakeLogs:
    def __init__(self) -> None:
        self.v1_key = ec.generate_private_key(ec.SECP256R1())
        self.v2_key = ed25519.Ed25519PrivateKey.generate()
        self.v1_id = hashlib.sha256(_spki(self.v1_key.public_key())).digest()
        raw = self.v2_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.v2_id = checkpoint.note_key_id_ed25519("log2.rekor.test", raw)
        self.tree = merkle.MerkleTree()
        self.tree.append(b"first")
        self.integrated_time = int(datetime(2025, 10, 1, tzinfo=UTC).timestamp())

    def trust(self) -> TrustMaterial:
        root = TrustedRoot(
            media_type="application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            tlogs=(
                TransparencyLogInstance(
                    base_url=V1_URL,
                    hash_algorithm="SHA2_256",
                    public_key=PublicKey(
                        raw_bytes=_spki(self.v1_key.public_key()),
                        key_details="PKIX_ECDSA_P256_SHA_256",
                        valid_for=TimeRange(start=START),
                    ),
                    log_id=LogId(self.v1_id),
                ),
                TransparencyLogInstance(
                    base_url=V2_URL,
                    hash_algorithm="SHA2_256",
                    public_key=PublicKey(
                        raw_bytes=_spki(self.v2_key.public_key()),
                        key_details="PKIX_ED25519",
                        valid_for=TimeRange(start=START),
                    ),
                    log_id=LogId(self.v2_id),
                ),
            ),
        )
        return TrustMaterial.from_trusted_root(root)

    # --- canonical bodies ------------------------------------------------------------------

    @staticmethod
    def body_v1(proposed: ProposedEntry) -> bytes:
        req = json.loads(json.dumps(proposed.request))
        if proposed.kind == "hashedrekord":
            return canonical.canonicalize(req)
        content = req["spec"]["proposedContent"]
        env = json.loads(content["envelope"])
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(content["envelope"].encode()).hexdigest(),
                },
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(base64.b64decode(env["payload"])).hexdigest(),
                },
                "signatures": [
                    {"signature": env["signatures"][0]["sig"], "verifier": content["verifiers"][0]}
                ],
            },
        }
        return canonical.canonicalize(body)

    @staticmethod
    def body_v2(proposed: ProposedEntry) -> bytes:
        spec = proposed.request["hashedRekordRequestV002"]
        details = spec["signature"]["verifier"]["keyDetails"]
        alg = "SHA2_384" if details == "PKIX_ECDSA_P384_SHA_384" else "SHA2_256"
        body = {
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": {
                "hashedRekordV002": {
                    "data": {"algorithm": alg, "digest": spec["digest"]},
                    "signature": spec["signature"],
                }
            },
        }
        return canonical.canonicalize(body)

    # --- responses --------------------------------------------------------------------------

    def _checkpoint(self, name: str, key: Any, key_id: bytes, origin: str) -> str:
        text = checkpoint.format_checkpoint(
            checkpoint.Checkpoint(
                origin=origin, tree_size=self.tree.size, root_hash=self.tree.root()
            )
        )
        return checkpoint.sign_note(text, name=name, key_hint=key_id[:4], private_key=key)

    def respond_v1(
        self,
        proposed: ProposedEntry,
        *,
        body: bytes | None = None,
        bad_proof: bool = False,
        checkpoint_key: Any = None,
        set_key: Any = None,
    ) -> dict[str, Any]:
        body = body if body is not None else self.body_v1(proposed)
        index = self.tree.append(body)
        self.tree.append(b"later")
        proof = self.tree.inclusion_proof(index)
        if bad_proof:
            proof[0] = bytes(32)
        payload = canonical.set_payload(
            body=body, integrated_time=self.integrated_time, log_index=index, log_id=self.v1_id
        )
        sig = (set_key or self.v1_key).sign(payload, ec.ECDSA(hashes.SHA256()))
        return {
            "ab" * 40: {
                "body": _b64(body),
                "integratedTime": self.integrated_time,
                "logID": self.v1_id.hex(),
                "logIndex": index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": self._checkpoint(
                            "rekor.test",
                            checkpoint_key or self.v1_key,
                            self.v1_id,
                            "rekor.test - 42",
                        ),
                        "hashes": [h.hex() for h in proof],
                        "logIndex": index,
                        "rootHash": self.tree.root().hex(),
                        "treeSize": self.tree.size,
                    },
                    "signedEntryTimestamp": _b64(sig),
                },
            }
        }

    def respond_v2(self, proposed: ProposedEntry, *, body: bytes | None = None) -> dict[str, Any]:
        body = body if body is not None else self.body_v2(proposed)
        index = self.tree.append(body)
        proof = self.tree.inclusion_proof(index)
        return {
            "logIndex": str(index),
            "logId": {"keyId": _b64(self.v2_id)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": _b64(self.tree.root()),
                "treeSize": str(self.tree.size),
                "hashes": [_b64(h) for h in proof],
                "checkpoint": {
                    "envelope": self._checkpoint(
                        "log2.rekor.test", self.v2_key, self.v2_id, "log2.rekor.test"
                    )
                },
            },
            "canonicalizedBody": _b64(body),
        }
