"""A real-crypto Sigstore in your tests: LocalSigstore as a pytest fixture.

    python examples/local_sigstore_fixture.py

Copy the two fixtures below into your ``conftest.py`` (tests marked
``@pytest.mark.anyio``). Run as a script, it does what a signing client does
against the stack, by hand: a token from the OIDC issuer, a certificate from
Fulcio, an entry in Rekor, then verifies the bundle it assembled with the
SDK's Verifier and shows a fault knob at work.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sigstore_async import Bundle, Identity, TrustMaterial, Verifier
from sigstore_async.testing import LocalSigstore

# --- copy into conftest.py ---------------------------------------------------------------------


@pytest.fixture
async def local_sigstore() -> AsyncIterator[LocalSigstore]:
    """A fresh instance per test, in process. ``LocalSigstore(serve=True)`` also
    listens on 127.0.0.1 for clients in other threads or processes."""
    async with LocalSigstore() as stack:
        yield stack


@pytest.fixture
async def sigstore_http(local_sigstore: LocalSigstore) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client mounted on the instance (base URL ``http://sigstore.local``)."""
    async with local_sigstore.client() as client:
        yield client


# --- what a test can do with them --------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def sign_by_hand(stack: LocalSigstore, http: httpx.AsyncClient, artifact: bytes) -> Bundle:
    # 1. An identity token, through the OIDC token endpoint (or: stack.issue_token(...)).
    r = await http.post("/oidc/token", data={"grant_type": "client_credentials"})
    token = r.json()["access_token"]

    # 2. A certificate: Fulcio wants a proof of possession over the token's email.
    key = ec.generate_private_key(ec.SECP256R1())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    proof = key.sign(b"signer@example.com", ec.ECDSA(hashes.SHA256()))
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
    leaf_pem = r.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
    leaf = x509.load_pem_x509_certificate(leaf_pem.encode())

    # 3. Sign, and log a hashedrekord entry in Rekor v1.
    digest = hashlib.sha256(artifact).digest()
    signature = key.sign(artifact, ec.ECDSA(hashes.SHA256()))
    r = await http.post(
        "/rekor/api/v1/log/entries",
        json={
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {
                    "content": b64(signature),
                    "publicKey": {"content": b64(leaf_pem.encode())},
                },
            },
        },
    )
    ((_, entry),) = r.json().items()
    proof_json = entry["verification"]["inclusionProof"]

    # 4. The bundle (v0.3) from the answers.
    return Bundle.from_dict(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(leaf.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [
                    {
                        "logIndex": str(entry["logIndex"]),
                        "logId": {"keyId": b64(bytes.fromhex(entry["logID"]))},
                        "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                        "integratedTime": str(entry["integratedTime"]),
                        "inclusionPromise": {
                            "signedEntryTimestamp": entry["verification"]["signedEntryTimestamp"]
                        },
                        "inclusionProof": {
                            "logIndex": str(proof_json["logIndex"]),
                            "rootHash": b64(bytes.fromhex(proof_json["rootHash"])),
                            "treeSize": str(proof_json["treeSize"]),
                            "hashes": [b64(bytes.fromhex(h)) for h in proof_json["hashes"]],
                            "checkpoint": {"envelope": proof_json["checkpoint"]},
                        },
                        "canonicalizedBody": entry["body"],
                    }
                ],
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(signature),
            },
        }
    )


async def main() -> None:
    artifact = b"my-package-1.0.tar.gz"
    async with LocalSigstore() as stack, stack.client() as http:
        bundle = await sign_by_hand(stack, http, artifact)
        verifier = Verifier(TrustMaterial.from_trusted_root(stack.trusted_root))
        result = await verifier.verify(
            bundle, artifact, Identity("signer@example.com", stack.oidc_url)
        )
        print(f"verified  {result.identity} from {result.issuer}")
        for t in result.verified_times:
            print(f"time      {t.time.isoformat()} ({t.source})")

        # Knobs: the next Rekor request fails with a 503, and the counters saw it.
        stack.faults["rekor"].fail_next = 1
        r = await http.get("/rekor/api/v1/log")
        print(f"fault     GET /rekor/api/v1/log -> {r.status_code}")
        print(f"requests  {stack.requests['GET /rekor/api/v1/log']} log-info request(s) counted")


if __name__ == "__main__":
    anyio.run(main)
