"""TerminalInteraction: what a person at a terminal sees and types."""

from __future__ import annotations

import io

import pytest

from sigstore_async.oidc import DeviceAuthorization, TerminalInteraction
from sigstore_async.oidc.flows import _has_display

pytestmark = pytest.mark.anyio


async def test_out_of_band_reads_the_pasted_code() -> None:
    out = io.StringIO()
    user = TerminalInteraction(browser=False, output=out, input=io.StringIO("  the-code \n"))
    assert await user.open_browser("https://issuer.example/auth?x=1") is False
    assert await user.read_code("https://issuer.example/auth?x=1") == "the-code"
    assert "https://issuer.example/auth?x=1" in out.getvalue()
    assert "Code: " in out.getvalue()


async def test_end_of_input_is_an_empty_code() -> None:
    user = TerminalInteraction(browser=False, output=io.StringIO(), input=io.StringIO(""))
    assert await user.read_code("https://issuer.example/auth") == ""


async def test_device_code_is_shown() -> None:
    out = io.StringIO()
    await TerminalInteraction(output=out).show_device_code(
        DeviceAuthorization(
            user_code="ABCD-EFGH",
            verification_uri="https://issuer.example/device",
            verification_uri_complete="https://issuer.example/device?user_code=ABCD-EFGH",
            expires_in=600,
            interval=5,
        )
    )
    text = out.getvalue()
    assert "https://issuer.example/device" in text
    assert "ABCD-EFGH" in text


def test_display_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    assert not _has_display({})
    assert _has_display({"DISPLAY": ":0"})
    assert _has_display({"WAYLAND_DISPLAY": "wayland-0"})
    monkeypatch.setattr("sys.platform", "darwin")
    assert _has_display({})
