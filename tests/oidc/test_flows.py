"""The OAuth flows against LocalSigstore's OIDC issuer, the test acting as the
browser (following the issuer's redirect to the loopback server) or as the
user (pasting the out-of-band code, entering the device code)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import anyio
import httpx
import pytest

from sigstore_async._http import new_client
from sigstore_async.errors import (
    AuthorizationFailed,
    NetworkError,
    ServiceError,
    WrongAudience,
    WrongIssuer,
)
from sigstore_async.oidc import Issuer
from sigstore_async.oidc.flows import _Callback
from sigstore_async.testing import LocalSigstore

from ._support import EMAIL, NOW, RecordingSleep, User, clock, make_jwt

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stack() -> AsyncIterator[LocalSigstore]:
    async with LocalSigstore(clock=clock, default_identity=EMAIL) as s:
        yield s


@pytest.fixture
async def http(stack: LocalSigstore) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(transport=stack.transport) as client:
        yield client


@pytest.fixture
async def user(stack: LocalSigstore) -> AsyncIterator[User]:
    u = User(stack)
    yield u
    await u.aclose()


def issuer(stack: LocalSigstore, http: httpx.AsyncClient, **kwargs: Any) -> Issuer:
    return Issuer(http, stack.oidc_url, clock=clock, **kwargs)


# --- authorization code + PKCE ----------------------------------------------------------------


async def test_browser_flow_signs_in_through_the_loopback_redirect(
    stack: LocalSigstore, http: httpx.AsyncClient, user: User
) -> None:
    token, how = await issuer(stack, http)._interactive(interaction=user, force_oob=False)
    assert how == "browser"
    assert token.identity == EMAIL
    assert token.issuer == stack.oidc_url
    assert user.callback_status == 200
    # What the browser was sent to: PKCE S256, state and nonce, a loopback redirect.
    query = parse_qs(urlsplit(user.visited[0]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["sigstore"]
    assert query["redirect_uri"][0].startswith("http://localhost:")
    assert query["redirect_uri"][0].endswith("/auth/callback")
    assert query["state"][0]
    assert query["nonce"][0]
    assert token.claims["nonce"] == query["nonce"][0]
    # The issuer sent the browser back with the same state.
    assert parse_qs(urlsplit(user.visited[1]).query)["state"] == query["state"]


async def test_browser_flow_public_api(
    stack: LocalSigstore, http: httpx.AsyncClient, user: User
) -> None:
    # A trailing slash on the issuer URL does not change what iss must be.
    token = await Issuer(http, stack.oidc_url + "/", clock=clock).interactive(interaction=user)
    assert token.identity == EMAIL
    assert token.certificate_issuer == stack.oidc_url


async def test_neither_token_nor_code_reaches_a_log_line(
    stack: LocalSigstore, http: httpx.AsyncClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await issuer(stack, http).interactive(interaction=user)
    code = parse_qs(urlsplit(user.visited[1]).query)["code"][0]
    raw = token.reveal()
    assert raw not in caplog.text
    assert raw.split(".")[1] not in caplog.text
    # The test's own browser logs the redirect it follows (httpx); the SDK never does.
    sdk = [r for r in caplog.records if r.name.startswith("sigstore_async")]
    assert sdk
    assert all(code not in r.getMessage() for r in sdk)
    sdk_requests = [
        r.getMessage()
        for r in caplog.records
        if r.name == "httpx" and "/auth/callback" not in r.getMessage()
    ]
    assert all(code not in m for m in sdk_requests)


async def test_fixed_redirect_port(
    stack: LocalSigstore, http: httpx.AsyncClient, user: User
) -> None:
    # Find a free port, then ask for it.
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    await listener.aclose()
    await issuer(stack, http).interactive(interaction=user, redirect_port=port)
    redirect = parse_qs(urlsplit(user.visited[0]).query)["redirect_uri"][0]
    assert redirect == f"http://localhost:{port}/auth/callback"


def _replace_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_state_mismatch_fails_closed(stack: LocalSigstore, http: httpx.AsyncClient) -> None:
    user = User(stack, tamper=lambda location: _replace_query(location, state="forged"))
    try:
        with pytest.raises(AuthorizationFailed) as info:
            await issuer(stack, http).interactive(interaction=user)
    finally:
        await user.aclose()
    assert info.value.error == "state"
    assert user.callback_status == 400


async def test_issuer_error_on_the_redirect(stack: LocalSigstore, http: httpx.AsyncClient) -> None:
    def deny(location: str) -> str:
        parts = urlsplit(location)
        state = parse_qs(parts.query)["state"][0]
        query = urlencode({"error": "access_denied", "error_description": "no", "state": state})
        return urlunsplit(parts._replace(query=query))

    user = User(stack, tamper=deny)
    try:
        with pytest.raises(AuthorizationFailed) as info:
            await issuer(stack, http).interactive(interaction=user)
    finally:
        await user.aclose()
    assert info.value.error == "access_denied"


async def test_stray_requests_to_the_loopback_server_are_ignored(
    stack: LocalSigstore, http: httpx.AsyncClient
) -> None:
    statuses: list[int] = []

    def probe(location: str) -> str:
        return location

    class Prober(User):
        async def open_browser(self, url: str) -> bool:
            response = await self.browser.get(url)
            location = response.headers["location"]
            base = location.split("/auth/callback")[0]
            for path in ("/favicon.ico", "/auth/callback", "/auth/callback?foo=1"):
                statuses.append((await self.browser.get(base + path)).status_code)
            statuses.append((await self.browser.post(location)).status_code)
            await self.browser.get(location)
            return True

    user = Prober(stack, tamper=probe)
    try:
        token = await issuer(stack, http).interactive(interaction=user)
    finally:
        await user.aclose()
    assert statuses == [404, 400, 400, 405]
    assert token.identity == EMAIL


@pytest.mark.parametrize(
    "head",
    [
        b"GET //[x HTTP/1.1\r\n\r\n",  # urlsplit: an unclosed IPv6 host
        b"GET http://[::1/auth/callback?code=a HTTP/1.1\r\n\r\n",
        b"GET /auth/callback?code=%ff&state=%ff HTTP/1.1\r\n\r\n",
        b"GET \xff HTTP/1.1\r\n\r\n",
    ],
)
def test_the_loopback_server_answers_a_malformed_request_400(head: bytes) -> None:
    # Any local process can reach the redirect listener: a request it cannot
    # read is answered, and never ends the sign-in.
    status, _ = _Callback("state")._respond(head)
    assert status == 400


async def test_out_of_band_when_there_is_no_browser(
    stack: LocalSigstore, http: httpx.AsyncClient
) -> None:
    user = User(stack, has_browser=False)
    try:
        token, how = await issuer(stack, http)._interactive(interaction=user, force_oob=False)
    finally:
        await user.aclose()
    assert how == "out-of-band"
    assert token.identity == EMAIL
    query = parse_qs(urlsplit(user.visited[0]).query)
    assert query["redirect_uri"] == ["urn:ietf:wg:oauth:2.0:oob"]
    assert query["code_challenge_method"] == ["S256"]


async def test_forced_out_of_band_never_opens_a_browser(
    stack: LocalSigstore, http: httpx.AsyncClient, user: User
) -> None:
    token, how = await issuer(stack, http)._interactive(interaction=user, force_oob=True)
    assert how == "out-of-band"
    assert token.identity == EMAIL
    assert len(user.visited) == 1  # read_code only


async def test_empty_pasted_code(stack: LocalSigstore, http: httpx.AsyncClient) -> None:
    class Silent(User):
        async def read_code(self, url: str) -> str:
            return "  \n"

    user = Silent(stack)
    try:
        with pytest.raises(AuthorizationFailed):
            await issuer(stack, http).interactive(interaction=user, force_oob=True)
    finally:
        await user.aclose()


async def test_wrong_pasted_code_is_the_issuers_invalid_grant(
    stack: LocalSigstore, http: httpx.AsyncClient
) -> None:
    class Typo(User):
        async def read_code(self, url: str) -> str:
            return (await super().read_code(url)).strip() + "x"

    user = Typo(stack)
    try:
        with pytest.raises(AuthorizationFailed) as info:
            await issuer(stack, http).interactive(interaction=user, force_oob=True)
    finally:
        await user.aclose()
    assert info.value.error == "invalid_grant"


async def test_a_user_who_never_comes_back_is_bounded_by_the_caller(
    stack: LocalSigstore, http: httpx.AsyncClient
) -> None:
    class Away(User):
        async def open_browser(self, url: str) -> bool:
            return True  # the browser opened, and nobody signs in

    user = Away(stack)
    try:
        with pytest.raises(TimeoutError), anyio.fail_after(0.3):
            await issuer(stack, http).interactive(interaction=user)
    finally:
        await user.aclose()


# --- device authorization grant ---------------------------------------------------------------


async def test_device_flow_user_enters_the_code(
    stack: LocalSigstore, http: httpx.AsyncClient, user: User
) -> None:
    sleep = RecordingSleep(hooks={3: user.enter_device_code})
    token = await issuer(stack, http).device_flow(interaction=user, sleep=sleep)
    assert token.identity == EMAIL
    assert user.device is not None
    assert user.device.verification_uri == stack.oidc_url + "/device"
    # Polled at the issuer's interval: pending twice, approved on the third poll.
    assert sleep.delays == [1.0, 1.0, 1.0]


async def test_device_flow_denied(
    stack: LocalSigstore, http: httpx.AsyncClient, user: User
) -> None:
    async def deny() -> None:
        assert user.device is not None
        stack.oidc.deny_device(user.device.user_code)

    sleep = RecordingSleep(hooks={2: deny})
    with pytest.raises(AuthorizationFailed) as info:
        await issuer(stack, http).device_flow(interaction=user, sleep=sleep)
    assert info.value.error == "access_denied"


# --- client credentials -----------------------------------------------------------------------


async def test_client_credentials(stack: LocalSigstore, http: httpx.AsyncClient) -> None:
    stack.oidc.clients["sigstore"] = ("https://ci.example.com/service", {})
    token = await issuer(stack, http, client_secret="s3cret").client_credentials()
    assert token.identity == "https://ci.example.com/service"
    assert token.identity_kind == "subject"


async def test_client_credentials_audience_is_checked(
    stack: LocalSigstore, http: httpx.AsyncClient
) -> None:
    # LocalSigstore issues client_credentials tokens for the client id.
    with pytest.raises(WrongAudience):
        await issuer(stack, http, client_id="other", client_secret="x").client_credentials()
    token = await issuer(
        stack, http, client_id="other", client_secret="x", audience="other"
    ).client_credentials()
    assert token.audience == ("other",)


async def test_discovery_is_fetched_once_for_all_flows(
    stack: LocalSigstore, http: httpx.AsyncClient
) -> None:
    shared = issuer(stack, http, client_secret="x")
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(shared.client_credentials)
    assert stack.requests["GET /oidc/.well-known/openid-configuration"] == 1
    assert stack.requests["POST /oidc/token"] == 5


async def test_unreachable_issuer(stack: LocalSigstore) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with new_client(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(NetworkError):
            await Issuer(http, "https://issuer.invalid", clock=clock).client_credentials()


# --- a scripted issuer for what LocalSigstore does not do (slow_down, expiry, nonce) ---------


class ScriptedIssuer:
    """Discovery plus a token endpoint answering from a script."""

    URL = "https://issuer.example"

    def __init__(self, answers: list[tuple[int, dict[str, Any]]], device: dict[str, Any]) -> None:
        self.answers = answers
        self.device = device
        self.forms: list[dict[str, list[str]]] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": self.URL,
                    "authorization_endpoint": self.URL + "/authorize",
                    "token_endpoint": self.URL + "/token",
                    "device_authorization_endpoint": self.URL + "/device",
                },
            )
        self.forms.append(parse_qs(request.content.decode()))
        self.headers.append(request.headers)
        if path == "/device":
            # json.dumps, unlike httpx, writes Infinity and NaN (Python's json reads them).
            return httpx.Response(
                200,
                content=json.dumps(self.device).encode(),
                headers={"content-type": "application/json"},
            )
        if path == "/token":
            status, body = self.answers.pop(0)
            return httpx.Response(status, json=body)
        return httpx.Response(404)


DEVICE = {
    "device_code": "dev-123",
    "user_code": "ABCD-EFGH",
    "verification_uri": "https://issuer.example/activate",
    "expires_in": 600,
    "interval": 2,
}


def _token(**claims: Any) -> dict[str, Any]:
    return {
        "id_token": make_jwt(iss=ScriptedIssuer.URL, sub="user", **claims),
        "token_type": "Bearer",
    }


async def test_device_flow_slow_down_adds_five_seconds() -> None:
    script = ScriptedIssuer(
        [
            (400, {"error": "authorization_pending"}),
            (400, {"error": "slow_down"}),
            (400, {"error": "authorization_pending"}),
            (400, {"error": "slow_down"}),
            (200, _token()),
        ],
        DEVICE,
    )
    sleep = RecordingSleep()
    async with new_client(transport=httpx.MockTransport(script)) as http:
        user = _Recorder()
        token = await Issuer(http, ScriptedIssuer.URL, clock=clock).device_flow(
            interaction=user, sleep=sleep
        )
    assert token.identity == EMAIL
    assert sleep.delays == [2.0, 2.0, 7.0, 7.0, 12.0]
    assert user.device is not None
    assert user.device.user_code == "ABCD-EFGH"
    polls = script.forms[1:]
    assert all(f["grant_type"] == ["urn:ietf:params:oauth:grant-type:device_code"] for f in polls)
    assert all(f["device_code"] == ["dev-123"] for f in polls)
    assert all(f["client_id"] == ["sigstore"] for f in script.forms)


async def test_device_flow_default_interval_and_expiry() -> None:
    device = {k: v for k, v in DEVICE.items() if k != "interval"} | {"expires_in": 12}
    script = ScriptedIssuer([(400, {"error": "authorization_pending"})] * 5, device)
    sleep = RecordingSleep()
    async with new_client(transport=httpx.MockTransport(script)) as http:
        with pytest.raises(AuthorizationFailed) as info:
            await Issuer(http, ScriptedIssuer.URL, clock=clock).device_flow(
                interaction=_Recorder(), sleep=sleep
            )
    assert info.value.error == "expired_token"
    # RFC 8628 3.2: 5 seconds when the issuer names no interval; a third poll
    # would come after the codes expire, so the client stops by itself.
    assert sleep.delays == [5.0, 5.0]
    assert len(script.answers) == 3


async def test_device_flow_issuer_says_expired() -> None:
    script = ScriptedIssuer([(400, {"error": "expired_token"})], DEVICE)
    async with new_client(transport=httpx.MockTransport(script)) as http:
        with pytest.raises(AuthorizationFailed) as info:
            await Issuer(http, ScriptedIssuer.URL, clock=clock).device_flow(
                interaction=_Recorder(), sleep=RecordingSleep()
            )
    assert info.value.error == "expired_token"


async def test_device_flow_network_failure_backs_off() -> None:
    script = ScriptedIssuer([(200, _token())], DEVICE)
    failures = [1]

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token" and failures:
            failures.pop()
            raise httpx.ConnectTimeout("timeout", request=request)
        return script(request)

    sleep = RecordingSleep()
    async with new_client(transport=httpx.MockTransport(flaky)) as http:
        await Issuer(http, ScriptedIssuer.URL, clock=clock).device_flow(
            interaction=_Recorder(), sleep=sleep
        )
    assert sleep.delays == [2.0, 4.0]


@pytest.mark.parametrize(
    "device",
    [
        {"device_code": "x"},
        DEVICE | {"expires_in": 10**400},  # float() of it overflows
        DEVICE | {"interval": 10**400},
        DEVICE | {"expires_in": float("inf")},  # Python's json reads Infinity and NaN
        DEVICE | {"interval": float("inf")},
        DEVICE | {"interval": float("nan")},
        DEVICE | {"interval": -1},
        DEVICE | {"expires_in": 0},
        DEVICE | {"expires_in": True},
    ],
)
async def test_device_flow_malformed_authorization(device: dict[str, Any]) -> None:
    script = ScriptedIssuer([], device)
    async with new_client(transport=httpx.MockTransport(script)) as http:
        with pytest.raises(ServiceError):
            await Issuer(http, ScriptedIssuer.URL, clock=clock).device_flow(
                interaction=_Recorder(), sleep=RecordingSleep()
            )


async def test_client_secret_goes_in_basic_auth_never_the_form() -> None:
    script = ScriptedIssuer([(200, _token())], DEVICE)
    async with new_client(transport=httpx.MockTransport(script)) as http:
        await Issuer(
            http, ScriptedIssuer.URL, client_id="svc", client_secret="p@ss:word", clock=clock
        ).client_credentials()
    form = script.forms[0]
    assert form["grant_type"] == ["client_credentials"]
    assert "client_secret" not in form
    assert "client_id" not in form
    auth = script.headers[0]["authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == "svc:p%40ss%3Aword"


async def test_token_response_without_a_token() -> None:
    script = ScriptedIssuer([(200, {"token_type": "Bearer"})], DEVICE)
    async with new_client(transport=httpx.MockTransport(script)) as http:
        with pytest.raises(ServiceError):
            await Issuer(http, ScriptedIssuer.URL, clock=clock).client_credentials()


@pytest.mark.parametrize("body", [b"<html>nope</html>", b"[" * 100_000])
async def test_oauth_error_without_json_is_a_service_error(body: bytes) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(400, content=body)
        return ScriptedIssuer([], DEVICE)(request)

    async with new_client(transport=httpx.MockTransport(broken)) as http:
        with pytest.raises(ServiceError) as info:
            await Issuer(http, ScriptedIssuer.URL, clock=clock).client_credentials()
    assert not isinstance(info.value, NetworkError)


async def test_the_token_must_come_from_the_issuer_asked() -> None:
    script = ScriptedIssuer([(200, {"id_token": make_jwt(iss="https://elsewhere")})], DEVICE)
    async with new_client(transport=httpx.MockTransport(script)) as http:
        with pytest.raises(WrongIssuer):
            await Issuer(http, ScriptedIssuer.URL, clock=clock).client_credentials()


async def test_nonce_must_come_back(stack: LocalSigstore) -> None:
    """An issuer that drops the nonce (a replayed token) is refused."""

    class Replayer(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = stack.transport

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.url.path.endswith("/token"):
                await response.aread()
                body = json.loads(response.content)
                stale = stack.issue_token(EMAIL, nonce="an-old-nonce")
                body["id_token"] = body["access_token"] = stale
                return httpx.Response(200, json=body)
            return response

    transport = Replayer()
    async with new_client(transport=transport) as http:
        user = User(stack)
        try:
            with pytest.raises(AuthorizationFailed) as info:
                await issuer(stack, http).interactive(interaction=user)
        finally:
            await user.aclose()
    assert info.value.error == "nonce"


class _Recorder:
    def __init__(self) -> None:
        self.device: Any = None

    async def open_browser(self, url: str) -> bool:
        return False

    async def read_code(self, url: str) -> str:
        raise AssertionError("not expected")

    async def show_device_code(self, authorization: Any) -> None:
        self.device = authorization


def test_now_is_fixed() -> None:
    assert clock() == NOW
