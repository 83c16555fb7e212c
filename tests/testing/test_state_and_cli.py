"""Persistence (``state_dir``) and the ``sigstore-async local`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import jwt
import pytest

from sigstore_async import Identity, SigningConfig, TrustedRoot
from sigstore_async.cli import main
from sigstore_async.testing import LocalSigstore

from ._local import sign, verifier

pytestmark = pytest.mark.anyio

ARTIFACT = b"kept across restarts"


async def test_restart_keeps_keys_and_logs(tmp_path: Path) -> None:
    async with LocalSigstore(state_dir=tmp_path) as first, first.client() as http:
        old = await sign(http, first, ARTIFACT)
        await sign(http, first, b"second")
        await sign(http, first, b"third", rekor_v2=True)
        root = first.trusted_root
        tree_id = first.rekor.tree_id
    async with LocalSigstore(state_dir=tmp_path) as second, second.client() as http:
        assert second.trusted_root == root
        assert second.rekor.tree_id == tree_id
        assert second.rekor.log.size == 2
        assert second.rekor_v2.log.size == 1
        # The old bundle still verifies, and the log keeps growing where it was.
        await verifier(second).verify(old, ARTIFACT, Identity("alice@example.com", second.oidc_url))
        new = await sign(http, second, b"fourth")
        assert new.material.tlog_entries[0].log_index == 2
        r = await http.get("/rekor/api/v1/log/entries", params={"logIndex": 0})
        assert r.status_code == 200
    token = await LocalSigstore.issue_token_from_state(tmp_path, "erin@example.com")
    async with LocalSigstore(state_dir=tmp_path) as third:
        claims = third.oidc.verify(token)
    assert claims["email"] == "erin@example.com"


async def test_token_from_missing_state(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no LocalSigstore state"):
        await LocalSigstore.issue_token_from_state(tmp_path)


def test_cli_token_without_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "token", "--state", str(tmp_path)]) == 1
    assert "no LocalSigstore state" in capsys.readouterr().err


async def _serve(state: Path) -> tuple[anyio.abc.Process, str]:
    process = await anyio.open_process(
        [sys.executable, "-m", "sigstore_async", "local", "serve", "--state", str(state)],
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = b""
    with anyio.fail_after(30):
        while not line.endswith(b"\n"):
            line += await process.stdout.receive(1)
    status, url = line.decode().split()
    assert status == "READY"
    return process, url


async def _stop(process: anyio.abc.Process) -> None:
    process.terminate()
    with anyio.fail_after(10):
        assert await process.wait() == 0


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_cli_serve_and_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One ``local serve`` process; restarts are covered in process above."""
    state = tmp_path / "state"
    process, url = await _serve(state)
    try:
        names = sorted(p.name for p in state.iterdir())
        assert names == sorted([*LocalSigstore.TRUST_FILES, "state.sqlite3"])
        root = TrustedRoot.from_json((state / "trusted_root.json").read_bytes())
        assert root.tlogs[0].base_url == url + "/rekor"
        config = SigningConfig.from_json((state / "signing_config_rekor_v2.json").read_bytes())
        assert config.rekor_tlog_urls[0].url == url + "/rekor-v2"
        assert json.loads((state / "trust_config.json").read_text())["trustedRoot"]
        # ``local token`` reads the state while the server runs (its own event loop: a thread).
        status = await anyio.to_thread.run_sync(
            main, ["local", "token", "--state", str(state), "--identity", "fay@example.com"]
        )
        assert status == 0
        token = capsys.readouterr().out.strip()
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.get("/rekor/api/v1/log")
            assert r.json()["treeSize"] == 0
            key = (await http.get("/oidc/keys")).json()["keys"][0]
        claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=[key["alg"]], audience="sigstore")
        assert claims["iss"] == url + "/oidc"
        assert claims["email"] == "fay@example.com"
    finally:
        await _stop(process)
