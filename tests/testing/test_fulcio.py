"""LocalSigstore's Fulcio: both ways of asking for a certificate, the identity
checks, and a 4xx (never a 500) for every bad request."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from sigstore_async._core.x509 import leaf_identity
from sigstore_async.testing import LocalSigstore

from ._local import b64

pytestmark = pytest.mark.anyio


def _key_request(key: Any, challenge: bytes, *, token: str) -> dict[str, Any]:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if isinstance(key, ed25519.Ed25519PrivateKey):
        proof = key.sign(challenge)
    elif isinstance(key, rsa.RSAPrivateKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        proof = key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
    else:
        proof = key.sign(challenge, ec.ECDSA(hashes.SHA256()))
    return {
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": public.decode()},
            "proofOfPossession": b64(proof),
        },
    }


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: ec.generate_private_key(ec.SECP256R1()),
        lambda: ec.generate_private_key(ec.SECP384R1()),
        ed25519.Ed25519PrivateKey.generate,
    ],
    ids=["p256", "p384", "ed25519"],
)
async def test_public_key_request(make_key: Any) -> None:
    key = make_key()
    async with LocalSigstore() as stack, stack.client() as http:
        token = stack.issue_token("dana@example.com")
        r = await http.post(
            "/api/v2/signingCert", json=_key_request(key, b"dana@example.com", token=token)
        )
        assert r.status_code == 201, r.text
        chain = r.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        leaf = x509.load_pem_x509_certificate(chain[0].encode())
        assert leaf.public_key() == key.public_key()
        assert leaf_identity(leaf).san == "dana@example.com"
        assert stack.fulcio.issued == [leaf]


async def test_csr_with_bearer_token() -> None:
    """The way sigstore-python asks: a CSR, the token in the Authorization header."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    workflow = "https://github.com/octo/widget/.github/workflows/ci.yml@refs/heads/main"
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.post(
            "/api/v2/signingCert",
            json={"certificateSigningRequest": b64(csr.public_bytes(serialization.Encoding.PEM))},
            headers={"authorization": f"Bearer {stack.issue_token(workflow)}"},
        )
        assert r.status_code == 201, r.text
        leaf = x509.load_pem_x509_certificate(
            r.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"][0].encode()
        )
    identity = leaf_identity(leaf)
    assert identity.san == workflow
    assert identity.extensions["1.3.6.1.4.1.57264.1.6"] == "refs/heads/main"


async def test_uri_identity_and_trusted_issuer() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    github = "https://token.actions.githubusercontent.com"
    async with LocalSigstore(trusted_issuers=[github]) as stack, stack.client() as http:
        token = stack.issue_token("https://builder.example.com/job/7", issuer=github)
        r = await http.post(
            "/api/v2/signingCert",
            json=_key_request(key, b"https://builder.example.com/job/7", token=token),
        )
        assert r.status_code == 201, r.text
        leaf = x509.load_pem_x509_certificate(
            r.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"][0].encode()
        )
    assert leaf_identity(leaf).san == "https://builder.example.com/job/7"
    assert leaf_identity(leaf).issuer == github


async def test_trust_bundle() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.get("/api/v2/trustBundle")
        (chain,) = r.json()["chains"]
        certs = [x509.load_pem_x509_certificate(c.encode()) for c in chain["certificates"]]
    assert certs == list(stack.keys.fulcio.chain)


def _token_cases(stack: LocalSigstore) -> list[tuple[str, str]]:
    return [
        (stack.issue_token("dana@example.com", lifetime=timedelta(seconds=-1)), "expired"),
        (stack.issue_token("dana@example.com", audience="other"), "audience"),
        (stack.issue_token("dana@example.com", issuer="https://evil.example"), "issuer"),
        (stack.issue_token("dana@example.com", email_verified=False), "not verified"),
        (stack.oidc.encode({"iss": stack.oidc_url, "aud": "sigstore", "exp": 2**40}), "subject"),
        (stack.issue_token("dana@example.com")[:-4] + "AAAA", "signature"),
        ("a.b", "compact JWS"),
        ("e30.e30.e30", "algorithm"),
    ]


async def test_unacceptable_tokens_are_401() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    async with LocalSigstore() as stack, stack.client() as http:
        for token, message in _token_cases(stack):
            r = await http.post(
                "/api/v2/signingCert", json=_key_request(key, b"dana@example.com", token=token)
            )
            assert r.status_code == 401, (message, r.text)
            assert message in r.json()["message"], r.json()


async def test_token_from_another_issuer_key_is_401() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    async with LocalSigstore() as a, LocalSigstore() as b, a.client() as http:
        # Same issuer URL (both in process), different keys.
        token = b.issue_token("dana@example.com")
        r = await http.post(
            "/api/v2/signingCert", json=_key_request(key, b"dana@example.com", token=token)
        )
    assert r.status_code == 401


def _bad_bodies(token: str, key: ec.EllipticCurvePrivateKey) -> list[tuple[Any, str]]:
    good = _key_request(key, b"dana@example.com", token=token)
    wrong_proof = _key_request(key, b"someone-else@example.com", token=token)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    return [
        ("not json", "JSON"),
        ([], "JSON object"),
        ({"publicKeyRequest": good["publicKeyRequest"]}, "identity token"),
        ({"credentials": good["credentials"]}, "exactly one"),
        ({**good, "certificateSigningRequest": "AAAA"}, "exactly one"),
        ({**good, "publicKeyRequest": {"publicKey": {"content": "x"}}}, "proofOfPossession"),
        (
            {
                **good,
                "publicKeyRequest": {**good["publicKeyRequest"], "publicKey": {"content": "!!"}},
            },
            "malformed public key",
        ),
        (
            {**good, "publicKeyRequest": {**good["publicKeyRequest"], "proofOfPossession": "!"}},
            "base64",
        ),
        (wrong_proof, "proof of possession"),
        (_key_request(weak, b"dana@example.com", token=token), "2048"),
        ({"credentials": good["credentials"], "certificateSigningRequest": "@@"}, "malformed"),
        (
            {
                "credentials": good["credentials"],
                "certificateSigningRequest": base64.b64encode(b"-----BEGIN junk").decode(),
            },
            "malformed",
        ),
        ({"credentials": {"oidcIdentityToken": 5}, **{"x": 1}}, "string"),
        (
            {
                "credentials": good["credentials"],
                "certificateSigningRequest": b64(_csr_with_version(key, 5)),
            },
            "malformed certificate signing request",
        ),
    ]


def _csr_with_version(key: ec.EllipticCurvePrivateKey, version: int) -> bytes:
    """A PEM CSR whose version is not v1 (cryptography: InvalidVersion, not a ValueError)."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    der = csr.public_bytes(serialization.Encoding.DER)
    at = der.index(b"\x02\x01\x00")  # CertificationRequestInfo.version, INTEGER 0
    bad = der[: at + 2] + bytes([version]) + der[at + 3 :]
    with pytest.raises(x509.InvalidVersion):
        x509.load_der_x509_csr(bad)
    body = base64.encodebytes(bad)
    return b"-----BEGIN CERTIFICATE REQUEST-----\n" + body + b"-----END CERTIFICATE REQUEST-----\n"


async def test_bad_requests_are_400() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    async with LocalSigstore() as stack, stack.client() as http:
        token = stack.issue_token("dana@example.com")
        for body, message in _bad_bodies(token, key):
            if isinstance(body, str):
                r = await http.post("/api/v2/signingCert", content=body.encode())
            else:
                r = await http.post("/api/v2/signingCert", json=body)
            assert r.status_code == 400, (message, r.text)
            assert message in r.json()["message"], (message, r.json())
        assert stack.fulcio.issued == []
