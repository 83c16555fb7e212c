"""The async verifier: the shell over the sans-I/O verification pipeline.

Owns: turning user inputs (bundle paths or text, artifact files, bytes or
digests) into core values without blocking the event loop (files are read and
hashed in worker threads), running the pure pipeline (parse and verify) off the
event loop under a shared capacity limiter, and batch verification with bounded
concurrency where one bad item is that item's outcome. Does not own: any
verification rule (``verify.core``) or fetching trust material (TUF,
``Sigstore``).

Where the pure pipeline runs (``offload``):

- ``"thread"`` (the default): worker threads. Cheap to start and right for a
  few bundles at a time. pyca/cryptography releases the GIL while it checks a
  signature, but parsing and the rest of the pipeline hold it, so a batch
  gains only part of a second core (about 1.6x on two, measured with
  ``benchmarks/verify.py``).
- ``"process"``: worker processes (``anyio.to_process``), one per core by
  default. A batch then uses every core (about 1.75x on two); each trip costs
  pickled bytes (bundles' JSON in, ``VerificationResult`` values out) and the
  first calls pay for starting the workers (about a quarter of a second each),
  so it pays off for batches of hundreds of bundles and more. A worker parses
  the trust root once (keyed by its fingerprint; the JSON travels only to a
  worker that lacks it) and keeps its own ``VerifyCache``. Policies must
  pickle (``Custom`` policies over a lambda do not), and a script that uses
  processes must guard its entry point with ``if __name__ == "__main__":``
  (workers import the main module, as ``multiprocessing`` does).

In both modes ``verify_many`` sends work in chunks of ready items, so a batch
pays for few trips to a worker.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

import anyio
import anyio.abc
import anyio.to_process
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._core.keys import load_der_public_key
from .._time import Clock, utc_now
from ..errors import InvalidBundle, VerificationError
from ..models.bundle import Bundle
from ..models.common import TimeRange
from ..trust import TrustMaterial, embedded_trusted_root
from .artifact import Artifact, ArtifactHasher
from .core import VerificationOptions, VerificationResult, VerifyCache, VerifyingKey, verify_bundle
from .policy import Policy

__all__ = ["ArtifactInput", "BundleInput", "Offload", "VerifyOutcome", "Verifier"]

#: Where a :class:`Verifier` runs the pure pipeline: worker threads or processes.
Offload: TypeAlias = Literal["thread", "process"]

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


# --- worker processes ----------------------------------------------------------------
#
# What a worker process keeps: each trust root it has been sent, parsed once, with
# its own cache of pure checks, by the fingerprint the parent knows it under.

_WORKER_TRUST: OrderedDict[bytes, tuple[TrustMaterial, VerifyCache]] = OrderedDict()
_WORKER_MAX_TRUST = 8
#: What a worker answers when it lacks the trust root; the parent then sends it.
_NEED_TRUST = "need-trust"


@attrs.frozen
class _KeySpec:
    """A ``VerifyingKey`` as bytes: key objects do not pickle."""

    der: bytes
    valid_for: TimeRange | None


def _verify_in_worker(
    fingerprint: bytes,
    trust_json: bytes | None,
    bundle: Bundle | bytes,
    artifact: Artifact | None,
    policy: Policy | None,
    key: _KeySpec | None,
    options: VerificationOptions,
    now: datetime,
) -> VerificationResult | str:
    """Parse and verify one bundle in a worker process (see the module docstring)."""
    state = _worker_trust(fingerprint, trust_json)
    if state is None:
        return _NEED_TRUST
    trust, cache = state
    parsed = bundle if isinstance(bundle, Bundle) else Bundle.from_json(bundle)
    return verify_bundle(
        parsed,
        artifact=artifact,
        policy=policy,
        trust=trust,
        now=now,
        key=VerifyingKey(load_der_public_key(key.der), key.valid_for) if key else None,
        options=options,
        cache=cache,
    )


class Verifier:
    """Verifies Sigstore bundles against one set of trust material.

    Create it from trust material (``Verifier(TrustMaterial.from_json(...))``,
    :meth:`offline`), or get one from ``Sigstore.verifier()``. It holds no
    connections; it is cheap to share, and concurrent calls share its cache of
    pure checks.

    ``concurrency`` bounds the worker threads it uses at once, across all calls.
    ``offload`` says where bundles are parsed and verified: ``"thread"`` (the
    default) or ``"process"``, with at most ``processes`` worker processes at
    once (default: one per core); see the module docstring for when processes
    pay off. ``cache`` is the memo of pure checks of the thread mode; worker
    processes keep their own.
    """

    def __init__(
        self,
        trust: TrustMaterial,
        *,
        options: VerificationOptions | None = None,
        clock: Clock = utc_now,
        concurrency: int | None = None,
        cache: VerifyCache | None = None,
        offload: Offload = "thread",
        processes: int | None = None,
    ) -> None:
        if offload not in ("thread", "process"):
            raise ValueError(f"offload must be 'thread' or 'process', not {offload!r}")
        if processes is not None and processes < 1:
            raise ValueError("processes must be at least 1")
        self.trust = trust
        self.options = options or VerificationOptions()
        self.offload: Offload = offload
        self._clock = clock
        self._limiter = anyio.CapacityLimiter(concurrency or min(32, (os.cpu_count() or 1) + 4))
        self._process_limiter = anyio.CapacityLimiter(processes or os.cpu_count() or 1)
        self._trust_json: bytes | None = None
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

    async def _bundle_data(self, value: BundleInput) -> Bundle | bytes:
        """A parsed bundle as given, or the JSON bytes of one (files read off the loop)."""
        if isinstance(value, Bundle | bytes):
            return value
        if isinstance(value, str) and value.lstrip().startswith("{"):
            return value.encode()
        return await anyio.Path(os.fspath(value)).read_bytes()

    async def _item_artifact(self, data: Bundle | bytes, value: ArtifactInput) -> Artifact:
        """``value`` as an Artifact; when it is unusable, a malformed bundle
        (``data`` still unparsed) is what is reported.

        Raises:
            InvalidBundle: the artifact is unusable and the bundle malformed.
            OSError, TypeError, ValueError: the artifact is unusable.
        """
        try:
            return await self._artifact(value)
        except (OSError, TypeError, ValueError):
            if isinstance(data, bytes):
                await anyio.to_thread.run_sync(Bundle.from_json, data, limiter=self._limiter)
            raise

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
            VerificationError: a subclass naming the failed step; an input
                that is neither a bundle nor an artifact (a malformed digest,
                a path with a NUL) is an ``InvalidBundle``, as ``verify_many``
                reports it.
            OSError: a file could not be read.
        """
        try:
            data = await self._bundle_data(bundle)
        except (TypeError, ValueError) as e:
            raise InvalidBundle(f"unusable bundle input: {e}") from e
        if self.offload == "process":
            _check_picklable(policy)
        try:
            art = await self._item_artifact(data, artifact) if artifact is not None else None
        except (TypeError, ValueError) as e:
            raise InvalidBundle(f"unusable artifact input: {e}") from e
        now = self._clock()
        if self.offload == "process":
            return await self._verify_in_process(data, art, policy, key, now)
        # Parse and verify in one trip to a worker thread: each trip costs the
        # event loop a hand-off and the worker a wait for the GIL.
        return await anyio.to_thread.run_sync(
            self._verify_sync, data, art, policy, key, now, limiter=self._limiter
        )

    def _verify_sync(
        self,
        data: Bundle | bytes,
        artifact: Artifact | None,
        policy: Policy | None,
        key: VerifyingKey | None,
        now: datetime,
    ) -> VerificationResult:
        return verify_bundle(
            data if isinstance(data, Bundle) else Bundle.from_json(data),
            artifact=artifact,
            policy=policy,
            trust=self.trust,
            now=now,
            key=key,
            options=self.options,
            cache=self.cache,
        )

    async def _verify_in_process(
        self,
        data: Bundle | bytes,
        artifact: Artifact | None,
        policy: Policy | None,
        key: VerifyingKey | None,
        now: datetime,
    ) -> VerificationResult:
        spec = _KeySpec(key.der, key.valid_for) if key is not None else None
        result = await self._run_in_process(
            _verify_in_worker, data, artifact, policy, spec, self.options, now
        )
        assert isinstance(result, VerificationResult)
        return result

    def _trust_document(self) -> bytes:
        if self._trust_json is None:
            self._trust_json = self.trust.trusted_root.to_json().encode()
        return self._trust_json

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
        if self.offload == "process":
            _check_picklable(policy)
        send, receive = anyio.create_memory_object_stream[VerifyOutcome](concurrency)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._produce, items, policy, key, concurrency, send)
            try:
                yield receive
            finally:
                # Cancel before closing the stream: closed first, in-flight
                # sends would fail with BrokenResourceError instead of ending
                # as cancelled.
                tg.cancel_scope.cancel()
                receive.close()

    async def _produce(
        self,
        items: Iterable[tuple[BundleInput, ArtifactInput | None]]
        | AsyncIterable[tuple[BundleInput, ArtifactInput | None]],
        policy: Policy | None,
        key: VerifyingKey | None,
        concurrency: int,
        send: MemoryObjectSendStream[VerifyOutcome],
    ) -> None:
        """Read items as slots free up, prepare their inputs, verify them in chunks.

        Items whose inputs are in memory go straight to the ready queue; those
        with files to read get a task that reads them off the loop. Dispatchers
        take what is ready, up to ``_CHUNK_ITEMS`` at once (fewer when
        ``concurrency`` is small, so that every dispatcher gets work), to one
        worker thread or process per trip: a trip costs far more than the
        loop's share of one bundle, so a batch pays for few of them.
        """
        slots = anyio.Semaphore(concurrency)
        ready_send, ready_receive = anyio.create_memory_object_stream[_Job](concurrency)

        # The *_nowait fast paths skip a checkpoint per item; the loop still
        # yields at least once per ``concurrency`` items (the slots run out).
        async def finish(outcome: VerifyOutcome) -> None:
            try:
                try:
                    send.send_nowait(outcome)
                except (anyio.WouldBlock, anyio.BrokenResourceError):
                    # Full, or the consumer has left: ``send`` checkpoints first,
                    # so a cancelled batch ends as cancelled, as without the fast path.
                    await send.send(outcome)
            finally:
                slots.release()

        async def prepare(index: int, item: tuple[BundleInput, ArtifactInput | None]) -> None:
            try:
                job = await self._prepare(index, item)
            except (VerificationError, OSError, TypeError, ValueError) as e:
                await finish(_failed(index, item, e))
                return
            await ready_send.send(job)

        async def dispatch() -> None:
            async for job in ready_receive:
                jobs = [job]
                while len(jobs) < chunk:
                    try:
                        jobs.append(ready_receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                for outcome in await self._verify_chunk(jobs, policy, key):
                    await finish(outcome)

        if self.offload == "process":
            # Two per worker: one waits on a worker while the other's chunk travels.
            dispatchers = 2 * int(self._process_limiter.total_tokens)
        else:
            # Signature checks release the GIL, the rest of the pipeline holds it:
            # a thread per core (at least two, so that the loop's work overlaps).
            threads = min(int(self._limiter.total_tokens), os.cpu_count() or 1)
            dispatchers = max(2, threads)
        chunk = max(1, min(_CHUNK_ITEMS, concurrency // dispatchers))
        async with send, anyio.create_task_group() as outer:
            for _ in range(dispatchers):
                outer.start_soon(dispatch)
            async with ready_send, anyio.create_task_group() as tg:
                index = 0

                async def take(item: tuple[BundleInput, ArtifactInput | None]) -> None:
                    try:
                        slots.acquire_nowait()
                    except anyio.WouldBlock:
                        await slots.acquire()
                    try:
                        job = self._prepare_now(index, item)
                    except (TypeError, ValueError) as e:
                        await finish(_failed(index, item, e))
                        return
                    if job is None:
                        tg.start_soon(prepare, index, item)
                    else:
                        try:
                            ready_send.send_nowait(job)
                        except (anyio.WouldBlock, anyio.BrokenResourceError):
                            await ready_send.send(job)

                if isinstance(items, AsyncIterable):
                    async for item in items:
                        await take(item)
                        index += 1
                else:
                    for item in items:
                        await take(item)
                        index += 1

    def _prepare_now(
        self, index: int, item: tuple[BundleInput, ArtifactInput | None]
    ) -> _Job | None:
        """The job for an item whose inputs are in memory, or None if a file must be read.

        Raises:
            TypeError, ValueError: the item is not a (bundle, artifact) pair.
        """
        bundle, artifact = item
        if isinstance(bundle, Bundle | bytes):
            data: Bundle | bytes = bundle
        elif isinstance(bundle, str) and bundle.lstrip().startswith("{"):
            data = bundle.encode()
        else:
            return None
        if artifact is None or isinstance(artifact, Artifact | bytes):
            # Bytes are hashed by the worker, with the rest of the job.
            return _Job(index, item, data, artifact)
        if isinstance(artifact, str) and Artifact.is_digest(artifact):
            return _Job(index, item, data, Artifact.from_digest(artifact))
        return None

    async def _prepare(self, index: int, item: tuple[BundleInput, ArtifactInput | None]) -> _Job:
        """Read an item's files off the loop (a bundle file, an artifact streamed and hashed).

        Raises:
            InvalidBundle: the bundle is malformed and the artifact unusable
                (the bundle is what is reported).
            OSError: a file could not be read.
            TypeError, ValueError: the item is not a (bundle, artifact) pair.
        """
        bundle, artifact = item
        data = await self._bundle_data(bundle)
        if artifact is None or isinstance(artifact, Artifact | bytes):
            return _Job(index, item, data, artifact)
        return _Job(index, item, data, await self._item_artifact(data, artifact))

    async def _verify_chunk(
        self, jobs: list[_Job], policy: Policy | None, key: VerifyingKey | None
    ) -> list[VerifyOutcome]:
        now = self._clock()
        work = [(job.bundle, job.artifact) for job in jobs]
        answers: list[_Answer]
        if self.offload == "process":
            spec = _KeySpec(key.der, key.valid_for) if key is not None else None
            returned = await self._run_in_process(
                _verify_chunk_in_worker, work, policy, spec, self.options, now
            )
            assert isinstance(returned, list)
            answers = returned
        else:
            answers = await anyio.to_thread.run_sync(
                _verify_chunk_sync,
                work,
                policy,
                key,
                self.trust,
                self.options,
                now,
                self.cache,
                limiter=self._limiter,
            )
        outcomes = []
        for job, answer in zip(jobs, answers, strict=True):
            if isinstance(answer, VerificationResult):
                outcomes.append(VerifyOutcome(job.index, job.item, result=answer))
            else:
                outcomes.append(_failed(job.index, job.item, answer))
        return outcomes

    async def _run_in_process(self, func: Callable[..., object], *args: object) -> object:
        """Call ``func(fingerprint, trust_json, *args)`` in a worker process; the
        trust root's JSON travels only to a worker that asks for it."""
        fingerprint = self.trust.fingerprint
        for trust_json in (None, self._trust_document()):
            answer = await anyio.to_process.run_sync(
                func, fingerprint, trust_json, *args, limiter=self._process_limiter
            )
            if answer != _NEED_TRUST:
                return answer
        raise RuntimeError("a worker process did not accept the trust root")


@attrs.frozen
class _Job:
    """One item of a batch, its inputs in memory."""

    index: int
    item: tuple[Any, Any]
    bundle: Bundle | bytes
    #: Bytes are hashed where the job runs.
    artifact: Artifact | bytes | None


#: Most items sent to a worker in one trip.
_CHUNK_ITEMS = 64

_Answer: TypeAlias = VerificationResult | Exception


def _failed(index: int, item: tuple[Any, Any], error: Exception) -> VerifyOutcome:
    if isinstance(error, VerificationError | OSError):
        return VerifyOutcome(index, item, error=error)
    # An item that is not a (bundle, artifact) pair, an artifact string that is
    # neither a digest nor a path, or inputs that do not fit the bundle.
    return VerifyOutcome(index, item, error=InvalidBundle(f"unusable item: {error}"))


def _verify_chunk_sync(
    work: list[tuple[Bundle | bytes, Artifact | bytes | None]],
    policy: Policy | None,
    key: VerifyingKey | None,
    trust: TrustMaterial,
    options: VerificationOptions,
    now: datetime,
    cache: VerifyCache,
) -> list[_Answer]:
    """Parse and verify each item; an item's error is its answer."""
    answers: list[_Answer] = []
    for bundle, artifact in work:
        try:
            answers.append(
                verify_bundle(
                    bundle if isinstance(bundle, Bundle) else Bundle.from_json(bundle),
                    artifact=Artifact.from_bytes(artifact)
                    if isinstance(artifact, bytes)
                    else artifact,
                    policy=policy,
                    trust=trust,
                    now=now,
                    key=key,
                    options=options,
                    cache=cache,
                )
            )
        except (VerificationError, TypeError, ValueError) as e:
            answers.append(e)
    return answers


def _worker_trust(
    fingerprint: bytes, trust_json: bytes | None
) -> tuple[TrustMaterial, VerifyCache] | None:
    state = _WORKER_TRUST.get(fingerprint)
    if state is None and trust_json is not None:
        state = (TrustMaterial.from_json(trust_json), VerifyCache())
        _WORKER_TRUST[fingerprint] = state
        if len(_WORKER_TRUST) > _WORKER_MAX_TRUST:
            _WORKER_TRUST.popitem(last=False)
    return state


def _verify_chunk_in_worker(
    fingerprint: bytes,
    trust_json: bytes | None,
    work: list[tuple[Bundle | bytes, Artifact | bytes | None]],
    policy: Policy | None,
    key: _KeySpec | None,
    options: VerificationOptions,
    now: datetime,
) -> list[_Answer] | str:
    """``_verify_chunk_sync`` in a worker process."""
    state = _worker_trust(fingerprint, trust_json)
    if state is None:
        return _NEED_TRUST
    trust, cache = state
    verifying_key = VerifyingKey(load_der_public_key(key.der), key.valid_for) if key else None
    return _verify_chunk_sync(work, policy, verifying_key, trust, options, now, cache)


def _check_picklable(policy: Policy | None) -> None:
    """Worker processes receive the policy pickled; say so early if it cannot be.

    Raises:
        TypeError: the policy does not pickle.
    """
    try:
        pickle.dumps(policy)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TypeError(
            f"offload='process' needs a policy that pickles; {policy!r} does not ({e})"
        ) from e
