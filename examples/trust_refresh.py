"""Trust through TUF: refreshed once for many callers, attacks refused, offline use.

Runs offline: it builds a small TUF repository in memory (with
``sigstore_async.testing.LocalTufRepository``, which signs real metadata with
python-tuf) and mounts it in process, standing in for a private Sigstore
instance's repository. Against the public-good instance you would write
``Sigstore.production()`` instead, and nothing else changes.

    python examples/trust_refresh.py
"""

from __future__ import annotations

import tempfile
from collections import Counter

import anyio
import httpx

from sigstore_async.client import Sigstore
from sigstore_async.errors import RollbackAttack, TufError
from sigstore_async.testing import LocalTufRepository
from sigstore_async.trust import embedded_signing_config, embedded_trusted_root

URL = "https://tuf.example.internal"


async def main() -> None:
    # A repository publishing a trusted root and a signing config, with 5 root
    # versions (each a full rotation of the root keys) for the client to walk.
    repo = LocalTufRepository(
        {
            "trusted_root.json": embedded_trusted_root().to_json().encode(),
            "signing_config.v0.2.json": embedded_signing_config().to_json().encode(),
        },
        root_versions=5,
    )
    requests: Counter[str] = Counter()

    def serve(request: httpx.Request) -> httpx.Response:
        requests[request.url.path] += 1
        status, headers, body = repo.handle(request.method, request.url.raw_path.decode())
        return httpx.Response(status, headers=headers, content=body)

    transport = httpx.MockTransport(serve)
    initial_root = repo.root_json(1)  # from the instance's operators, out of band

    with tempfile.TemporaryDirectory() as cache:
        async with Sigstore.from_tuf(
            URL, root=initial_root, transport=transport, cache_dir=cache
        ) as sigstore:
            # 100 concurrent callers share one refresh.
            configs = []

            async def call() -> None:
                configs.append(await sigstore.trust())

            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    tg.start_soon(call)
            config = configs[0]
            assert config.tuf is not None
            print(
                f"100 callers, {sum(requests.values())} requests: root v{config.tuf.root_version}, "
                f"{len(config.trusted_root.tlogs)} transparency log(s), "
                f"metadata valid until {config.tuf.expires:%Y-%m-%d %H:%M}Z"
            )

            # Fresh enough: no request at all.
            before = sum(requests.values())
            await sigstore.trust()
            print(f"again while fresh: {sum(requests.values()) - before} requests")

            # A forced refresh against an unchanged repository costs the timestamp.
            before = sum(requests.values())
            await sigstore.refresh()
            print(f"forced refresh, nothing new: {sum(requests.values()) - before} requests")

            # The repository turns hostile: an old snapshot served as current.
            repo.bump_version("snapshot")
            await sigstore.refresh()
            repo.rollback("snapshot", 1)
            try:
                await sigstore.refresh()
            except RollbackAttack as e:
                print(f"refused: {type(e).__name__} ({e.reason}): {e}")
            still = await sigstore.trust()
            print(f"still trusted: snapshot v{still.tuf.snapshot_version if still.tuf else '?'}")

            verifier = await sigstore.verifier()
            print(f"verifier ready over {len(verifier.trust.tlogs)} log key(s)")

        # Offline: the cache is verified again from the initial root, no network.
        async with Sigstore.from_tuf(URL, root=initial_root, cache_dir=cache, offline=True) as s:
            try:
                offline = await s.trust()
            except TufError as e:  # pragma: no cover - the cache above is valid
                raise SystemExit(f"offline load failed: {e}") from e
            assert offline.tuf is not None
            print(f"offline from the verified cache: root v{offline.tuf.root_version}")

    # The public-good instance offline, with no cache: the roots embedded in the package.
    with tempfile.TemporaryDirectory() as empty:
        async with Sigstore.production(offline=True, cache_dir=empty) as sigstore:
            embedded = await sigstore.trust()
            print(f"production offline: trust from {embedded.source}")


if __name__ == "__main__":
    anyio.run(main)
