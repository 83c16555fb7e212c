"""Shared pieces of the identity tests: tokens, a fixed clock, a browser, a user."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.lowlevel
import httpx

from sigstore_async.oidc import DeviceAuthorization
from sigstore_async.testing import LocalSigstore

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EMAIL = "alice@example.com"
WORKFLOW = "https://github.com/octo/repo/.github/workflows/release.yml@refs/tags/v1"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def clock() -> datetime:
    return NOW


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(
    claims: dict[str, Any] | None = None,
    *,
    header: dict[str, Any] | None = None,
    **overrides: Any,
) -> str:
    """A JWT with the given claims over a fixed fake signature (the SDK never
    checks the signature: Fulcio does)."""
    base: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "sub": "1234567890",
        "aud": "sigstore",
        "iat": int(NOW.timestamp()) - 60,
        "exp": int((NOW + timedelta(minutes=10)).timestamp()),
        "email": EMAIL,
        "email_verified": True,
    }
    if claims is not None:
        base = dict(claims)
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    head = header if header is not None else {"alg": "ES256", "typ": "JWT"}
    return ".".join(
        [
            b64url(json.dumps(head).encode()),
            b64url(json.dumps(base).encode()),
            b64url(b"not-a-real-signature"),
        ]
    )


class BrowserTransport(httpx.AsyncBaseTransport):
    """A browser's network: LocalSigstore in process, everything else must be
    loopback (the SDK's redirect server). Nothing reaches the internet."""

    def __init__(self, stack: LocalSigstore) -> None:
        self._stack_host = urlsplit(stack.base_url).hostname
        self._stack = stack.transport
        self._net = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self._stack_host:
            return await self._stack.handle_async_request(request)
        assert request.url.host in ("localhost", "127.0.0.1", "::1"), request.url
        return await self._net.handle_async_request(request)

    async def aclose(self) -> None:
        await self._net.aclose()


class User:
    """The person at the keyboard, scripted: a browser that follows the
    issuer's redirect to the loopback server (optionally tampering with it),
    or a user who pastes the out-of-band code or enters the device code."""

    def __init__(
        self,
        stack: LocalSigstore,
        *,
        has_browser: bool = True,
        tamper: Callable[[str], str] | None = None,
        enter_device_code_at_once: bool = False,
    ) -> None:
        self.stack = stack
        self.has_browser = has_browser
        self.tamper = tamper
        self.enter_device_code_at_once = enter_device_code_at_once
        self.visited: list[str] = []
        self.callback_status: int | None = None
        self.device: DeviceAuthorization | None = None
        self.transport = BrowserTransport(stack)
        self.browser = httpx.AsyncClient(transport=self.transport, trust_env=False)

    async def aclose(self) -> None:
        await self.browser.aclose()

    async def open_browser(self, url: str) -> bool:
        if not self.has_browser:
            return False
        self.visited.append(url)
        response = await self.browser.get(url)
        assert response.status_code in (302, 303), response.text
        location = response.headers["location"]
        if self.tamper is not None:
            location = self.tamper(location)
        self.visited.append(location)
        callback = await self.browser.get(location)
        self.callback_status = callback.status_code
        return True

    async def read_code(self, url: str) -> str:
        self.visited.append(url)
        # LocalSigstore "shows" the code by redirecting to the OOB URN, which
        # httpx's client refuses to parse as a redirect: ask the transport.
        response = await self.transport.handle_async_request(httpx.Request("GET", url))
        location = response.headers["location"]
        assert location.startswith("urn:ietf:wg:oauth:2.0:oob")
        return parse_qs(urlsplit(location).query)["code"][0] + "\n"

    async def show_device_code(self, authorization: DeviceAuthorization) -> None:
        self.device = authorization
        if self.enter_device_code_at_once:
            await self.enter_device_code()

    async def enter_device_code(self) -> None:
        """What the person does on their phone: open the page, type the code."""
        assert self.device is not None
        response = await self.browser.get(
            self.device.verification_uri, params={"user_code": self.device.user_code}
        )
        assert response.status_code == 200, response.text


class RecordingSleep:
    """Stands in for anyio.sleep in the device flow: records each requested
    interval and runs a hook before the n-th poll, without waiting."""

    def __init__(self, hooks: dict[int, Callable[[], Awaitable[None]]] | None = None) -> None:
        self.delays: list[float] = []
        self.hooks = hooks or {}

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        hook = self.hooks.get(len(self.delays))
        if hook is not None:
            await hook()
        await anyio.lowlevel.checkpoint()
