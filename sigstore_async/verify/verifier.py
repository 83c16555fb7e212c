"""The async verifier: the shell over the sans-I/O verification pipeline.

Owns: turning user inputs (bundle paths or text, artifact files, bytes or
digests) into core values without blocking the event loop (files are read and
hashed in worker threads), running the pure pipeline in worker threads under a
shared capacity limiter, and batch verification with bounded concurrency where
one bad item is that item's outcome. Does not own: any verification rule
(``verify.core``) or fetching trust material (TUF, ``Sigstore``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

import anyio
import anyio.abc
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._time import Clock, utc_now
from ..errors import InvalidBundle, VerificationError
from ..models.bundle import Bundle
from ..trust import TrustMaterial, embedded_trusted_root
from .artifact import Artifact, ArtifactHasher
from .core import VerificationOptions, VerificationResult, VerifyCache, VerifyingKey, verify_bundle
from .policy import Policy

__all__ = ["ArtifactInput", "BundleInput", "VerifyOutcome", "Verifier"]

#: A bundle: parsed, its JSON text, or a path to a ``.sigstore.json`` file.
BundleInput: TypeAlias = Bundle | bytes | str | os.PathLike[str]
#: An artifact: its bytes, a path (streamed), a ``sha256:<hex>`` digest, or an Artifact.
ArtifactInput: TypeAlias = Artifact | bytes | os.PathLike[str] | str

_CHUNK = 1 << 20


@attrs.frozen
class VerifyOutcome:
    """The outcome of one item of :meth:`Verifier.verify_many`."""

    #: Position of the item in the input.
    index: int
    #: The (bundle, artifact) pair as given.
    item: tuple[Any, Any]
    result: VerificationResult | None = None
    #: ``None`` on success; the item's ``VerificationError`` (or ``OSError`` for
    #: an unreadable file) otherwise.
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _hash_file(path: Path) -> Artifact:
    hasher = ArtifactHasher()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.finish()


class Verifier:
    """Verifies Sigstore bundles against one set of trust material.

    Create it from trust material (``Verifier(TrustMaterial.from_json(...))``,
    :meth:`offline`), or get one from ``Sigstore.verifier()``. It holds no
    connections; it is cheap to share, and concurrent calls share its cache of
    pure checks.

    ``concurrency`` bounds the worker threads it uses at once, across all calls.
    """

    def __init__(
        self,
        trust: TrustMaterial,
        *,
        options: VerificationOptions | None = None,
        clock: Clock = utc_now,
        concurrency: int | None = None,
        cache: VerifyCache | None = None,
    ) -> None:
        self.trust = trust
        self.options = options or VerificationOptions()
        self._clock = clock
        self._limiter = anyio.CapacityLimiter(concurrency or min(32, (os.cpu_count() or 1) + 4))
        self.cache = cache if cache is not None else VerifyCache()

    @classmethod
    def offline(cls, instance: str = "production", **kwargs: Any) -> Verifier:
        """A verifier over the public-good trust root embedded in this package
        (no TUF refresh: as fresh as this release)."""
        if instance not in ("production", "staging"):
            raise ValueError(f"unknown instance {instance!r}")
        root = embedded_trusted_root(instance)  # type: ignore[arg-type]
        return cls(TrustMaterial.from_trusted_root(root), **kwargs)

    # --- inputs ---------------------------------------------------------------

    async def _bundle(self, value: BundleInput) -> Bundle:
        if isinstance(value, Bundle):
            return value
        if isinstance(value, bytes):
            data = value
        elif isinstance(value, str) and value.lstrip().startswith("{"):
            data = value.encode()
        else:
            data = await anyio.Path(os.fspath(value)).read_bytes()
        return await anyio.to_thread.run_sync(Bundle.from_json, data, limiter=self._limiter)

    async def _artifact(self, value: ArtifactInput) -> Artifact:
        if isinstance(value, Artifact):
            return value
        if isinstance(value, bytes):
            return await anyio.to_thread.run_sync(Artifact.from_bytes, value, limiter=self._limiter)
        if isinstance(value, str) and Artifact.is_digest(value):
            return Artifact.from_digest(value)
        return await anyio.to_thread.run_sync(
            _hash_file, Path(os.fspath(value)), limiter=self._limiter
        )

    # --- one -----------------------------------------------------------------

    async def verify(
        self,
        bundle: BundleInput,
        artifact: ArtifactInput | None,
        policy: Policy | None = None,
        *,
        key: VerifyingKey | None = None,
    ) -> VerificationResult:
        """Verify one bundle.

        ``artifact`` is the artifact's bytes, a path (read in a worker thread,
        streamed), a digest string ``sha256:<hex>`` (``sha384:``/``sha512:``),
        or ``None`` for a DSSE bundle checked without an artifact. Give
        ``policy`` for certificate-signed bundles, ``key`` for key-signed ones.

        Raises:
            VerificationError: a subclass naming the failed step.
            OSError: a file could not be read.
        """
        parsed = await self._bundle(bundle)
        art = await self._artifact(artifact) if artifact is not None else None
        now = self._clock()
        return await anyio.to_thread.run_sync(
            lambda: verify_bundle(
                parsed,
                artifact=art,
                policy=policy,
                trust=self.trust,
                now=now,
                key=key,
                options=self.options,
                cache=self.cache,
            ),
            limiter=self._limiter,
        )

    # --- many ----------------------------------------------------------------

    @asynccontextmanager
    async def verify_many(
        self,
        items: Iterable[tuple[BundleInput, ArtifactInput | None]]
        | AsyncIterable[tuple[BundleInput, ArtifactInput | None]],
        policy: Policy | None = None,
        *,
        key: VerifyingKey | None = None,
        concurrency: int = 64,
    ) -> AsyncIterator[MemoryObjectReceiveStream[VerifyOutcome]]:
        """Verify many (bundle, artifact) pairs; yield one outcome per pair.

        Use as ``async with verifier.verify_many(pairs, policy) as outcomes:``
        then ``async for outcome in outcomes``. Outcomes arrive as items finish,
        not in input order (``outcome.index`` gives the position). At most
        ``concurrency`` items are in flight, and the input is read only as
        slots free up, so memory stays flat for any number of items. A bad
        bundle or unreadable file is that item's ``outcome.error``; it never
        cancels the others. Leaving the block early cancels the remaining work.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        send, receive = anyio.create_memory_object_stream[VerifyOutcome](concurrency)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._produce, items, policy, key, concurrency, send)
            try:
                async with receive:
                    yield receive
            finally:
                tg.cancel_scope.cancel()

    async def _produce(
        self,
        items: Iterable[tuple[BundleInput, ArtifactInput | None]]
        | AsyncIterable[tuple[BundleInput, ArtifactInput | None]],
        policy: Policy | None,
        key: VerifyingKey | None,
        concurrency: int,
        send: MemoryObjectSendStream[VerifyOutcome],
    ) -> None:
        slots = anyio.Semaphore(concurrency)

        async def one(index: int, item: tuple[BundleInput, ArtifactInput | None]) -> None:
            try:
                try:
                    bundle, artifact = item
                    result = await self.verify(bundle, artifact, policy, key=key)
                    outcome = VerifyOutcome(index, item, result=result)
                except (VerificationError, OSError) as e:
                    outcome = VerifyOutcome(index, item, error=e)
                except (TypeError, ValueError) as e:
                    # An item that is not a (bundle, artifact) pair, or an
                    # artifact string that is neither a digest nor a path.
                    err = InvalidBundle(f"unusable item: {e}")
                    outcome = VerifyOutcome(index, item, error=err)
                await send.send(outcome)
            finally:
                slots.release()

        async with send, anyio.create_task_group() as tg:
            index = 0
            if isinstance(items, AsyncIterable):
                async for item in items:
                    await slots.acquire()
                    tg.start_soon(one, index, item)
                    index += 1
            else:
                for item in items:
                    await slots.acquire()
                    tg.start_soon(one, index, item)
                    index += 1
