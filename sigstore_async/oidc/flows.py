"""OAuth flows that turn a person or a service into an identity token.

Owns: the authorization code flow with PKCE S256 and a ``state`` check
(RFC 6749 4.1, RFC 7636, OAuth for native apps RFC 8252) over a loopback
redirect server or an out-of-band paste; the device authorization grant
(RFC 8628) with polling that honours ``interval`` and ``slow_down``; the
client credentials grant (RFC 6749 4.4); and how a terminal user is asked to
take part (:class:`TerminalInteraction`, replaceable through the
:class:`Interaction` protocol).

Does not own: where the issuer's endpoints are (``discovery``), what the
token means (``token``), HTTP policy (``_http``), or the clock (``_time``).

The loopback server is a few lines of HTTP/1.1 on anyio sockets rather than a
web framework: it answers one GET on ``/auth/callback`` and 404 otherwise, and
never logs the request line (it carries the authorization code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import secrets
import sys
import webbrowser
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Protocol, TextIO
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import anyio
import anyio.abc
import anyio.to_thread
import attrs
import httpx

from .._core import JSON_ERRORS
from .._http import NO_RETRY, RetryPolicy, request
from .._time import Clock, utc_now
from ..errors import AuthorizationFailed, NetworkError, ServiceError
from .discovery import Discovery, ProviderMetadata
from .token import DEFAULT_AUDIENCE, DEFAULT_LEEWAY, IdentityToken

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEVICE_GRANT",
    "OOB_REDIRECT_URI",
    "DeviceAuthorization",
    "Interaction",
    "Issuer",
    "TerminalInteraction",
]

logger = logging.getLogger(__name__)

#: Sigstore's public OAuth client (Dex's ``sigstore`` client, no secret).
DEFAULT_CLIENT_ID = "sigstore"
DEFAULT_SCOPE = "openid email"
#: The out-of-band redirect: the issuer shows the code for the user to paste.
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_CALLBACK_PATH = "/auth/callback"
_SERVICE = "oidc"
# Device authorization and polling are idempotent; a code exchange is not
# (a code is single use), so it is sent once.
_RETRY = RetryPolicy(attempts=3, deadline=20.0)
_OAUTH_ERROR_STATUSES = frozenset({400, 401})
_MAX_REQUEST_HEAD = 16 * 1024


@attrs.frozen
class DeviceAuthorization:
    """What the user must be shown to approve a device (RFC 8628 3.2).

    The device code itself is a secret between this client and the issuer and
    is not part of this value.
    """

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    #: Seconds until the codes expire.
    expires_in: float
    #: Seconds between polls (RFC 8628 3.2: 5 when the issuer gives none).
    interval: float


class Interaction(Protocol):
    """How a flow involves its user. Tests and GUI applications replace
    :class:`TerminalInteraction` with their own."""

    async def open_browser(self, url: str) -> bool:
        """Send the user's browser to ``url``; False when there is no browser."""
        ...

    async def read_code(self, url: str) -> str:
        """Out of band: ask the user to open ``url``, sign in, and paste the
        code the issuer then shows; return that code."""
        ...

    async def show_device_code(self, authorization: DeviceAuthorization) -> None:
        """Tell the user where to go and which code to enter."""
        ...


def _has_display(env: Mapping[str, str]) -> bool:
    # On X11/Wayland systems a missing display means webbrowser would pick a
    # console browser that takes over the terminal; treat that as no browser.
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


class TerminalInteraction:
    """The user at a terminal: the system browser when there is a display,
    messages on ``output`` (stderr), codes read from ``input`` (stdin).

    ``browser=False`` never opens a browser (the out-of-band flow is used).
    """

    def __init__(
        self,
        *,
        browser: bool | None = None,
        output: TextIO | None = None,
        input: TextIO | None = None,
    ) -> None:
        self._browser = browser
        self._output = output
        self._input = input

    def _say(self, text: str) -> None:
        out = self._output or sys.stderr
        print(text, file=out, flush=True)

    async def open_browser(self, url: str) -> bool:
        if self._browser is False or (self._browser is None and not _has_display(os.environ)):
            return False
        # webbrowser.open can block (it may start a process): keep it off the loop.
        opened = await anyio.to_thread.run_sync(webbrowser.open, url, abandon_on_cancel=True)
        if opened:
            self._say(f"Waiting for the browser. If none opened, visit:\n\n    {url}\n")
        return bool(opened)

    async def read_code(self, url: str) -> str:
        self._say(f"Open this link in a browser, sign in, and paste the code here:\n\n    {url}\n")
        stream = self._input or sys.stdin
        print("Code: ", end="", file=self._output or sys.stderr, flush=True)
        line = await anyio.to_thread.run_sync(stream.readline, abandon_on_cancel=True)
        return str(line).strip()

    async def show_device_code(self, authorization: DeviceAuthorization) -> None:
        where = authorization.verification_uri_complete or authorization.verification_uri
        self._say(
            f"To sign in, visit {authorization.verification_uri} and enter the code "
            f"{authorization.user_code}\n(or open {where})\n"
        )


def _seconds(value: object) -> float | None:
    """A JSON number of seconds as a float: None unless finite and not negative
    (JSON numbers may be huge integers, or NaN and Infinity as Python reads them)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@attrs.frozen(repr=False)
class _Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> _Pkce:
        # RFC 7636 4.1: 43-128 unreserved characters; 64 random bytes give 86.
        verifier = _b64url(secrets.token_bytes(64))
        # RFC 7636 4.2: S256 = BASE64URL(SHA256(ASCII(code_verifier))).
        return cls(verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest()))


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class _Callback:
    """The loopback server's one job: receive the redirect, check ``state``."""

    def __init__(self, state: str) -> None:
        self._state = state
        self._done = anyio.Event()
        self._code: str | None = None
        self._error: AuthorizationFailed | None = None

    async def wait(self) -> str:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._code is not None
        return self._code

    def _finish(self, code: str | None, error: AuthorizationFailed | None) -> None:
        if not self._done.is_set():
            self._code, self._error = code, error
            self._done.set()

    def _route(self, target: str) -> tuple[int, str]:
        try:
            url = urlsplit(target)
        except ValueError:  # e.g. "//[x": an unclosed IPv6 host
            return 400, "Bad request."
        if url.path != _CALLBACK_PATH:
            return 404, "Not found."
        query = parse_qs(url.query)
        code = query.get("code", [None])[0]
        error = query.get("error", [None])[0]
        if code is None and error is None:
            return 400, "This page expects a sign-in redirect."
        state = query.get("state", [""])[0]
        # RFC 6749 10.12: a redirect without our state may be forged (CSRF);
        # fail closed rather than wait for a better one.
        if not hmac.compare_digest(state.encode(), self._state.encode()):
            self._finish(
                None, AuthorizationFailed("the redirect's state does not match", error="state")
            )
            return 400, "Sign-in failed: the state does not match. Start again."
        if error is not None:
            description = query.get("error_description", [None])[0]
            self._finish(
                None,
                AuthorizationFailed(
                    f"the issuer refused the authorization: {error}"
                    + (f" ({description[:200]})" if description else ""),
                    error=error,
                    description=description,
                ),
            )
            return 400, "Sign-in failed. You can close this window."
        self._finish(code, None)
        return 200, "Signed in. You can close this window and return to the terminal."

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                with anyio.fail_after(10):
                    head = await _read_head(stream)
                    status, text = self._respond(head)
                    await stream.send(_response(status, text))
            except (TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                return

    def _respond(self, head: bytes | None) -> tuple[int, str]:
        if head is None:
            return 400, "Bad request."
        try:
            line = head.split(b"\r\n", 1)[0].decode("ascii")
            method, target, version = line.split(" ")
        except (UnicodeDecodeError, ValueError):
            return 400, "Bad request."
        if method != "GET" or not version.startswith("HTTP/1."):
            return 405, "Method not allowed."
        return self._route(target)


async def _read_head(stream: anyio.abc.SocketStream) -> bytes | None:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > _MAX_REQUEST_HEAD:
            return None
        buffer += await stream.receive()
    return buffer


def _response(status: int, text: str) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}[status]
    body = (
        f"<!doctype html><meta charset=utf-8><title>sigstore-async</title><p>{text}</p>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


@asynccontextmanager
async def _redirect_server(port: int, state: str) -> AsyncIterator[tuple[_Callback, int]]:
    """Listen on every loopback address of ``localhost`` (RFC 8252 7.3), one port."""
    listener = await anyio.create_tcp_listener(local_host="localhost", local_port=port)
    async with listener:
        listeners = getattr(listener, "listeners", [listener])
        for each in listeners:
            address = each.extra(anyio.abc.SocketAttribute.local_address)[0]  # noqa: S610
            if not ipaddress.ip_address(str(address).split("%")[0]).is_loopback:
                raise RuntimeError(f"'localhost' resolves to a non-loopback address {address}")
        bound = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        callback = _Callback(state)
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, callback.handle)
            try:
                yield callback, bound
            except Exception as e:
                # Raised by the caller's block: re-raised below as itself, not
                # wrapped in the ExceptionGroup of a task group it never saw.
                failure = e
            finally:
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure


class Issuer:
    """An OpenID Connect issuer and this client's registration with it.

    Owns the flows; shares ``http`` (owned by the caller) and a
    :class:`~sigstore_async.oidc.discovery.Discovery` cache. No I/O happens
    until a flow is awaited.
    """

    #: Sigstore's public-good federated issuer (Dex).
    PRODUCTION = "https://oauth2.sigstore.dev/auth"
    STAGING = "https://oauth2.sigstage.dev/auth"

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str | None = None,
        audience: str = DEFAULT_AUDIENCE,
        scope: str = DEFAULT_SCOPE,
        clock: Clock = utc_now,
        leeway: timedelta = DEFAULT_LEEWAY,
        discovery: Discovery | None = None,
    ) -> None:
        self._http = http
        self.url = url
        self.client_id = client_id
        self._client_secret = client_secret
        self.audience = audience
        self.scope = scope
        self._clock = clock
        self._leeway = leeway
        self._discovery = discovery if discovery is not None else Discovery(http)

    @classmethod
    def production(cls, http: httpx.AsyncClient, **kwargs: Any) -> Issuer:
        return cls(http, cls.PRODUCTION, **kwargs)

    @classmethod
    def staging(cls, http: httpx.AsyncClient, **kwargs: Any) -> Issuer:
        return cls(http, cls.STAGING, **kwargs)

    def __repr__(self) -> str:
        return f"Issuer({self.url!r}, client_id={self.client_id!r})"

    async def metadata(self) -> ProviderMetadata:
        """The issuer's discovery document (fetched once).

        Raises:
            NetworkError, ServiceError: discovery failed.
        """
        return await self._discovery.get(self.url)

    # --- the token endpoint ------------------------------------------------------------------

    def _client_auth(self, data: dict[str, str]) -> dict[str, str]:
        """Client authentication: HTTP Basic with a secret (RFC 6749 2.3.1:
        each part form-encoded first), else a public client's ``client_id``."""
        if self._client_secret is None:
            data["client_id"] = self.client_id
            return {}
        pair = (
            urlencode({"a": self.client_id})[2:] + ":" + urlencode({"a": self._client_secret})[2:]
        )
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}

    async def _post_form(
        self, endpoint: str, data: dict[str, str], *, retry: RetryPolicy = NO_RETRY
    ) -> dict[str, Any]:
        """POST a form to an OAuth endpoint; the JSON answer, or its OAuth error raised.

        Raises:
            AuthorizationFailed: the issuer answered with an OAuth ``error``.
            NetworkError, ServiceError: transport failure or an unusable answer.
        """
        headers = {"Accept": "application/json", **self._client_auth(data)}
        response = await request(
            self._http,
            "POST",
            endpoint,
            service=_SERVICE,
            data=data,
            headers=headers,
            retry=retry,
            ok_statuses=_OAUTH_ERROR_STATUSES,
        )
        try:
            body = json.loads(response.content)
        except JSON_ERRORS:
            body = None
        if not isinstance(body, dict):
            raise ServiceError(
                f"{self.url}: answered {response.status_code} without a JSON object",
                service=_SERVICE,
                status=response.status_code,
            )
        error = body.get("error")
        if error is not None or response.status_code in _OAUTH_ERROR_STATUSES:
            # RFC 6749 5.2
            code = error if isinstance(error, str) else "invalid_response"
            description = body.get("error_description")
            description = description[:200] if isinstance(description, str) else None
            raise AuthorizationFailed(
                f"{self.url}: {code}" + (f": {description}" if description else ""),
                error=code,
                description=description,
            )
        return body

    def _token_from(
        self, body: Mapping[str, Any], *, issuer: str, nonce: str | None = None
    ) -> IdentityToken:
        """The identity token of a token response: ``id_token`` (OpenID
        Connect), else an ``access_token`` that is itself a JWT."""
        raw = body.get("id_token") or body.get("access_token")
        if not isinstance(raw, str) or not raw:
            raise ServiceError(f"{self.url}: the token response has no token", service=_SERVICE)
        token = IdentityToken.from_jwt(
            raw, now=self._clock(), audience=self.audience, issuer=issuer, leeway=self._leeway
        )
        # OpenID Connect Core 3.1.3.7 (11): the nonce sent must come back.
        if nonce is not None and not hmac.compare_digest(
            str(token.claims.get("nonce", "")).encode(), nonce.encode()
        ):
            raise AuthorizationFailed("the identity token's nonce does not match", error="nonce")
        return token

    # --- flows ---------------------------------------------------------------------------------

    async def interactive(
        self,
        *,
        interaction: Interaction | None = None,
        force_oob: bool = False,
        redirect_port: int = 0,
    ) -> IdentityToken:
        """Sign a person in: authorization code with PKCE S256, the browser
        sent to the issuer and back to a loopback redirect server, or, without
        a browser (or with ``force_oob``), the out-of-band paste flow.

        ``redirect_port`` fixes the loopback port for issuers that register an
        exact redirect URI. The flow waits for the user as long as it takes:
        bound it with ``anyio.fail_after`` (the CLI gives people five minutes).

        Raises:
            AuthorizationFailed: refused, ``state`` or nonce mismatch.
            IdentityError: the issued token is unusable (see ``IdentityToken.from_jwt``).
            NetworkError, ServiceError: the issuer could not be used.
        """
        token, _how = await self._interactive(
            interaction=interaction, force_oob=force_oob, redirect_port=redirect_port
        )
        return token

    async def _interactive(
        self,
        *,
        interaction: Interaction | None,
        force_oob: bool,
        redirect_port: int = 0,
    ) -> tuple[IdentityToken, str]:
        user = interaction if interaction is not None else TerminalInteraction()
        metadata = await self.metadata()
        authorize = metadata.require("authorization_endpoint")
        token_endpoint = metadata.require("token_endpoint")
        methods = metadata.code_challenge_methods_supported
        if methods is not None and "S256" not in methods:
            raise ServiceError(f"{self.url}: the issuer does not offer PKCE S256", service=_SERVICE)
        pkce = _Pkce.new()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)

        def url_for(redirect_uri: str) -> str:
            return _with_query(
                authorize,
                {
                    "response_type": "code",
                    "client_id": self.client_id,
                    "redirect_uri": redirect_uri,
                    "scope": self.scope,
                    "state": state,
                    "nonce": nonce,
                    "code_challenge": pkce.challenge,
                    "code_challenge_method": "S256",
                },
            )

        code: str | None = None
        how = redirect_uri = ""
        if not force_oob:
            async with _redirect_server(redirect_port, state) as (callback, port):
                # Dex accepts loopback redirects for public clients on "localhost".
                redirect_uri = f"http://localhost:{port}{_CALLBACK_PATH}"
                if await user.open_browser(url_for(redirect_uri)):
                    code, how = await callback.wait(), "browser"
        if code is None:
            redirect_uri = OOB_REDIRECT_URI
            code, how = (await user.read_code(url_for(redirect_uri))).strip(), "out-of-band"
            if not code:
                raise AuthorizationFailed("no authorization code was entered")
        body = await self._post_form(
            token_endpoint,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": pkce.verifier,
            },
        )
        logger.debug("oidc: %s flow finished with %s", how, self.url)
        return self._token_from(body, issuer=metadata.issuer, nonce=nonce), how

    async def device_flow(
        self,
        *,
        interaction: Interaction | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> IdentityToken:
        """Sign a person in from a machine without a browser: show a code,
        let them approve it on another device, poll until they do (RFC 8628).

        Polls every ``interval`` seconds, five more after each ``slow_down``
        (RFC 8628 3.5), doubling after a network failure, until the codes
        expire. ``sleep`` is how a wait happens (tests pass a recording one).

        Raises:
            AuthorizationFailed: denied (``access_denied``), expired
                (``expired_token``), or another OAuth error.
            IdentityError: the issued token is unusable.
            NetworkError, ServiceError: the issuer could not be used.
        """
        user = interaction if interaction is not None else TerminalInteraction()
        metadata = await self.metadata()
        endpoint = metadata.require("device_authorization_endpoint")
        token_endpoint = metadata.require("token_endpoint")
        body = await self._post_form(endpoint, {"scope": self.scope}, retry=_RETRY)
        device_code, authorization = self._device_authorization(body)
        await user.show_device_code(authorization)
        interval = authorization.interval
        started = anyio.current_time()
        waited = 0.0  # time asked of ``sleep``: a lower bound even when it is not anyio's
        while True:
            elapsed = max(anyio.current_time() - started, waited)
            if elapsed + interval > authorization.expires_in:
                raise AuthorizationFailed(
                    "the device code expired before it was approved", error="expired_token"
                )
            await sleep(interval)
            waited += interval
            try:
                answer = await self._post_form(
                    token_endpoint, {"grant_type": DEVICE_GRANT, "device_code": device_code}
                )
            except AuthorizationFailed as e:
                if e.error == "authorization_pending":
                    continue
                if e.error == "slow_down":
                    interval += 5  # RFC 8628 3.5: MUST increase by 5 seconds
                    continue
                raise
            except NetworkError:
                interval *= 2  # RFC 8628 3.5: back off after a connection timeout
                continue
            return self._token_from(answer, issuer=metadata.issuer)

    def _device_authorization(self, body: Mapping[str, Any]) -> tuple[str, DeviceAuthorization]:
        device_code = body.get("device_code")
        user_code = body.get("user_code")
        # Google names it verification_url; RFC 8628 3.2 verification_uri.
        uri = body.get("verification_uri") or body.get("verification_url")
        complete = body.get("verification_uri_complete")
        expires_in = _seconds(body.get("expires_in"))
        interval = _seconds(body.get("interval", 5))
        if not (
            isinstance(device_code, str)
            and device_code
            and isinstance(user_code, str)
            and user_code
            and isinstance(uri, str)
            and uri
            and expires_in is not None
            and expires_in > 0
            and interval is not None
        ):
            raise ServiceError(
                f"{self.url}: malformed device authorization response", service=_SERVICE
            )
        return device_code, DeviceAuthorization(
            user_code=user_code,
            verification_uri=uri,
            verification_uri_complete=complete if isinstance(complete, str) else None,
            expires_in=expires_in,
            interval=interval,
        )

    async def client_credentials(self, *, extra: Mapping[str, str] | None = None) -> IdentityToken:
        """A token for a service, from its own credentials (RFC 6749 4.4).

        ``extra`` adds form parameters some issuers want (e.g. ``audience``).

        Raises:
            AuthorizationFailed: the issuer refused the client (``invalid_client`` ...).
            IdentityError: the issued token is unusable.
            NetworkError, ServiceError: the issuer could not be used.
        """
        metadata = await self.metadata()
        token_endpoint = metadata.require("token_endpoint")
        data = {"grant_type": "client_credentials", "scope": self.scope, **(extra or {})}
        body = await self._post_form(token_endpoint, data, retry=_RETRY)
        return self._token_from(body, issuer=metadata.issuer)
