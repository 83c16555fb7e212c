"""OpenID Connect discovery: an issuer's endpoints, fetched once per issuer.

Owns: parsing a discovery document (OpenID Connect Discovery 1.0, with the
device authorization endpoint of RFC 8628 4), the checks that make its
endpoints safe to send codes and secrets to, and a per-issuer cache that
fetches each document once however many callers ask at the same time.

Does not own: HTTP policy (``_http``), or what the endpoints are used for
(``flows``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import attrs
import httpx

from .._core import JSON_ERRORS
from .._http import RetryPolicy, request
from ..errors import ServiceError

__all__ = ["Discovery", "ProviderMetadata", "discovery_url"]

logger = logging.getLogger(__name__)

_RETRY = RetryPolicy(attempts=3, deadline=20.0)
_SERVICE = "oidc"


def discovery_url(issuer: str) -> str:
    """Where ``issuer`` publishes its configuration (OIDC Discovery 4)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _optional_url(doc: Mapping[str, Any], name: str, issuer: str) -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ServiceError(f"{issuer}: discovery field {name!r} is not a URL", service=_SERVICE)
    try:
        endpoint = urlsplit(value)
        issuer_scheme = urlsplit(issuer).scheme
    except ValueError:  # e.g. an unclosed IPv6 host, "https://[x"
        endpoint = None
    if endpoint is None or endpoint.scheme not in ("https", "http") or not endpoint.netloc:
        raise ServiceError(f"{issuer}: discovery field {name!r} is not a URL", service=_SERVICE)
    # Codes, device codes and client secrets go to these endpoints: an https
    # issuer must not send them over plain http.
    if issuer_scheme == "https" and endpoint.scheme != "https":
        raise ServiceError(
            f"{issuer}: discovery field {name!r} is not an https URL", service=_SERVICE
        )
    return value


def _optional_strings(doc: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = doc.get(name)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


@attrs.frozen
class ProviderMetadata:
    """The parts of an issuer's discovery document that the flows use."""

    #: The issuer exactly as the document names it (what tokens carry in ``iss``).
    issuer: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    #: RFC 8628 4: absent when the issuer has no device flow.
    device_authorization_endpoint: str | None = None
    jwks_uri: str | None = None
    grant_types_supported: tuple[str, ...] | None = None
    code_challenge_methods_supported: tuple[str, ...] | None = None
    scopes_supported: tuple[str, ...] | None = None

    @classmethod
    def from_json(cls, data: bytes | str, *, issuer: str) -> ProviderMetadata:
        """Parse a discovery document fetched for ``issuer``.

        Raises:
            ServiceError: not a JSON object, its ``issuer`` is not the one
                asked for, or an endpoint is not an (https, for an https
                issuer) URL.
        """
        try:
            doc = json.loads(data)
        except JSON_ERRORS as e:
            raise ServiceError(f"{issuer}: discovery document is not JSON", service=_SERVICE) from e
        if not isinstance(doc, dict):
            raise ServiceError(
                f"{issuer}: discovery document is not a JSON object", service=_SERVICE
            )
        # OIDC Discovery 4.3: the issuer value returned MUST be identical to
        # the issuer URL that was used to retrieve the configuration.
        # (A trailing slash on the URL we were given is forgiven.)
        named = doc.get("issuer")
        if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
            raise ServiceError(
                f"{issuer}: discovery document names issuer {named!r}", service=_SERVICE
            )
        return cls(
            issuer=named,
            authorization_endpoint=_optional_url(doc, "authorization_endpoint", issuer),
            token_endpoint=_optional_url(doc, "token_endpoint", issuer),
            device_authorization_endpoint=_optional_url(
                doc, "device_authorization_endpoint", issuer
            ),
            jwks_uri=_optional_url(doc, "jwks_uri", issuer),
            grant_types_supported=_optional_strings(doc, "grant_types_supported"),
            code_challenge_methods_supported=_optional_strings(
                doc, "code_challenge_methods_supported"
            ),
            scopes_supported=_optional_strings(doc, "scopes_supported"),
        )

    def require(self, name: str) -> str:
        """The endpoint ``name`` (e.g. ``"token_endpoint"``).

        Raises:
            ServiceError: the issuer does not publish it.
        """
        value = getattr(self, name, None)
        if not isinstance(value, str):
            raise ServiceError(f"{self.issuer}: the issuer publishes no {name}", service=_SERVICE)
        return value


class Discovery:
    """Discovery documents, fetched once per issuer and kept.

    Concurrent callers for one issuer share one fetch. A failed fetch is not
    cached: the next caller tries again. The cache lives as long as this
    object; it owns no connections (``http`` belongs to its owner).
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._documents: dict[str, ProviderMetadata] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def get(self, issuer: str) -> ProviderMetadata:
        """The metadata of ``issuer``.

        Raises:
            NetworkError: the issuer could not be reached.
            ServiceError: it answered with an error or an unusable document.
        """
        cached = self._documents.get(issuer)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(issuer, anyio.Lock())
        async with lock:
            cached = self._documents.get(issuer)
            if cached is not None:
                return cached
            logger.debug("oidc: fetching the discovery document of %s", issuer)
            response = await request(
                self._http, "GET", discovery_url(issuer), service=_SERVICE, retry=_RETRY
            )
            metadata = ProviderMetadata.from_json(response.content, issuer=issuer)
            self._documents[issuer] = metadata
            return metadata
