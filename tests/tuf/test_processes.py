"""Processes sharing one TUF cache: the cross-process lock keeps it valid, and a
process that finds a fresh cache left by another fetches nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from sigstore_async.client import Sigstore

from .conftest import Loopback, make_repo

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_ROOT = REPO / "sigstore_async" / "trust" / "_embedded" / "production"

SCRIPT = """
import sys
import anyio
from sigstore_async.client import Sigstore
from sigstore_async.tuf import UpdaterConfig

url, root, cache, force = sys.argv[1:5]

async def main() -> None:
    async with Sigstore.from_tuf(
        url, root=root, cache_dir=cache, tuf_config=UpdaterConfig(timeout=30)
    ) as sigstore:
        config = await sigstore.trust(refresh=force == "force")
        assert config.tuf is not None
        print("network" if config.tuf.from_network else "cache", config.tuf.root_version)

anyio.run(main)
"""


def _offline_check(url: str, root: Path, cache: Path) -> int:
    async def load() -> int:
        async with Sigstore.from_tuf(url, root=root, cache_dir=cache, offline=True) as s:
            config = await s.trust()
            assert config.tuf is not None
            assert not config.tuf.from_network
            return config.tuf.root_version

    return anyio.run(load)


@pytest.mark.parametrize("force", ["", "force"], ids=["trust", "forced-refresh"])
def test_two_processes_share_one_cache(tmp_path: Path, force: str) -> None:
    targets = {"trusted_root.json": (PRODUCTION_ROOT / "trusted_root.json").read_bytes()}
    repo = make_repo(targets=targets, root_versions=6)
    root = tmp_path / "root.json"
    root.write_bytes(repo.root_json())
    cache = tmp_path / "cache"
    with Loopback(repo) as server:
        server.delay[0] = 0.03  # a slow repository: the two refreshes overlap
        args = [sys.executable, "-c", SCRIPT, server.url, str(root), str(cache), force]
        procs = [
            subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert all(out.split()[1] == "6" for out, _ in outs)
        results = sorted(out.split()[0] for out, _ in outs)
        timestamps = server.seen.count("/timestamp.json")
        if force:
            # Both refresh, one after the other: the second finds the first's files.
            assert results == ["network", "network"]
            assert timestamps == 2
            assert server.seen.count("/1.snapshot.json") == 1
        else:
            # One refreshes; the other waits for the lock and finds a fresh cache.
            assert results == ["cache", "network"]
            assert timestamps == 1
        # What they left behind verifies, from the trusted root, without the network.
        assert _offline_check(server.url, root, cache) == 6
