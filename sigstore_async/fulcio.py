"""A thin client for Fulcio's v2 REST API (``POST /api/v2/signingCert``).

Owns: the request (a PEM certificate signing request as proof of possession,
the identity token as ``credentials.oidcIdentityToken``) and reading the
answer into DER certificates, leaf first. Does not own: keys, checking the
chain against the trust root or the SCT (the ``Signer`` does, before first
use), retries and error mapping (``_http``).

Stateless: ``FulcioClient(http, base_url)`` holds no connection of its own.
"""

from __future__ import annotations

import base64
import json

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ._core import JSON_ERRORS
from ._core.x509 import PARSE_ERRORS
from ._http import ServiceClient, request
from .errors import IdentityError, ServiceError

__all__ = ["FulcioClient"]

_SERVICE = "fulcio"


class FulcioClient(ServiceClient):
    """Fulcio at ``base_url`` over a shared ``httpx.AsyncClient``."""

    async def signing_certificate(
        self, csr: x509.CertificateSigningRequest, token: str
    ) -> list[bytes]:
        """Ask for a certificate for the key of ``csr``; return the chain as
        DER, leaf first (the leaf carries its SCT embedded).

        ``token`` is the raw identity token; it goes in the request body only.

        Raises:
            IdentityError: Fulcio refused the token (401/403).
            ServiceError: any other error answer, or an answer without an
                embedded-SCT chain of at least two certificates.
            NetworkError: Fulcio could not be reached.
        """
        body = {
            "credentials": {"oidcIdentityToken": token},
            "certificateSigningRequest": base64.b64encode(
                csr.public_bytes(serialization.Encoding.PEM)
            ).decode("ascii"),
        }
        try:
            response = await request(
                self._http,
                "POST",
                f"{self.base_url}/api/v2/signingCert",
                service=_SERVICE,
                retry=self._retry,
                json=body,
                headers={"Accept": "application/json"},
            )
        except ServiceError as e:
            if e.status in (401, 403):
                raise IdentityError(
                    f"Fulcio refused the identity token ({e.status}): {e.message}"
                ) from e
            raise
        return _read_chain(response)


def _read_chain(response: httpx.Response) -> list[bytes]:
    def bad(what: str) -> ServiceError:
        return ServiceError(f"fulcio returned an unusable certificate: {what}", service=_SERVICE)

    try:
        obj = json.loads(response.content)
    except JSON_ERRORS as e:
        raise bad("the answer is not JSON") from e
    if not isinstance(obj, dict):
        raise bad("the answer is not an object")
    if "signedCertificateEmbeddedSct" not in obj:
        if "signedCertificateDetachedSct" in obj:
            raise bad("a detached SCT (this client needs the SCT embedded in the certificate)")
        raise bad("no signedCertificateEmbeddedSct")
    try:
        pems = obj["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    except (KeyError, TypeError) as e:
        raise bad("no certificate chain") from e
    if not isinstance(pems, list) or not all(isinstance(p, str) for p in pems):
        raise bad("the chain is not a list of PEM strings")
    if len(pems) < 2:
        raise bad(f"the chain has {len(pems)} certificate(s), at least 2 are needed")
    try:
        return [
            x509.load_pem_x509_certificate(p.encode()).public_bytes(serialization.Encoding.DER)
            for p in pems
        ]
    except PARSE_ERRORS as e:
        raise bad(f"malformed PEM certificate: {e}") from e
