"""Persistence (``state_dir``) and the ``sigstore-async local`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx
import jwt
import pytest
from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root  # type: ignore[attr-defined, unused-ignore]
from tuf.ngclient import FetcherInterface, Updater  # type: ignore[attr-defined, unused-ignore]

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


class _StackFetcher(FetcherInterface):  # type: ignore[misc, unused-ignore]
    """python-tuf's network layer, answered by whichever LocalSigstore runs now."""

    stack: LocalSigstore

    def _fetch(self, url: str) -> Iterator[bytes]:
        path = urlsplit(url).path.removeprefix("/tuf")
        status, _, body = self.stack.tuf.handle("GET", path)
        if status != 200:
            raise exceptions.DownloadHTTPError(f"HTTP {status} for {url}", status)
        return iter([body])


def _tuf_client(
    cache: Path, base: str, bootstrap: bytes, fetcher: FetcherInterface | None
) -> Updater:
    (cache / "targets").mkdir(parents=True, exist_ok=True)
    return Updater(
        str(cache),
        base + "/tuf/",
        str(cache / "targets"),
        base + "/tuf/targets/",
        fetcher=fetcher,
        bootstrap=bootstrap,
    )


def _trusted_root_keys(cache: Path) -> tuple[int, dict[str, list[str]]]:
    root = Metadata[Root].from_bytes((cache / "root.json").read_bytes()).signed
    return root.version, {name: sorted(role.keyids) for name, role in root.roles.items()}


async def test_restart_keeps_tuf_repository(tmp_path: Path) -> None:
    """A TUF client bootstrapped before a restart goes on updating after it."""
    state, cache = tmp_path / "state", tmp_path / "cache"
    fetcher = _StackFetcher()
    async with LocalSigstore(state_dir=state) as first:
        fetcher.stack = first
        bootstrap = first.tuf.root_json()
        updater = _tuf_client(cache, first.base_url, bootstrap, fetcher)
        updater.refresh()
        assert updater.get_targetinfo("trusted_root.json") is not None
        before = _trusted_root_keys(cache)
        targets_version = first.tuf.version("targets")
        first.tuf.publish_target("extra.txt", b"published while running")
    async with LocalSigstore(state_dir=state) as second:
        fetcher.stack = second
        assert second.tuf.root_json() == bootstrap
        # Same client, same metadata directory: it trusts what it has and updates.
        updater = _tuf_client(cache, second.base_url, bootstrap, fetcher)
        updater.refresh()
        assert _trusted_root_keys(cache) == before
        # What was published before the stop is still there, and nothing new was needed.
        assert second.tuf.version("targets") == targets_version + 1
        info = updater.get_targetinfo("extra.txt")
        assert info is not None
        path = updater.download_target(info, str(tmp_path / "extra.txt"))
        assert await anyio.Path(path).read_bytes() == b"published while running"
        info = updater.get_targetinfo("trusted_root.json")
        assert info is not None
        path = updater.download_target(info, str(tmp_path / "trusted_root.json"))
        assert TrustedRoot.from_json(await anyio.Path(path).read_bytes()) == second.trusted_root


async def test_tuf_state_without_state_dir_is_fresh() -> None:
    async with LocalSigstore() as first:
        root = first.tuf.root_json()
    async with LocalSigstore() as second:
        assert second.tuf.root_json() != root


async def test_token_from_missing_state(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no LocalSigstore state"):
        await LocalSigstore.issue_token_from_state(tmp_path)


@pytest.mark.parametrize(
    "options", [["--port", "99999"], ["--port", "-1"], ["--port", "x"], ["--host", "\udcff"]]
)
def test_cli_serve_refuses_an_impossible_address(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["local", "serve", *options])
    assert info.value.code == 2
    assert options[0] in capsys.readouterr().err


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


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_cli_serve_restart_keeps_tuf_root(tmp_path: Path) -> None:
    """``local serve --state`` writes the same root.json on the second start; the new URL
    is published as a new targets version that a client of the first start accepts."""
    state, cache = tmp_path / "state", tmp_path / "cache"
    process, url = await _serve(state)
    try:
        bootstrap = (state / "root.json").read_bytes()
        updater = _tuf_client(cache, url, bootstrap, fetcher=None)
        await anyio.to_thread.run_sync(updater.refresh)
        before = _trusted_root_keys(cache)
    finally:
        await _stop(process)
    process, url2 = await _serve(state)
    try:
        assert (state / "root.json").read_bytes() == bootstrap
        updater = _tuf_client(cache, url2, bootstrap, fetcher=None)
        await anyio.to_thread.run_sync(updater.refresh)
        assert _trusted_root_keys(cache) == before
        info = updater.get_targetinfo("trusted_root.json")
        assert info is not None
        path = await anyio.to_thread.run_sync(
            updater.download_target, info, str(tmp_path / "trusted_root.json")
        )
        root = TrustedRoot.from_json(await anyio.Path(path).read_bytes())
        assert root.tlogs[0].base_url == url2 + "/rekor"
    finally:
        await _stop(process)
