"""Drive a LocalSigstore by hand: what a signing client does, step by step.

These helpers speak the services' wire protocols with httpx and assemble
bundles from the answers, so that tests can check every service with the
SDK's verifier before the SDK's own signer exists (and independently of it).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

from sigstore_async import Bundle, TrustMaterial, Verifier
from sigstore_async.models.dsse import pae
from sigstore_async.testing import LocalSigstore

IN_TOTO = "application/vnd.in-toto+json"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def verifier(stack: LocalSigstore, **kwargs: Any) -> Verifier:
    return Verifier(TrustMaterial.from_trusted_root(stack.trusted_root), **kwargs)


async def certificate(
    http: httpx.AsyncClient,
    stack: LocalSigstore,
    key: ec.EllipticCurvePrivateKey,
    identity: str = "alice@example.com",
    *,
    token: str | None = None,
    challenge: str | None = None,
) -> list[x509.Certificate]:
    """A Fulcio chain (leaf first) for ``key``, with a proof of possession."""
    token = token or stack.issue_token(identity)
    if challenge is None:
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        challenge = claims.get("email") or claims["sub"]
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    proof = key.sign(challenge.encode(), ec.ECDSA(hashes.SHA256()))
    r = await http.post(
        "/api/v2/signingCert",
        json={
            "credentials": {"oidcIdentityToken": token},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": public_pem.decode()},
                "proofOfPossession": b64(proof),
            },
        },
    )
    assert r.status_code == 201, r.text
    chain = r.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    return [x509.load_pem_x509_certificate(c.encode()) for c in chain]


def hashedrekord_v1(leaf: x509.Certificate, signature: bytes, digest: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(pem(leaf))}},
        },
    }


def envelope_json(payload: bytes, signature: bytes, payload_type: str = IN_TOTO) -> dict[str, Any]:
    return {
        "payload": b64(payload),
        "payloadType": payload_type,
        "signatures": [{"sig": b64(signature), "keyid": ""}],
    }


def dsse_v1(leaf: x509.Certificate, payload: bytes, signature: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": json.dumps(envelope_json(payload, signature)),
                "verifiers": [b64(pem(leaf))],
            }
        },
    }


def _verifier_v2(leaf: x509.Certificate) -> dict[str, Any]:
    return {
        "x509Certificate": {"rawBytes": b64(der(leaf))},
        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
    }


def hashedrekord_v2(leaf: x509.Certificate, signature: bytes, digest: bytes) -> dict[str, Any]:
    return {
        "hashedRekordRequestV002": {
            "digest": b64(digest),
            "signature": {"content": b64(signature), "verifier": _verifier_v2(leaf)},
        }
    }


def dsse_v2(leaf: x509.Certificate, payload: bytes, signature: bytes) -> dict[str, Any]:
    return {
        "dsseRequestV002": {
            "envelope": envelope_json(payload, signature),
            "verifiers": [_verifier_v2(leaf)],
        }
    }


def entry_from_v1(response: dict[str, Any]) -> dict[str, Any]:
    """A Rekor v1 ``{uuid: LogEntry}`` answer as a bundle's TransparencyLogEntry."""
    ((_, entry),) = response.items()
    proof = entry["verification"]["inclusionProof"]
    kind = json.loads(base64.b64decode(entry["body"]))
    return {
        "logIndex": str(entry["logIndex"]),
        "logId": {"keyId": b64(bytes.fromhex(entry["logID"]))},
        "kindVersion": {"kind": kind["kind"], "version": kind["apiVersion"]},
        "integratedTime": str(entry["integratedTime"]),
        "inclusionPromise": {"signedEntryTimestamp": entry["verification"]["signedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": str(proof["logIndex"]),
            "rootHash": b64(bytes.fromhex(proof["rootHash"])),
            "treeSize": str(proof["treeSize"]),
            "hashes": [b64(bytes.fromhex(h)) for h in proof["hashes"]],
            "checkpoint": {"envelope": proof["checkpoint"]},
        },
        "canonicalizedBody": entry["body"],
    }


async def timestamp(http: httpx.AsyncClient, signature: bytes) -> bytes:
    request = (
        TimestampRequestBuilder()
        .hash_algorithm(HashAlgorithm.SHA256)
        .data(signature)
        .nonce(nonce=True)
        .build()
    )
    r = await http.post(
        "/tsa/api/v1/timestamp",
        content=request.as_bytes(),
        headers={"content-type": "application/timestamp-query"},
    )
    assert r.status_code == 200, r.text
    return r.content


def statement(artifact: bytes) -> bytes:
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [
                {"name": "artifact", "digest": {"sha256": hashlib.sha256(artifact).hexdigest()}}
            ],
            "predicateType": "https://example.com/predicate/v1",
            "predicate": {"built": True},
        }
    ).encode()


async def sign(
    http: httpx.AsyncClient,
    stack: LocalSigstore,
    artifact: bytes,
    *,
    identity: str = "alice@example.com",
    rekor_v2: bool = False,
    dsse: bool = False,
    tsa: bool | None = None,
) -> Bundle:
    """Sign ``artifact`` (or an in-toto statement about it) against the stack
    and return the v0.3 bundle. Rekor v2 implies a timestamp."""
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (await certificate(http, stack, key, identity))[0]
    tsa = rekor_v2 if tsa is None else tsa
    if dsse:
        payload = statement(artifact)
        signature = key.sign(pae(IN_TOTO, payload), ec.ECDSA(hashes.SHA256()))
        proposed = (dsse_v2 if rekor_v2 else dsse_v1)(leaf, payload, signature)
        content: dict[str, Any] = {"dsseEnvelope": envelope_json(payload, signature)}
    else:
        digest = hashlib.sha256(artifact).digest()
        signature = key.sign(artifact, ec.ECDSA(hashes.SHA256()))
        proposed = (hashedrekord_v2 if rekor_v2 else hashedrekord_v1)(leaf, signature, digest)
        content = {
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(signature),
            }
        }
    material: dict[str, Any] = {"certificate": {"rawBytes": b64(der(leaf))}}
    if tsa:
        token = await timestamp(http, signature)
        material["timestampVerificationData"] = {
            "rfc3161Timestamps": [{"signedTimestamp": b64(token)}]
        }
    if rekor_v2:
        r = await http.post("/rekor-v2/api/v2/log/entries", json=proposed)
        assert r.status_code == 201, r.text
        material["tlogEntries"] = [r.json()]
    else:
        r = await http.post("/rekor/api/v1/log/entries", json=proposed)
        assert r.status_code == 201, r.text
        material["tlogEntries"] = [entry_from_v1(r.json())]
    return Bundle.from_dict(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": material,
            **content,
        }
    )
