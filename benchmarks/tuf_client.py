"""Benchmark: the async TUF client next to python-tuf's ``Updater``.

A repository with the shape of Sigstore's (consistent snapshots, ECDSA P-256
keys, ``trusted_root.json`` and ``signing_config.v0.2.json`` as targets, and
about a dozen root versions to walk, each a full rotation of the root keys) is
built in memory with python-tuf's metadata API (``LocalTufRepository``). Both
clients then do the same work, alternating round by round:

- cold bootstrap: an empty cache, from root version 1: walk every root, load
  timestamp, snapshot and targets, download both targets;
- warm refresh: the cache of a previous run, the repository unchanged: probe
  the next root, fetch the timestamp, reuse everything else (targets from the
  cache, checked against their hashes);
- warm after a change: one new target version was published since;
- and, for this SDK alone, ``Sigstore.trust()`` with 100 concurrent callers
  (one refresh between them) and once fresh (answered from memory).

Both are served in process by default (ours through ``httpx.MockTransport``,
python-tuf through a ``FetcherInterface`` that calls the repository), or over
HTTP on 127.0.0.1 with ``--loopback`` (ours with httpx, python-tuf with its
default urllib3 fetcher). Figures are the best round, in milliseconds per
operation, and the requests each operation made.

    python benchmarks/tuf_client.py            # about 10 s
    python benchmarks/tuf_client.py --quick    # a few seconds
    python benchmarks/tuf_client.py --loopback --roots 12 --rounds 20
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import _common  # noqa: F401 - puts the checkout on sys.path

# Keep this folder off the path, so no script here can shadow an installed package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import anyio  # noqa: E402
import httpx  # noqa: E402
from tuf.api.exceptions import DownloadHTTPError  # noqa: E402
from tuf.ngclient import Updater as PythonTufUpdater  # noqa: E402
from tuf.ngclient.fetcher import FetcherInterface  # noqa: E402

from sigstore_async._http import new_client  # noqa: E402
from sigstore_async.client import Sigstore  # noqa: E402
from sigstore_async.testing import LocalTufRepository  # noqa: E402
from sigstore_async.trust import embedded_signing_config, embedded_trusted_root  # noqa: E402
from sigstore_async.tuf import MetadataStore, Updater  # noqa: E402

TARGETS = ("trusted_root.json", "signing_config.v0.2.json")


class Counting:
    """The repository's answers, counted."""

    def __init__(self, repo: LocalTufRepository) -> None:
        self.repo = repo
        self.requests = 0

    def handle(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.requests += 1
        return self.repo.handle("GET", path)


class InProcessFetcher(FetcherInterface):
    """python-tuf's fetcher interface over the in-memory repository."""

    def __init__(self, served: Counting) -> None:
        self.served = served

    def _fetch(self, url: str) -> Iterator[bytes]:
        status, _, body = self.served.handle(httpx.URL(url).raw_path.decode())
        if status != 200:
            raise DownloadHTTPError(f"{status} for {url}", status)
        return iter([body])


def serve_loopback(served: Counting) -> tuple[str, ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a CDN would
        disable_nagle_algorithm = True  # headers and body are separate writes

        def do_GET(self) -> None:
            status, headers, body = served.handle(self.path)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # clients closing kept-alive connections at the end

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


class Ours:
    name = "sigstore-async Updater"

    def __init__(self, http: httpx.AsyncClient, url: str, bootstrap: bytes) -> None:
        self.http, self.url, self.bootstrap = http, url, bootstrap

    async def run(self, workdir: Path) -> None:
        updater = Updater(
            self.http,
            metadata_url=self.url,
            store=MetadataStore(workdir / "metadata"),
            bootstrap=self.bootstrap,
            target_base_url=self.url + "/targets",
            target_dir=workdir / "targets",
        )
        await updater.refresh()
        for name in TARGETS:
            info = await updater.get_target_info(name)
            assert info is not None
            if await updater.find_cached_target(info) is None:
                await updater.download_target(info)


class PythonTuf:
    name = "python-tuf Updater"

    def __init__(self, fetcher: FetcherInterface | None, url: str, bootstrap: bytes) -> None:
        self.fetcher, self.url, self.bootstrap = fetcher, url, bootstrap

    async def run(self, workdir: Path) -> None:
        (workdir / "metadata").mkdir(parents=True, exist_ok=True)
        (workdir / "targets").mkdir(parents=True, exist_ok=True)
        updater = PythonTufUpdater(
            str(workdir / "metadata"),
            self.url,
            str(workdir / "targets"),
            self.url + "/targets",
            fetcher=self.fetcher,
            bootstrap=self.bootstrap,
        )
        updater.refresh()
        for name in TARGETS:
            info = updater.get_targetinfo(name)
            assert info is not None
            if updater.find_cached_target(info) is None:
                updater.download_target(info)


async def measure(
    contenders: list[Any],
    served: Counting,
    *,
    rounds: int,
    prepare: Callable[[Any, Path], Awaitable[None]],
    base: Path,
) -> dict[str, tuple[float, int]]:
    """Best seconds and requests per operation, for each contender."""
    best = {c.name: (math.inf, 0) for c in contenders}
    for r in range(rounds):
        for c in contenders if r % 2 == 0 else contenders[::-1]:
            workdir = base / f"{c.name}-{r}".replace(" ", "-")
            await prepare(c, workdir)
            before = served.requests
            start = time.perf_counter()
            await c.run(workdir)
            elapsed = time.perf_counter() - start
            if elapsed < best[c.name][0]:
                best[c.name] = (elapsed, served.requests - before)
            shutil.rmtree(workdir, ignore_errors=True)
    return best


async def many_callers(
    http: httpx.AsyncClient, url: str, bootstrap: bytes, served: Counting, base: Path, rounds: int
) -> dict[str, tuple[float, int]]:
    """What the SDK layer adds: N concurrent callers share one refresh, and a fresh
    trust is answered from memory. (python-tuf's Updater has no counterpart.)"""
    best_cold, cold_requests, best_fresh = math.inf, 0, math.inf
    for r in range(rounds):
        sigstore = Sigstore.from_tuf(url, root=bootstrap, http=http, cache_dir=base / f"many-{r}")
        before = served.requests
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(sigstore.trust)
        elapsed = time.perf_counter() - start
        if elapsed < best_cold:
            best_cold, cold_requests = elapsed, served.requests - before
        before = served.requests
        start = time.perf_counter()
        for _ in range(1000):
            await sigstore.trust()
        best_fresh = min(best_fresh, (time.perf_counter() - start) / 1000)
        assert served.requests == before
    return {"cold": (best_cold, cold_requests), "fresh": (best_fresh, 0)}


async def main(args: argparse.Namespace) -> None:
    targets = {
        "trusted_root.json": embedded_trusted_root().to_json(indent=2).encode(),
        "signing_config.v0.2.json": embedded_signing_config().to_json(indent=2).encode(),
    }
    repo = LocalTufRepository(targets, root_versions=args.roots)
    served = Counting(repo)
    bootstrap = repo.root_json(1)

    server: ThreadingHTTPServer | None = None
    if args.loopback:
        url, server = serve_loopback(served)
        http = new_client()
        theirs = PythonTuf(None, url, bootstrap)
    else:
        url = "http://tuf.bench"

        def handler(request: httpx.Request) -> httpx.Response:
            status, headers, body = served.handle(request.url.raw_path.decode())
            return httpx.Response(status, headers=headers, content=body)

        http = new_client(transport=httpx.MockTransport(handler))
        theirs = PythonTuf(InProcessFetcher(served), url, bootstrap)
    ours = Ours(http, url, bootstrap)
    contenders = [ours, theirs]

    async def cold(c: Any, workdir: Path) -> None:
        await anyio.Path(workdir).mkdir(parents=True)

    async def warm(c: Any, workdir: Path) -> None:
        await anyio.Path(workdir).mkdir(parents=True)
        await c.run(workdir)

    changes = iter(range(1, 1_000_000))

    async def changed(c: Any, workdir: Path) -> None:
        await warm(c, workdir)
        content = targets["signing_config.v0.2.json"] + b" " * next(changes)
        repo.publish_target("signing_config.v0.2.json", content)

    base = Path(tempfile.mkdtemp(prefix="tuf-bench-"))
    results: dict[str, dict[str, tuple[float, int]]] = {}
    shared: dict[str, tuple[float, int]] = {}
    try:
        async with http:
            shared = await many_callers(http, url, bootstrap, served, base, args.rounds)
            for label, prepare in (
                ("cold bootstrap", cold),
                ("warm refresh, unchanged", warm),
                ("warm refresh, one new target", changed),
            ):
                results[label] = await measure(
                    contenders, served, rounds=args.rounds, prepare=prepare, base=base
                )
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if server is not None:
            server.shutdown()

    print(
        f"Sigstore.trust(), 100 concurrent callers: cold {shared['cold'][0] * 1000:.1f} ms "
        f"({shared['cold'][1]} requests in all); then, fresh in memory, "
        f"{shared['fresh'][0] * 1e6:.1f} us per call ({shared['fresh'][1]} requests)"
    )
    mode = "loopback HTTP" if args.loopback else "in process"
    print(
        f"TUF client, a repository of {args.roots} root versions ({mode}), "
        f"best of {args.rounds} rounds, ms per operation (requests)"
    )
    width = max(len(label) for label in results)
    print(f"{'':{width}}  {ours.name:>26}  {theirs.name:>26}  ratio")
    for label, row in results.items():
        (a, na), (b, nb) = row[ours.name], row[theirs.name]
        ms_a, ms_b = a * 1000, b * 1000
        print(f"{label:{width}}  {ms_a:20.1f} ({na:2d})  {ms_b:20.1f} ({nb:2d})  {a / b:5.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, for a smoke run")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--roots", type=int, default=12, help="root versions to walk")
    parser.add_argument("--loopback", action="store_true", help="serve over HTTP on 127.0.0.1")
    parser.add_argument("--trio", action="store_true", help="run on trio")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 3
    anyio.run(main, args, backend="trio" if args.trio else "asyncio")
    sys.exit(0)
