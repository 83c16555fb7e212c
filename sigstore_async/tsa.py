"""A thin client for RFC 3161 timestamp authorities.

Owns: building a ``TimeStampReq`` over the signature bytes (SHA-256 imprint, a
fresh nonce, the TSA's certificate requested), posting it as
``application/timestamp-query``, and the checks that bind the answer to this
request: status granted, the same imprint and nonce. Whether the token's
signature and chain verify against the trust root is the verifier's question
(the ``Signer`` verifies each bundle before returning it).

Stateless: ``TsaClient(http, url)`` holds no connection of its own. ``url`` is
the full endpoint as a signing config lists it (``.../api/v1/timestamp``).
"""

from __future__ import annotations

import hashlib

import httpx
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    decode_timestamp_response,
)

from ._http import RetryPolicy, request
from .errors import ServiceError, TimestampError

__all__ = ["TsaClient", "check_timestamp_response", "timestamp_request"]

_SERVICE = "tsa"


def timestamp_request(signature: bytes) -> tuple[bytes, int]:
    """A DER ``TimeStampReq`` over ``signature`` (SHA-256) and its nonce."""
    req = (
        TimestampRequestBuilder()
        .hash_algorithm(HashAlgorithm.SHA256)
        .data(signature)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    nonce = req.nonce
    assert nonce is not None
    return req.as_bytes(), nonce


def check_timestamp_response(der: bytes, *, signature: bytes, nonce: int) -> None:
    """Check that a ``TimeStampResp`` answers the request for ``signature``.

    Raises:
        ServiceError: the answer is not a ``TimeStampResp``, or not granted.
        TimestampError: it timestamps other bytes, or echoes another nonce.
    """
    try:
        response = decode_timestamp_response(der)
        # RFC 3161 2.4.2: granted (0) and grantedWithMods (1) carry a token.
        if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            detail = "; ".join(response.status_string) or f"status {response.status}"
            raise ServiceError(f"tsa refused to timestamp: {detail}", service=_SERVICE)
        # rfc3161-client reads the token lazily: a malformed one raises here, not above.
        info = response.tst_info
        imprint, echoed_nonce = info.message_imprint.message, info.nonce
    except ValueError as e:
        raise ServiceError(f"tsa answered with an unusable response: {e}", service=_SERVICE) from e
    if imprint != hashlib.sha256(signature).digest():
        raise TimestampError("the timestamp covers other bytes than the signature")
    if echoed_nonce != nonce:
        raise TimestampError("the timestamp answers another request (nonce mismatch)")


class TsaClient:
    """A timestamp authority at ``url`` over a shared ``httpx.AsyncClient``."""

    def __init__(
        self, http: httpx.AsyncClient, url: str, *, retry: RetryPolicy | None = None
    ) -> None:
        self._http = http
        self.url = url
        self._retry = retry or RetryPolicy()

    async def timestamp(self, signature: bytes) -> bytes:
        """Timestamp ``signature``; return the DER ``TimeStampResp``.

        Raises:
            ServiceError: an error answer, or one that is not a granted
                ``TimeStampResp``.
            TimestampError: the answer is for other bytes or another request.
            NetworkError: the TSA could not be reached.
        """
        body, nonce = timestamp_request(signature)
        response = await request(
            self._http,
            "POST",
            self.url,
            service=_SERVICE,
            retry=self._retry,
            content=body,
            headers={
                "Content-Type": "application/timestamp-query",
                "Accept": "application/timestamp-reply",
            },
        )
        check_timestamp_response(response.content, signature=signature, nonce=nonce)
        return response.content
