"""LocalSigstore's OpenID Connect issuer.

Owns: minting signed identity tokens (JWT, ES256 or RS256) for any identity a
test names; the discovery document and JWKS; the token endpoint with the
``client_credentials``, ``authorization_code`` (PKCE S256 required) and device
authorization grants (RFC 6749, RFC 7636, RFC 8628); an authorization endpoint
that logs the "browser" in at once and redirects with a code, so a test acts
as the browser; and verifying tokens for Fulcio.

Does not own: what Fulcio does with the claims (``_identity``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .._core import JSON_ERRORS
from .._time import Clock
from ._http import HTTPError, Request, Response, Route
from ._identity import claims_for_identity
from ._pki import der_public_key

__all__ = ["DEVICE_GRANT", "OidcIssuer", "TokenError"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: Fulcio's audience for identity tokens.
SIGSTORE_AUDIENCE = "sigstore"
_DEFAULT_LIFETIME = timedelta(minutes=10)
_CODE_LIFETIME = timedelta(minutes=5)
#: Leeway for ``iat``/``nbf`` in the future (clock skew between issuer and Fulcio).
_SKEW = timedelta(minutes=1)


class TokenError(ValueError):
    """An identity token that does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise TokenError("expected base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as e:
        raise TokenError(f"bad base64url: {e}") from e


def _oauth_error(error: str, description: str, status: int = 400) -> HTTPError:
    # RFC 6749 5.2: error responses are {"error": ..., "error_description": ...}.
    return HTTPError(status, description, body={"error": error, "error_description": description})


@attrs.define
class _AuthCode:
    client_id: str
    redirect_uri: str
    challenge: str
    identity: str
    claims: dict[str, Any]
    nonce: str | None
    expires: datetime


@attrs.define
class DeviceGrant:
    """A pending device authorization (RFC 8628)."""

    device_code: str
    user_code: str
    client_id: str
    expires: datetime
    status: str = "pending"  # pending | approved | denied | used
    identity: str | None = None
    claims: dict[str, Any] = attrs.field(factory=dict)


class OidcIssuer:
    """The issuer. ``url`` is read through a callable because a served stack
    learns its port only when it starts."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        *,
        url: Callable[[], str],
        clock: Clock,
        default_identity: str,
        trusted_issuers: tuple[str, ...] = (),
        device_poll_interval: int = 1,
    ) -> None:
        self._key = key
        self._url = url
        self._clock = clock
        #: The identity that the authorization endpoint, the device approval page
        #: and ``client_credentials`` use when nothing else names one.
        self.default_identity = default_identity
        #: Extra issuer names whose tokens (signed with this issuer's key) Fulcio accepts.
        self.trusted_issuers = trusted_issuers
        #: ``client_credentials`` identities by client id: (identity, extra claims).
        self.clients: dict[str, tuple[str, dict[str, Any]]] = {}
        self.device_poll_interval = device_poll_interval
        self._codes: dict[str, _AuthCode] = {}
        self._devices: dict[str, DeviceGrant] = {}
        self.algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
        self.kid = b64url(hashlib.sha256(der_public_key(key.public_key())).digest()[:12])

    @property
    def url(self) -> str:
        return self._url()

    # --- tokens ------------------------------------------------------------------------------

    def _sign(self, message: bytes) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # RFC 7518 3.4
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    def encode(self, claims: Mapping[str, Any], *, header: Mapping[str, Any] | None = None) -> str:
        """Sign arbitrary claims as a compact JWS."""
        head = {"alg": self.algorithm, "typ": "JWT", "kid": self.kid, **(header or {})}
        signing_input = (
            b64url(json.dumps(head, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
        )
        return signing_input + "." + b64url(self._sign(signing_input.encode("ascii")))

    def claims_for(
        self,
        identity: str | None = None,
        *,
        audience: str = SIGSTORE_AUDIENCE,
        lifetime: timedelta = _DEFAULT_LIFETIME,
        issuer: str | None = None,
        **claims: Any,
    ) -> dict[str, Any]:
        """The claims of a token for ``identity``; ``claims`` override any of them."""
        now = self._clock()
        iat = int(now.timestamp())
        out: dict[str, Any] = {
            "iss": issuer or self.url,
            "aud": audience,
            "iat": iat,
            "nbf": iat,
            "exp": int((now + lifetime).timestamp()),
            "jti": secrets.token_hex(8),
            **claims_for_identity(identity or self.default_identity),
        }
        out.update(claims)
        return out

    def issue(self, identity: str | None = None, **kwargs: Any) -> str:
        """A signed token for ``identity`` (see :meth:`claims_for`)."""
        return self.encode(self.claims_for(identity, **kwargs))

    def verify(self, token: str, *, audience: str = SIGSTORE_AUDIENCE) -> dict[str, Any]:
        """Verify a token as Fulcio does: signature by this issuer's key, an
        accepted issuer, the audience, and the validity window.

        Raises:
            TokenError: the token is malformed or does not verify.
        """
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("not a compact JWS")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
        except JSON_ERRORS as e:
            raise TokenError("the token's header or claims are not JSON") from e
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenError("the token's header and claims must be JSON objects")
        if header.get("alg") != self.algorithm:
            raise TokenError(f"unsupported token algorithm {header.get('alg')!r}")
        if "kid" in header and header["kid"] != self.kid:
            raise TokenError("the token is signed by an unknown key")
        signature = b64url_decode(parts[2])
        message = (parts[0] + "." + parts[1]).encode("ascii")
        public = self._key.public_key()
        try:
            if isinstance(public, ec.EllipticCurvePublicKey):
                if len(signature) != 64:
                    raise TokenError("malformed ES256 signature")
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
                public.verify(der, message, ec.ECDSA(hashes.SHA256()))
            else:
                public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as e:
            raise TokenError("the token's signature does not verify") from e
        iss = claims.get("iss")
        if iss not in (self.url, *self.trusted_issuers):
            raise TokenError(f"untrusted token issuer {iss!r}")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            raise TokenError(f"the token's audience is not {audience!r}")
        now = self._clock().timestamp()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise TokenError("the token has no expiry")
        if now >= exp:
            raise TokenError("the token has expired")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if isinstance(value, int | float) and value > now + _SKEW.total_seconds():
                raise TokenError(f"the token's {name} is in the future")
        return claims

    def jwks(self) -> dict[str, Any]:
        public = self._key.public_key()
        key: dict[str, Any] = {"kid": self.kid, "use": "sig", "alg": self.algorithm}
        if isinstance(public, ec.EllipticCurvePublicKey):
            numbers = public.public_numbers()
            key |= {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url(numbers.x.to_bytes(32, "big")),
                "y": b64url(numbers.y.to_bytes(32, "big")),
            }
        else:
            rsa_numbers = public.public_numbers()
            key |= {
                "kty": "RSA",
                "n": b64url(rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big")),
                "e": b64url(rsa_numbers.e.to_bytes(3, "big")),
            }
        return {"keys": [key]}

    # --- device flow helpers ------------------------------------------------------------------

    def _device_by_user_code(self, user_code: str) -> DeviceGrant:
        for grant in self._devices.values():
            if grant.user_code == user_code.upper():
                return grant
        raise KeyError(f"no pending device authorization with user code {user_code!r}")

    def approve_device(self, user_code: str, identity: str | None = None, **claims: Any) -> None:
        """Approve a device authorization as the user would in a browser.

        Raises:
            KeyError: no device authorization has this user code.
        """
        grant = self._device_by_user_code(user_code)
        grant.status = "approved"
        grant.identity = identity or self.default_identity
        grant.claims = dict(claims)

    def deny_device(self, user_code: str) -> None:
        """Deny a device authorization.

        Raises:
            KeyError: no device authorization has this user code.
        """
        self._device_by_user_code(user_code).status = "denied"

    def pending_user_codes(self) -> list[str]:
        return [g.user_code for g in self._devices.values() if g.status == "pending"]

    # --- HTTP ----------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/.well-known/openid-configuration", self._discovery),
            Route("GET", "/keys", self._keys),
            Route("GET", "/auth", self._authorize),
            Route("POST", "/token", self._token),
            Route("POST", "/device/code", self._device_code),
            Route("GET", "/device", self._device_page),
        ]

    async def _discovery(self, request: Request) -> Response:
        url = self.url
        return Response.json(
            {
                "issuer": url,
                "authorization_endpoint": f"{url}/auth",
                "token_endpoint": f"{url}/token",
                "jwks_uri": f"{url}/keys",
                "device_authorization_endpoint": f"{url}/device/code",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [self.algorithm],
                "grant_types_supported": [
                    "authorization_code",
                    "client_credentials",
                    DEVICE_GRANT,
                ],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "claims_supported": ["iss", "sub", "aud", "exp", "iat", "email", "email_verified"],
            }
        )

    async def _keys(self, request: Request) -> Response:
        return Response.json(self.jwks())

    async def _authorize(self, request: Request) -> Response:
        q = request.query
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            raise HTTPError(400, "redirect_uri is required")
        if not (redirect_uri.isascii() and redirect_uri.isprintable()) or " " in redirect_uri:
            # It becomes a Location header: a URI is printable ASCII (RFC 3986).
            raise HTTPError(400, "redirect_uri is not a URI")
        if q.get("response_type") != "code":
            raise HTTPError(400, "response_type must be 'code'")
        challenge = q.get("code_challenge")
        if not challenge or q.get("code_challenge_method") != "S256":
            # OAuth 2.1: PKCE is required, and only S256 is offered.
            raise HTTPError(400, "PKCE with code_challenge_method=S256 is required")
        identity = q.get("login_hint") or self.default_identity
        try:
            claims_for_identity(identity)
        except ValueError as e:
            raise HTTPError(400, str(e)) from e
        code = secrets.token_urlsafe(24)
        self._codes[code] = _AuthCode(
            client_id=q.get("client_id", ""),
            redirect_uri=redirect_uri,
            challenge=challenge,
            identity=identity,
            claims={},
            nonce=q.get("nonce"),
            expires=self._clock() + _CODE_LIFETIME,
        )
        params = {"code": code}
        if "state" in q:
            params["state"] = q["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return Response.redirect(redirect_uri + sep + urlencode(params))

    @staticmethod
    def _client_id(request: Request, form: Mapping[str, str]) -> str:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:], validate=True).decode()
            except (ValueError, UnicodeDecodeError) as e:
                raise _oauth_error("invalid_client", "malformed basic authorization") from e
            return decoded.partition(":")[0]
        return form.get("client_id", "")

    def _token_response(self, identity: str, audience: str, **claims: Any) -> Response:
        try:
            token = self.issue(identity, audience=audience or SIGSTORE_AUDIENCE, **claims)
        except ValueError as e:
            raise _oauth_error("invalid_request", str(e)) from e
        return Response.json(
            {
                "access_token": token,
                "id_token": token,
                "token_type": "Bearer",
                "expires_in": int(_DEFAULT_LIFETIME.total_seconds()),
                "scope": "openid email",
            },
            headers={"cache-control": "no-store"},
        )

    async def _token(self, request: Request) -> Response:
        form = request.form()
        grant_type = form.get("grant_type")
        client_id = self._client_id(request, form)
        if grant_type == "client_credentials":
            identity, claims = self.clients.get(client_id, (self.default_identity, {}))
            return self._token_response(identity, client_id, **claims)
        if grant_type == "authorization_code":
            return self._exchange_code(form, client_id)
        if grant_type == DEVICE_GRANT:
            return self._poll_device(form)
        raise _oauth_error("unsupported_grant_type", f"unsupported grant type {grant_type!r}")

    def _exchange_code(self, form: Mapping[str, str], client_id: str) -> Response:
        code = self._codes.pop(form.get("code", ""), None)  # single use (RFC 6749 4.1.2)
        if code is None or code.expires <= self._clock():
            raise _oauth_error("invalid_grant", "unknown, used or expired authorization code")
        if client_id and code.client_id and client_id != code.client_id:
            raise _oauth_error("invalid_grant", "the code was issued to another client")
        if form.get("redirect_uri") != code.redirect_uri:
            raise _oauth_error("invalid_grant", "redirect_uri does not match the authorization")
        verifier = form.get("code_verifier", "")
        # RFC 7636 4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
        expected = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        if not verifier or not hmac.compare_digest(expected, code.challenge):
            raise _oauth_error("invalid_grant", "PKCE verification failed")
        extra = dict(code.claims)
        if code.nonce is not None:
            extra["nonce"] = code.nonce
        return self._token_response(code.identity, code.client_id or client_id, **extra)

    async def _device_code(self, request: Request) -> Response:
        form = request.form()
        device_code = secrets.token_urlsafe(24)
        raw = secrets.token_hex(4).upper()
        user_code = f"{raw[:4]}-{raw[4:]}"
        grant = DeviceGrant(
            device_code=device_code,
            user_code=user_code,
            client_id=self._client_id(request, form),
            expires=self._clock() + _CODE_LIFETIME,
        )
        self._devices[device_code] = grant
        verification_uri = f"{self.url}/device"
        return Response.json(
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": verification_uri,
                "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
                "expires_in": int(_CODE_LIFETIME.total_seconds()),
                "interval": self.device_poll_interval,
            }
        )

    def _poll_device(self, form: Mapping[str, str]) -> Response:
        grant = self._devices.get(form.get("device_code", ""))
        if grant is None or grant.status == "used":
            raise _oauth_error("invalid_grant", "unknown device code")
        if grant.expires <= self._clock():
            raise _oauth_error("expired_token", "the device code has expired")
        if grant.status == "pending":
            raise _oauth_error("authorization_pending", "the user has not yet approved")
        if grant.status == "denied":
            raise _oauth_error("access_denied", "the user denied the authorization")
        grant.status = "used"
        assert grant.identity is not None
        return self._token_response(grant.identity, grant.client_id, **grant.claims)

    async def _device_page(self, request: Request) -> Response:
        """The verification page: a GET with ``user_code`` approves as the default identity."""
        user_code = request.query.get("user_code")
        if not user_code:
            return Response.text("Enter the code shown on your device.", content_type="text/html")
        try:
            self.approve_device(user_code)
        except KeyError as e:
            raise HTTPError(404, "unknown user code") from e
        return Response.text(
            "Device approved. You can close this window.", content_type="text/html"
        )
