"""obtain_token: the order of sources that sign, attest and identity share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sigstore_async._http import new_client
from sigstore_async.errors import ExpiredToken, NoCredential
from sigstore_async.oidc import EnvironmentVariable, Issuer, obtain_token
from sigstore_async.testing import LocalSigstore

from ._support import EMAIL, NOW, User, clock, make_jwt

pytestmark = pytest.mark.anyio

TOKEN = make_jwt()
OTHER = make_jwt(email="bob@example.com")


@pytest.fixture
async def stack() -> AsyncIterator[LocalSigstore]:
    async with LocalSigstore(clock=clock, default_identity=EMAIL) as s:
        yield s


@pytest.fixture
async def http(stack: LocalSigstore) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(transport=stack.transport) as client:
        yield client


async def test_explicit_token_wins(http: httpx.AsyncClient, tmp_path: Path) -> None:
    (tmp_path / "t").write_text(OTHER)
    token, source = await obtain_token(
        http, token=TOKEN, token_file=tmp_path / "t", env={"SIGSTORE_ID_TOKEN": OTHER}, clock=clock
    )
    assert (token.identity, source) == (EMAIL, "argument")


async def test_token_file_before_ambient(http: httpx.AsyncClient, tmp_path: Path) -> None:
    (tmp_path / "t").write_text(TOKEN + "\n")
    token, source = await obtain_token(
        http, token_file=tmp_path / "t", env={"SIGSTORE_ID_TOKEN": OTHER}, clock=clock
    )
    assert (token.identity, source) == (EMAIL, "file")


async def test_an_explicit_source_that_is_unusable_is_an_error(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    expired = make_jwt(exp=int(NOW.timestamp()) - 3600)
    with pytest.raises(ExpiredToken):
        await obtain_token(http, token=expired, env={"SIGSTORE_ID_TOKEN": TOKEN}, clock=clock)
    with pytest.raises(FileNotFoundError):
        await obtain_token(http, token_file=tmp_path / "missing", clock=clock)


async def test_ambient(http: httpx.AsyncClient) -> None:
    token, source = await obtain_token(
        http, env={"SIGSTORE_ID_TOKEN": TOKEN}, ambient=[EnvironmentVariable()], clock=clock
    )
    assert (token.identity, source) == (EMAIL, "environment")


async def test_nothing_found(http: httpx.AsyncClient) -> None:
    with pytest.raises(NoCredential) as info:
        await obtain_token(http, env={}, ambient=[EnvironmentVariable()], clock=clock)
    (attempt,) = info.value.attempts
    assert attempt.provider == "environment"
    assert attempt.outcome == "skipped"
    assert info.value.reason == "no credential"
    with pytest.raises(NoCredential) as none:
        await obtain_token(http, ambient=False, clock=clock)
    assert none.value.attempts == ()


@pytest.mark.parametrize(
    ("flow", "has_browser", "source"),
    [
        ("browser", True, "browser"),
        ("browser", False, "out-of-band"),
        ("oob", True, "out-of-band"),
        ("device", True, "device"),
        ("client-credentials", True, "client-credentials"),
    ],
)
async def test_flows_after_ambient(
    stack: LocalSigstore, http: httpx.AsyncClient, flow: str, has_browser: bool, source: str
) -> None:
    user = User(stack, has_browser=has_browser, enter_device_code_at_once=True)
    stack.oidc.device_poll_interval = 0  # the code is entered before the first poll
    try:
        token, got = await obtain_token(
            http,
            env={},
            ambient=[EnvironmentVariable()],
            flow=flow,  # type: ignore[arg-type]
            issuer=Issuer(http, stack.oidc_url, clock=clock),
            interaction=user,
            clock=clock,
        )
    finally:
        await user.aclose()
    assert got == source
    assert token.identity == EMAIL
