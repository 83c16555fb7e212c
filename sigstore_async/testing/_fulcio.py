"""LocalSigstore's Fulcio: the v2 REST API of a certificate authority.

Owns: ``POST /api/v2/signingCert`` (a public key with a proof of possession,
or a CSR; the identity token in ``credentials.oidcIdentityToken`` or an
``Authorization: Bearer`` header) and ``GET /api/v2/trustBundle``. A request
gets a ten-minute leaf chained to the instance's intermediate and root, with
the identity's SAN and extensions and one embedded SCT from the instance's CT
log key.

Does not own: token verification (``_oidc``), the claims-to-identity mapping
(``_identity``) or certificate construction (``_pki``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from .._core.keys import PublicKey, as_public_key
from .._core.x509 import PARSE_ERRORS
from .._time import Clock
from ._faults import Adversary, Faults
from ._http import HTTPError, Request, Response, Route, bad_request
from ._identity import Principal, principal_from_claims
from ._oidc import OidcIssuer, TokenError
from ._pki import InstanceKeys, LeafRequest, issue_leaf, key_id, pem_chain

__all__ = ["CERTIFICATE_LIFETIME", "Fulcio"]

CERTIFICATE_LIFETIME = timedelta(minutes=10)
_EC_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def _check_key(key: PublicKey) -> None:
    # Fulcio's accepted key types: ECDSA P-256/384/521, RSA of 2048 bits or more, Ed25519.
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, _EC_CURVES):
        raise bad_request(f"unsupported elliptic curve {key.curve.name}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise bad_request("RSA keys must have at least 2048 bits")


def _load_public_key(content: str) -> PublicKey:
    data = content.encode()
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(base64.b64decode(data, validate=True))
        return as_public_key(key)
    except (ValueError, UnsupportedAlgorithm, binascii.Error) as e:
        raise bad_request(f"malformed public key: {e}") from e


def _verify_possession(key: PublicKey, signature: bytes, challenge: str) -> bool:
    """Fulcio's proof of possession: a signature over the challenge (SHA-256)."""
    message = challenge.encode()
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _text(obj: Any, *path: str) -> str | None:
    for name in path:
        if not isinstance(obj, dict):
            raise bad_request(f"{'.'.join(path)} is not an object path")
        obj = obj.get(name)
        if obj is None:
            return None
    if not isinstance(obj, str):
        raise bad_request(f"{'.'.join(path)} must be a string")
    return obj


class Fulcio:
    def __init__(
        self, keys: InstanceKeys, issuer: OidcIssuer, *, clock: Clock, faults: Faults
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._clock = clock
        self._faults = faults
        #: Certificates issued, oldest first (a test can inspect them).
        self.issued: list[x509.Certificate] = []

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/api/v2/signingCert", self._signing_cert),
            Route("GET", "/api/v2/trustBundle", self._trust_bundle),
        ]

    async def _trust_bundle(self, request: Request) -> Response:
        return Response.json({"chains": [{"certificates": pem_chain(self._keys.fulcio.chain)}]})

    def _token(self, request: Request, body: dict[str, Any]) -> str:
        token = _text(body, "credentials", "oidcIdentityToken")
        if token is None:
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                token = auth[7:].strip()
        if not token:
            raise bad_request("no identity token: set credentials.oidcIdentityToken")
        return token

    def _requested_key(self, body: dict[str, Any], principal: Principal) -> PublicKey:
        csr_text = _text(body, "certificateSigningRequest")
        key_request = body.get("publicKeyRequest")
        if (csr_text is None) == (key_request is None):
            raise bad_request("give exactly one of publicKeyRequest and certificateSigningRequest")
        if csr_text is not None:
            try:
                pem = base64.b64decode(csr_text, validate=True)
                csr = x509.load_pem_x509_csr(pem)
                key = as_public_key(csr.public_key())
                valid = csr.is_signature_valid
            except (binascii.Error, *PARSE_ERRORS) as e:
                raise bad_request(f"malformed certificate signing request: {e}") from e
            if not valid:
                raise bad_request("the certificate signing request's signature does not verify")
            _check_key(key)
            return key
        content = _text(key_request, "publicKey", "content")
        proof = _text(key_request, "proofOfPossession")
        if content is None or proof is None:
            raise bad_request("publicKeyRequest needs publicKey.content and proofOfPossession")
        key = _load_public_key(content)
        _check_key(key)
        try:
            signature = base64.b64decode(proof, validate=True)
        except binascii.Error as e:
            raise bad_request("proofOfPossession is not base64") from e
        if not _verify_possession(key, signature, principal.challenge):
            raise bad_request(
                "the proof of possession does not verify: sign the token's "
                + ("email" if "@" in principal.challenge else "subject")
            )
        return key

    async def _signing_cert(self, request: Request) -> Response:
        body = request.json_object()
        token = self._token(request, body)
        try:
            claims = self._issuer.verify(token)
            principal = principal_from_claims(claims, issuer=str(claims["iss"]))
        except (TokenError, ValueError) as e:
            raise HTTPError(401, f"the identity token is not acceptable: {e}") from e
        key = self._requested_key(body, principal)

        now = self._clock().replace(microsecond=0)
        not_before, not_after = now, now + CERTIFICATE_LIFETIME
        san = principal.san
        if self._faults.active(Adversary.CERTIFICATE_WRONG_KEY):
            key = ec.generate_private_key(ec.SECP256R1()).public_key()
        if self._faults.active(Adversary.CERTIFICATE_WRONG_IDENTITY):
            san = (
                x509.RFC822Name("mallory@example.com")
                if isinstance(san, x509.RFC822Name)
                else x509.UniformResourceIdentifier("https://example.com/mallory")
            )
        if self._faults.active(Adversary.EXPIRED_CERTIFICATE):
            not_before, not_after = now - timedelta(hours=2), now - timedelta(hours=1)
        # A wrong SCT claims to be from the instance's CT log but is signed by another key.
        wrong_sct = self._faults.active(Adversary.WRONG_SCT)
        ct_key = self._keys.rogue_ec_key if wrong_sct else self._keys.ct_key
        leaf = issue_leaf(
            LeafRequest(
                public_key=key,
                san=san,
                extensions=principal.extensions,
                not_before=not_before,
                not_after=not_after,
            ),
            issuer=self._keys.fulcio.certificate,
            issuer_key=self._keys.fulcio.key,
            ct_key=ct_key,
            sct_time=now,
            sct_log_id=key_id(self._keys.ct_key.public_key()),
        )
        self.issued.append(leaf)
        chain = pem_chain([leaf, *self._keys.fulcio.chain])
        return Response.json(
            {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}, status=201
        )
