"""Fixtures of the TUF tests: repositories built with python-tuf's metadata API
(``LocalTufRepository``), served in process through ``httpx.MockTransport`` with
request counting and fault injection, and updaters over a tmp directory."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from sigstore_async._http import RetryPolicy, new_client
from sigstore_async.testing import LocalTufRepository
from sigstore_async.tuf import MetadataStore, Persist, Updater, UpdaterConfig

URL = "https://tuf.test"
TARGETS_URL = f"{URL}/targets"
TRUSTED_ROOT = b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}'

#: No retries and a short deadline: failures show at once.
FAST = UpdaterConfig(retry=RetryPolicy(attempts=1), timeout=5.0)

Fault = Callable[[httpx.Request], Awaitable[httpx.Response | None]]


class Served:
    """A repository behind an in-process transport: counts requests, injects faults.

    ``fault`` (when set) sees each request first and may answer it, raise a
    transport error, or stall; returning ``None`` lets the repository answer.
    """

    def __init__(self, repo: LocalTufRepository) -> None:
        self.repo = repo
        self.requests: list[str] = []
        self.fault: Fault | None = None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append(path)
        if self.fault is not None:
            answer = await self.fault(request)
            if answer is not None:
                return answer
        # The path as sent (percent-encoded): the repository undoes the encoding itself.
        status, headers, body = self.repo.handle(request.method, request.url.raw_path.decode())
        return httpx.Response(status, headers=headers, content=body)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.AsyncClient:
        return new_client(transport=self.transport)

    def counts(self) -> Counter[str]:
        return Counter(self.requests)

    def kinds(self) -> list[str]:
        """Requests by role: ``root``, ``timestamp``, ..., ``target``."""
        out = []
        for path in self.requests:
            name = path.rsplit("/", 1)[-1]
            if path.startswith("/targets/"):
                out.append("target")
            else:
                out.append(name.removesuffix(".json").split(".", 1)[-1])
        return out

    def clear(self) -> None:
        self.requests.clear()


@pytest.fixture(autouse=True)
def _no_user_directories(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a test forgets to point elsewhere lands in a tmp directory, never in
    the real user data or cache directories (platformdirs honours XDG_* on Linux)."""
    base = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "cache"))


def make_repo(**kwargs: Any) -> LocalTufRepository:
    targets = kwargs.pop("targets", {"trusted_root.json": TRUSTED_ROOT, "other.txt": b"other\n"})
    return LocalTufRepository(targets, **kwargs)


@pytest.fixture
def repo() -> LocalTufRepository:
    return make_repo()


@pytest.fixture
def served(repo: LocalTufRepository) -> Served:
    return Served(repo)


def updater(
    http: httpx.AsyncClient | None,
    tmp_path: Path,
    bootstrap: bytes | None,
    *,
    persist: Persist = "incremental",
    config: UpdaterConfig = FAST,
    **kwargs: Any,
) -> Updater:
    return Updater(
        http,
        metadata_url=URL,
        store=MetadataStore(tmp_path / "metadata"),
        bootstrap=bootstrap,
        target_base_url=TARGETS_URL,
        target_dir=tmp_path / "targets",
        config=config,
        persist=persist,
        **kwargs,
    )


def snapshot_dir(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (to compare a store before and after)."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


async def stall(request: httpx.Request) -> httpx.Response | None:
    await anyio.sleep(3600)
    return None


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    repo: LocalTufRepository
    seen: list[str]
    delay: list[float]

    def _answer(self, method: str) -> None:
        self.seen.append(self.path)
        if self.delay[0]:
            time.sleep(self.delay[0])
        status, headers, body = self.repo.handle(method, self.path)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if method == "GET":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def log_message(self, *args: object) -> None:
        pass


class Loopback:
    """A repository served over HTTP on 127.0.0.1 (for subprocesses and the CLI)."""

    def __init__(self, repo: LocalTufRepository) -> None:
        self.repo = repo
        self.seen: list[str] = []
        #: Seconds each answer waits (a slow repository).
        self.delay = [0.0]
        handler = type(
            "Handler", (_Handler,), {"repo": repo, "seen": self.seen, "delay": self.delay}
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback(repo: LocalTufRepository) -> Iterator[Loopback]:
    with Loopback(repo) as server:
        yield server
