"""The async Signer: one identity, many artifacts, concurrently.

Owns: the signing credential's lifecycle (an ephemeral key and its Fulcio
certificate, checked against the trust root and its SCT before first use,
shared by every concurrent signature, renewed once under a lock before it
expires); turning inputs (bytes, files, digests, DSSE payloads, in-toto
attestations) into signatures without blocking the event loop (files are
hashed in worker threads); submitting each signature to the selected logs and
timestamp authorities concurrently; and batches with bounded concurrency where
every input yields exactly one outcome.

Does not own: what an entry or bundle looks like, or what counts as a correct
log answer (``sign.assembly``); which services to use (``sign.config``); the
wire protocols (``fulcio``, ``rekor``, ``tsa``); retries (``_http``); or
verification rules (``verify``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections import deque
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sized,
)
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypeAlias, TypeVar

import anyio
import anyio.abc
import attrs
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from .._core import sct
from .._core import x509 as cx509
from .._core.keys import HashAlgorithm, as_public_key, default_hash_for_key
from .._http import RetryPolicy, new_client
from .._time import Clock, utc_now
from ..errors import CertificateError, SignatureError, SigstoreError
from ..fulcio import FulcioClient
from ..models.bundle import Bundle
from ..models.dsse import Envelope, Signature, pae
from ..models.rekor import TransparencyLogEntry
from ..models.trust_root import Service, SigningConfig
from ..oidc.token import IdentityToken
from ..rekor.v1 import RekorV1Client
from ..rekor.v2 import RekorV2Client
from ..trust import TrustMaterial
from ..tsa import TsaClient
from ..verify.artifact import DIGEST_ALGORITHMS, Artifact
from ..verify.core import VerifyCache, parse_statement, verify_bundle
from ..verify.policy import Identity
from .assembly import (
    IN_TOTO_PAYLOAD_TYPE,
    ProposedEntry,
    SignedMessage,
    assemble_bundle,
    check_log_entry,
    in_toto_statement,
    parse_rekor_v1_entry,
    parse_rekor_v2_entry,
    propose_entry,
)
from .config import REKOR_VERSIONS, SigningPlan, plan_signing

__all__ = [
    "ArtifactInput",
    "Attestation",
    "KeyType",
    "Payload",
    "SignInput",
    "SignOutcome",
    "SignProgress",
    "SignResults",
    "Signer",
    "Subject",
    "TokenSource",
]

logger = logging.getLogger(__name__)

#: The kinds of ephemeral key a Signer can use. Ed25519 signs DSSE envelopes
#: (and attestations) only, and only with Rekor v1: Ed25519 cannot sign a
#: precomputed digest, and Rekor v2 takes no Ed25519 hashedrekord entries.
KeyType: TypeAlias = Literal["ecdsa-p256", "ecdsa-p384", "ed25519"]
#: An identity token, its raw JWT, or an async callable giving a fresh one
#: (called again when a certificate must be renewed after the token expired).
TokenSource: TypeAlias = IdentityToken | str | Callable[[], Awaitable[IdentityToken | str]]
#: An artifact: its bytes, a path (streamed), or an :class:`Artifact` carrying
#: a precomputed digest (``Artifact.from_digest("sha256:<hex>")``).
ArtifactInput: TypeAlias = bytes | os.PathLike[str] | str | Artifact

_CHUNK = 1 << 20
#: Bytes above this are hashed in a worker thread rather than on the event loop.
_INLINE_HASH_LIMIT = 1 << 16
_ECDSA_HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = {
    "SHA2_256": hashes.SHA256,
    "SHA2_384": hashes.SHA384,
    "SHA2_512": hashes.SHA512,
}
_HASHLIB = {name: hl for name, (_, hl, _) in DIGEST_ALGORITHMS.items()}
_PREFIX = {name: prefix for name, (prefix, _, _) in DIGEST_ALGORITHMS.items()}


# --- inputs ------------------------------------------------------------------


@attrs.frozen
class Payload:
    """A DSSE payload to sign: any bytes, with their payload type."""

    payload: bytes
    payload_type: str


@attrs.frozen
class Subject:
    """A named in-toto subject. A bare path is named by its file name; bytes and
    digests without a name get an empty one."""

    name: str
    artifact: ArtifactInput


def _subjects(value: Any) -> tuple[Subject | ArtifactInput, ...]:
    if isinstance(value, bytes | str | os.PathLike | Artifact | Subject):
        return (value,)
    return tuple(value)


@attrs.frozen
class Attestation:
    """An in-toto statement to build and sign: its subjects (artifacts, whose
    digests are computed, or :class:`Subject` values), predicate type and
    predicate."""

    subjects: tuple[Subject | ArtifactInput, ...] = attrs.field(converter=_subjects)
    predicate_type: str
    predicate: Mapping[str, Any] | None = None


#: What :meth:`Signer.sign` and :meth:`Signer.sign_many` accept.
SignInput: TypeAlias = ArtifactInput | Payload | Attestation


@attrs.frozen
class SignOutcome:
    """The outcome of one item of :meth:`Signer.sign_many`."""

    #: Position of the item in the input.
    index: int
    #: The item as given.
    item: Any
    bundle: Bundle | None = None
    #: ``None`` on success; otherwise why this item has no bundle: a
    #: ``SigstoreError`` (a service failed after retries, a log or TSA answer
    #: did not check out, the credential could not be renewed), an ``OSError``
    #: (unreadable file), or a ``ValueError``/``TypeError`` for an unusable item.
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.define
class SignProgress:
    """Counters of a batch, updated as it runs (read them from a callback or
    from :attr:`SignResults.progress` to draw a progress bar)."""

    #: Items read from the input so far.
    started: int = 0
    #: Items with an outcome (signed or failed).
    finished: int = 0
    #: Items whose outcome is an error.
    failed: int = 0
    #: The number of items, when the input has a length.
    total: int | None = None

    @property
    def signed(self) -> int:
        return self.finished - self.failed

    @property
    def in_flight(self) -> int:
        return self.started - self.finished


class SignResults:
    """The outcomes of a batch, as they finish: ``async for outcome in results``.

    Also :attr:`progress`, the batch's live counters.
    """

    def __init__(
        self, stream: MemoryObjectReceiveStream[SignOutcome], progress: SignProgress
    ) -> None:
        self._stream = stream
        self.progress = progress

    def __aiter__(self) -> AsyncIterator[SignOutcome]:
        return self._stream.__aiter__()

    async def receive(self) -> SignOutcome:
        """The next outcome. Raises ``anyio.EndOfStream`` after the last one."""
        return await self._stream.receive()


# --- credentials -------------------------------------------------------------


@attrs.frozen(repr=False)
class _Credential:
    """An ephemeral key and the certificate Fulcio issued for it."""

    private_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    certificate: x509.Certificate
    certificate_der: bytes
    identity: cx509.FulcioIdentity
    hash_algorithm: HashAlgorithm
    not_after: datetime
    renew_at: datetime

    def __repr__(self) -> str:  # never show the key
        return f"_Credential(identity={self.identity.san!r}, not_after={self.not_after})"


def _new_key(key_type: KeyType) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}")


def _csr(
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, hash_algorithm: HashAlgorithm
) -> x509.CertificateSigningRequest:
    """A CSR as Fulcio's proof of possession (its signature proves the key)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return builder.sign(key, None)
    algorithm = hashes.SHA384() if hash_algorithm == "SHA2_384" else hashes.SHA256()
    return builder.sign(key, algorithm)


def _spki(key: Any) -> bytes:
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def check_issued_certificate(
    chain_der: list[bytes],
    *,
    public_key_der: bytes,
    token: IdentityToken,
    trust: TrustMaterial,
    now: datetime,
) -> tuple[x509.Certificate, cx509.FulcioIdentity]:
    """Check what Fulcio issued before using it: a code-signing leaf for our
    key, naming the token's identity and issuer, valid now, chaining to a
    Fulcio CA of the trust root valid now, with a verifying embedded SCT.

    Raises:
        CertificateError: any of these fails (Fulcio answered badly or lied).
        CertificateTransparencyError: no valid SCT from a trusted CT log.
    """
    leaf = cx509.load_certificate(chain_der[0])
    try:
        leaf_key_der = _spki(leaf.public_key())
    except cx509.PARSE_ERRORS as e:
        raise CertificateError(f"Fulcio's certificate has an unusable key: {e}") from e
    if leaf_key_der != public_key_der:
        raise CertificateError("Fulcio certified another public key than the one requested")
    cx509.check_leaf(leaf)
    identity = cx509.leaf_identity(leaf)
    expected = {token.identity}
    if token.identity_kind == "subject":
        # A private Fulcio decides the SAN form of a generic issuer: its
        # subject, or a verified email address.
        email = token.claims.get("email")
        if isinstance(email, str) and token.claims.get("email_verified") is True:
            expected.add(email)
    if identity.san not in expected:
        raise CertificateError(
            f"Fulcio certified the identity {identity.san!r}, the token is for {token.identity!r}"
        )
    if identity.issuer != token.certificate_issuer:
        raise CertificateError(
            f"Fulcio recorded the issuer {identity.issuer!r}, the token is from "
            f"{token.certificate_issuer!r}"
        )
    issuer: x509.Certificate | None = None
    problems = []
    for ca in trust.fulcio:
        if not ca.valid_at(now):
            continue
        try:
            cx509.verify_chain(leaf, ca.chain, at=[now])
        except CertificateError as e:
            problems.append(e.message)
            continue
        issuer = ca.chain[0]
        break
    if issuer is None:
        detail = "; ".join(problems) or "no Fulcio CA of the trusted root is valid now"
        raise CertificateError(f"the issued certificate does not verify: {detail}")
    sct.verify_embedded_scts(leaf, issuer, ct_keys=trust.ct_key, threshold=1)
    return leaf, identity


# --- checking in worker threads ----------------------------------------------

_T = TypeVar("_T")
#: At most this many calls per hop to a worker thread (bounds the wait of each).
_BATCH = 32


class _Call(Generic[_T]):
    __slots__ = ("error", "event", "finished", "fn", "result", "taken")

    def __init__(self, fn: Callable[[], _T]) -> None:
        self.fn = fn
        #: Taken from the queue by a worker; finished: run (in a worker thread).
        self.taken = False
        self.finished = False
        self.result: _T | None = None
        self.error: Exception | None = None
        self.event: anyio.Event | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except Exception as e:
            self.error = e
        self.finished = True

    def wake(self) -> None:
        if self.event is not None:
            self.event.set()


def _run_calls(calls: list[_Call[Any]]) -> None:
    for call in calls:
        call.run()


class _ThreadBatcher:
    """Runs short blocking calls in worker threads, many per thread hop.

    A hop to a worker thread costs a good part of a bundle check's CPU time
    (a future, a queue, waking the event loop from the thread). Calls made
    while ``workers`` hops are under way queue up, and the next hop runs up to
    ``_BATCH`` of them. A caller whose call is still queued when a worker is
    free makes the hops itself until its own call has run, then hands over to
    the owner of the oldest queued call, so no call is left waiting. A call's
    exception is raised in its caller's task.
    """

    def __init__(self, limiter: anyio.CapacityLimiter, workers: int = 2) -> None:
        self._limiter = limiter
        self._workers = workers
        self._busy = 0
        self._queue: deque[_Call[Any]] = deque()

    async def run(self, fn: Callable[[], _T]) -> _T:
        call = _Call(fn)
        self._queue.append(call)
        try:
            while not call.finished:
                if not call.taken and self._busy < self._workers:
                    await self._work(call)
                else:
                    call.event = anyio.Event()
                    await call.event.wait()
        except BaseException:
            if not call.taken:
                with contextlib.suppress(ValueError):
                    self._queue.remove(call)
            self._hand_over()
            raise
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]

    def _hand_over(self) -> None:
        if self._queue and self._busy < self._workers:
            self._queue[0].wake()

    async def _work(self, own: _Call[Any]) -> None:
        self._busy += 1
        try:
            # Until a hop takes this caller's own call (then it has run, or
            # the hop was cancelled and so is this caller).
            while not own.taken and self._queue:
                batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
                for c in batch:
                    c.taken = True
                try:
                    await anyio.to_thread.run_sync(_run_calls, batch, limiter=self._limiter)
                finally:
                    # Each call has run, or (cancelled while waiting for a
                    # thread) goes back to the front of the queue.
                    for c in reversed(batch):
                        if c.finished:
                            c.wake()
                        else:
                            c.taken = False
                            self._queue.appendleft(c)
        finally:
            self._busy -= 1
            self._hand_over()


# --- the signer --------------------------------------------------------------


@attrs.frozen
class _Content:
    """What one input resolved to: a digest to sign, or a DSSE payload."""

    digest: bytes | None = None
    algorithm: HashAlgorithm = "SHA2_256"
    payload: bytes | None = None
    payload_type: str = ""


class Signer:
    """Signs artifacts with one identity, any number at a time.

    Open it with ``async with Signer(token, signing_config=..., trust=...)``
    (or ``sigstore.signer(token)``): entering it selects the services, makes
    an ephemeral key and gets its certificate from Fulcio, checked against
    ``trust`` (chain, SCT, key and identity). Every signature made in the
    block shares that key and certificate; it is renewed, once, under a lock,
    ``renew_before`` ahead of its expiry (default: a third of its lifetime, at
    most three minutes), so a batch may outlast any one certificate.

    Args:
        token: An :class:`IdentityToken`, a raw JWT, or an async callable
            returning one (called when a renewal finds the token expired).
        signing_config: Which CA, logs and TSAs to use (v0.2 selection rules).
        trust: The trust material the results are checked against.
        http: A shared ``httpx.AsyncClient`` (the caller owns it). Without
            one, the Signer creates one (on ``transport``, if given) and
            closes it on exit.
        key_type: ``"ecdsa-p256"`` (default), ``"ecdsa-p384"`` or ``"ed25519"``.
        verify: Verify each bundle with the SDK's verifier before returning
            it (default). What a log answered is checked either way.
        retry: The retry policy of every request.
        rekor_versions: The Rekor API versions to consider (``{1}`` forces
            Rekor v1 where the config offers both).
        clock: The time source for every check.
        concurrency: Worker threads for hashing and checking, across calls.

    Raises (on entry):
        IdentityError: the token is expired, malformed, or refused by Fulcio.
        TrustError: the signing config names no usable CA or log.
        CertificateError: Fulcio's certificate does not check out.
        ServiceError: Fulcio failed (after retries).
        ValueError: Ed25519 with a Rekor v2 log.
    """

    def __init__(
        self,
        token: TokenSource,
        *,
        signing_config: SigningConfig,
        trust: TrustMaterial,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        key_type: KeyType = "ecdsa-p256",
        verify: bool = True,
        retry: RetryPolicy | None = None,
        rekor_versions: Iterable[int] = REKOR_VERSIONS,
        renew_before: timedelta | None = None,
        clock: Clock = utc_now,
        concurrency: int | None = None,
    ) -> None:
        if key_type not in ("ecdsa-p256", "ecdsa-p384", "ed25519"):
            raise ValueError(f"unknown key type {key_type!r}")
        self._token_source = token
        self._token: IdentityToken | None = None
        self.signing_config = signing_config
        self.trust = trust
        self._http = http
        self._transport = transport
        self._owns_http = http is None
        self.key_type: KeyType = key_type
        self.verify = verify
        self._retry = retry or RetryPolicy()
        self._rekor_versions = frozenset(rekor_versions)
        self._renew_before = renew_before
        self._clock = clock
        self._limiter = anyio.CapacityLimiter(concurrency or min(32, (os.cpu_count() or 1) + 4))
        self._checks = _ThreadBatcher(self._limiter)
        self._lock = anyio.Lock()
        self._credential_value: _Credential | None = None
        self._failure: tuple[SigstoreError, float] | None = None
        self._plan: SigningPlan | None = None
        self._cache = VerifyCache()
        self._closed = False
        #: How many certificates this signer has obtained.
        self.certificates_issued = 0

    # --- lifetime ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._closed:
            raise RuntimeError("this Signer is closed")
        if self._http is None:
            self._http = new_client(transport=self._transport)
        try:
            self._plan = plan_signing(
                self.signing_config, now=self._clock(), rekor_versions=self._rekor_versions
            )
            if self.key_type == "ed25519" and any(
                t.major_api_version == 2 for t in self._plan.tlogs
            ):
                raise ValueError("Rekor v2 takes no Ed25519 entries: use an ECDSA key type")
            await self._credential()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Forget the key and certificate; close the HTTP client if this signer made it."""
        self._closed = True
        self._credential_value = None
        http, self._http = self._http, None
        if http is not None and self._owns_http:
            await http.aclose()

    @property
    def plan(self) -> SigningPlan:
        """The services this signer uses (selected on entry)."""
        if self._plan is None:
            raise RuntimeError("enter the Signer (async with) before using it")
        return self._plan

    @property
    def certificate(self) -> bytes | None:
        """DER of the current signing certificate, if one is held."""
        cred = self._credential_value
        return cred.certificate_der if cred is not None else None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None or self._closed:
            raise RuntimeError("this Signer is not open (use it inside `async with`)")
        return self._http

    # --- the credential ------------------------------------------------------------------

    async def _identity_token(self, now: datetime) -> IdentityToken:
        token = self._token
        if token is not None and token.is_valid_at(now, leeway=timedelta(0)):
            return token
        source = self._token_source
        if callable(source) and not isinstance(source, IdentityToken):
            fresh = await source()
        elif token is not None:
            token.check_time(now, leeway=timedelta(0))  # raises ExpiredToken
            return token
        else:
            fresh = source
        if isinstance(fresh, str):
            fresh = IdentityToken.from_jwt(fresh, now=now)
        elif isinstance(fresh, IdentityToken):
            fresh.check_time(now, leeway=timedelta(0))
        else:
            raise TypeError(f"an identity token is an IdentityToken or a str, not {type(fresh)}")
        self._token = fresh
        return fresh

    async def _credential(self) -> _Credential:
        cred = self._credential_value
        if cred is not None and self._clock() < cred.renew_at:
            return cred
        async with self._lock:
            # Single flight: whoever waited on the lock finds the fresh credential.
            cred = self._credential_value
            if cred is not None and self._clock() < cred.renew_at:
                return cred
            if self._failure is not None:
                error, when = self._failure
                # A failed renewal is not retried by every waiting signature:
                # they all get that failure for a while (one retry deadline).
                if anyio.current_time() - when < min(self._retry.deadline, 30.0):
                    raise error.with_traceback(None)
                self._failure = None
            try:
                cred = await self._issue()
            except SigstoreError as e:
                self._failure = (e, anyio.current_time())
                raise
            self._credential_value = cred
            self.certificates_issued += 1
            return cred

    async def _issue(self) -> _Credential:
        now = self._clock()
        token = await self._identity_token(now)
        key = _new_key(self.key_type)
        public_der = _spki(key.public_key())
        hash_algorithm = default_hash_for_key(as_public_key(key.public_key()))
        fulcio = FulcioClient(self._client(), self.plan.ca.url, retry=self._retry)
        chain = await fulcio.signing_certificate(_csr(key, hash_algorithm), token.reveal())
        now = self._clock()
        leaf, identity = await anyio.to_thread.run_sync(
            lambda: check_issued_certificate(
                chain, public_key_der=public_der, token=token, trust=self.trust, now=now
            ),
            limiter=self._limiter,
        )
        not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        lifetime = not_after - not_before
        margin = self._renew_before
        if margin is None:
            margin = min(timedelta(minutes=3), lifetime / 3)
        logger.debug("certificate for %s valid until %s", identity.san, not_after.isoformat())
        return _Credential(
            private_key=key,
            certificate=leaf,
            certificate_der=chain[0],
            identity=identity,
            hash_algorithm=hash_algorithm,
            not_after=not_after,
            renew_at=not_after - margin,
        )

    # --- inputs --------------------------------------------------------------------------

    def _hash_algorithm(self) -> HashAlgorithm:
        return "SHA2_384" if self.key_type == "ecdsa-p384" else "SHA2_256"

    async def _digest_of(self, value: ArtifactInput, algorithm: HashAlgorithm) -> bytes:
        """The digest of an artifact input (files and large bytes in a worker thread).

        Raises:
            OSError: the file cannot be read.
            ValueError: a precomputed digest lacks ``algorithm``, or a string
                is neither a digest nor a path.
        """
        hl = _HASHLIB[algorithm]
        if isinstance(value, Artifact):
            found = value.digest(algorithm)
            if found is None:
                raise ValueError(f"the artifact's {_PREFIX[algorithm]} digest is needed")
            return found
        if isinstance(value, bytes):
            if len(value) <= _INLINE_HASH_LIMIT:
                return hashlib.new(hl, value).digest()
            return await anyio.to_thread.run_sync(
                lambda: hashlib.new(hl, value).digest(), limiter=self._limiter
            )
        if isinstance(value, str) and Artifact.is_digest(value):
            return await self._digest_of(Artifact.from_digest(value), algorithm)
        if not isinstance(value, str | os.PathLike):
            raise TypeError(f"cannot sign a {type(value).__name__}")
        path = Path(os.fspath(value))
        return await anyio.to_thread.run_sync(_hash_file, path, hl, limiter=self._limiter)

    async def _resolve(self, item: SignInput) -> _Content:
        if isinstance(item, Payload):
            if item.payload_type == IN_TOTO_PAYLOAD_TYPE:
                # Refuse before anything is logged what no verifier would accept.
                try:
                    parse_statement(item.payload)
                except SignatureError as e:
                    raise ValueError(f"the payload is not an in-toto statement: {e.message}") from e
            return _Content(payload=item.payload, payload_type=item.payload_type)
        if isinstance(item, Attestation):
            subjects = []
            for s in item.subjects:
                name, artifact = (s.name, s.artifact) if isinstance(s, Subject) else ("", s)
                if (
                    not name
                    and isinstance(artifact, os.PathLike | str)
                    and not (isinstance(artifact, str) and Artifact.is_digest(artifact))
                ):
                    name = Path(os.fspath(artifact)).name
                digests = {}
                if isinstance(artifact, Artifact):
                    digests = {_PREFIX[k]: v.hex() for k, v in artifact.digests.items()}
                else:
                    digests = {"sha256": (await self._digest_of(artifact, "SHA2_256")).hex()}
                subjects.append((name, digests))
            payload = in_toto_statement(subjects, item.predicate_type, item.predicate)
            return _Content(payload=payload, payload_type=IN_TOTO_PAYLOAD_TYPE)
        if self.key_type == "ed25519":
            raise ValueError(
                "Ed25519 keys cannot sign a digest: sign a Payload or an Attestation, "
                "or use an ECDSA key type"
            )
        algorithm = self._hash_algorithm()
        return _Content(digest=await self._digest_of(item, algorithm), algorithm=algorithm)

    # --- signing -------------------------------------------------------------------------

    async def sign(self, item: SignInput) -> Bundle:
        """Sign one input and return its bundle.

        ``item`` is the artifact's bytes, a path (streamed through a worker
        thread), an :class:`Artifact` with a precomputed digest (or a
        ``"sha256:<hex>"`` string), a DSSE :class:`Payload`, or an in-toto
        :class:`Attestation`.

        Raises:
            IdentityError: the token expired and no fresh one was available.
            ServiceError: a service failed (after retries).
            TransparencyLogError: a log's answer does not match the submission
                or does not prove inclusion.
            TimestampError: a TSA answered for other bytes.
            CertificateError: a renewed certificate does not check out.
            VerificationError: the assembled bundle does not verify.
            OSError: a file cannot be read.
            ValueError: an unusable input (a digest of the wrong kind).
        """
        return await self._sign_content(await self._resolve(item))

    async def sign_dsse(self, payload: bytes, payload_type: str) -> Bundle:
        """Sign a DSSE envelope over ``payload`` (see :meth:`sign` for errors)."""
        return await self.sign(Payload(payload, payload_type))

    async def attest(
        self,
        subjects: Subject | ArtifactInput | Iterable[Subject | ArtifactInput],
        predicate_type: str,
        predicate: Mapping[str, Any] | None = None,
    ) -> Bundle:
        """Sign an in-toto v1 statement about ``subjects`` (their SHA-256
        digests are computed; files are streamed). See :meth:`sign` for errors."""
        return await self.sign(Attestation(subjects, predicate_type, predicate))

    def _signature(self, cred: _Credential, content: _Content) -> SignedMessage | Envelope:
        key = cred.private_key
        if content.payload is not None:
            message = pae(content.payload_type, content.payload)
            if isinstance(key, ed25519.Ed25519PrivateKey):
                sig = key.sign(message)
            else:
                sig = key.sign(message, ec.ECDSA(_ECDSA_HASHES[cred.hash_algorithm]()))
            return Envelope(
                payload=content.payload,
                payload_type=content.payload_type,
                signatures=(Signature(sig=sig),),
            )
        assert content.digest is not None
        if isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("Ed25519 keys cannot sign a digest")
        if content.algorithm != cred.hash_algorithm:
            raise ValueError("the digest does not use the key's hash algorithm")
        algorithm = _ECDSA_HASHES[content.algorithm]()
        sig = key.sign(content.digest, ec.ECDSA(Prehashed(algorithm)))
        return SignedMessage(digest=content.digest, algorithm=content.algorithm, signature=sig)

    async def _sign_content(self, content: _Content) -> Bundle:
        plan = self.plan
        http = self._client()
        cred = await self._credential()
        signed = self._signature(cred, content)
        public_key = as_public_key(cred.private_key.public_key())
        proposals = [
            (
                log,
                propose_entry(
                    signed,
                    certificate=cred.certificate_der,
                    key=public_key,
                    rekor_version=log.major_api_version,
                ),
            )
            for log in plan.tlogs
        ]
        answers: list[object] = [None] * len(proposals)
        stamps: list[bytes] = [b""] * len(plan.tsas)
        errors: list[SigstoreError] = []
        signature = signed.signatures[0].sig if isinstance(signed, Envelope) else signed.signature

        async def submit(i: int, log: Service, proposed: ProposedEntry) -> None:
            client: RekorV1Client | RekorV2Client
            if log.major_api_version == 1:
                client = RekorV1Client(http, log.url, retry=self._retry)
            else:
                client = RekorV2Client(http, log.url, retry=self._retry)
            try:
                answers[i] = await client.create_entry(proposed.request)
            except SigstoreError as e:
                errors.append(e)
                tg.cancel_scope.cancel()

        async def stamp(i: int, tsa: Service) -> None:
            try:
                stamps[i] = await TsaClient(http, tsa.url, retry=self._retry).timestamp(signature)
            except SigstoreError as e:
                errors.append(e)
                tg.cancel_scope.cancel()

        # The TSAs timestamp the signature, which exists before any log sees
        # it: ask them while the logs integrate. The first log is asked from
        # this task (one task fewer per signature); the others get their own.
        async with anyio.create_task_group() as tg:
            for i, (log, proposed) in enumerate(proposals[1:], 1):
                tg.start_soon(submit, i, log, proposed)
            for i, tsa in enumerate(plan.tsas):
                tg.start_soon(stamp, i, tsa)
            if proposals:
                await submit(0, *proposals[0])
        if errors:
            raise errors[0]
        now = self._clock()
        return await self._checks.run(
            lambda: self._finish(signed, cred, proposals, answers, stamps, now)
        )

    def _finish(
        self,
        signed: SignedMessage | Envelope,
        cred: _Credential,
        proposals: list[tuple[Service, ProposedEntry]],
        answers: list[object],
        stamps: list[bytes],
        now: datetime,
    ) -> Bundle:
        """Check the logs' answers, assemble the bundle, verify it (worker thread)."""
        entries: list[TransparencyLogEntry] = []
        for (log, proposed), answer in zip(proposals, answers, strict=True):
            if log.major_api_version == 1:
                entry = parse_rekor_v1_entry(answer)
            else:
                entry = parse_rekor_v2_entry(answer, service="rekor v2")
            entries.append(
                check_log_entry(
                    entry,
                    proposed,
                    trust=self.trust,
                    base_url=log.url,
                    now=now,
                    memo=self._cache.get,
                )
            )
        bundle = assemble_bundle(
            signed, certificate=cred.certificate_der, entries=entries, timestamps=stamps
        )
        if self.verify:
            artifact = signed.artifact() if isinstance(signed, SignedMessage) else None
            verify_bundle(
                bundle,
                artifact=artifact,
                policy=Identity(cred.identity.san, cred.identity.issuer),
                trust=self.trust,
                now=now,
                cache=self._cache,
            )
        return bundle

    # --- many ----------------------------------------------------------------------------

    @asynccontextmanager
    async def sign_many(
        self,
        items: Iterable[SignInput] | AsyncIterable[SignInput],
        *,
        concurrency: int = 64,
        on_progress: Callable[[SignProgress], None] | None = None,
    ) -> AsyncIterator[SignResults]:
        """Sign many inputs; yield one outcome per input.

        Use as ``async with signer.sign_many(paths) as results:`` then
        ``async for outcome in results``. Outcomes arrive as items finish
        (``outcome.index`` gives the position). At most ``concurrency`` items
        are in flight and the input is read only as slots free up, so memory
        stays flat for any number of items and a slow consumer slows the
        input down. Every item read from the input yields exactly one outcome:
        its bundle, or the error that kept it from having one. One item's
        failure never cancels the others. ``on_progress`` is called with the
        batch's counters after each outcome (and they are on
        ``results.progress``). Leaving the block early cancels the remaining
        work; no task or connection outlives it.

        Raises:
            IdentityError, ServiceError, CertificateError: on entry, when no
                valid certificate can be had (nothing would be signed).
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        await self._credential()
        progress = SignProgress(total=len(items) if isinstance(items, Sized) else None)
        send, receive = anyio.create_memory_object_stream[SignOutcome](concurrency)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._produce, items, concurrency, send, progress, on_progress)
                try:
                    yield SignResults(receive, progress)
                finally:
                    # Cancel before closing the stream, so that no task finds it
                    # closed while it can still run (a BrokenResourceError).
                    tg.cancel_scope.cancel()
                    receive.close()
        except BaseExceptionGroup as group:
            # An error in the caller's block (or a bug here) is one exception:
            # raise it as itself rather than wrapped by the task group.
            single = _single(group)
            if single is None:
                raise
            raise single from single.__cause__

    async def _one(self, index: int, item: Any) -> SignOutcome:
        try:
            content = await self._resolve(item)
        except (OSError, ValueError, TypeError) as e:
            return SignOutcome(index, item, error=e)
        try:
            return SignOutcome(index, item, bundle=await self._sign_content(content))
        except SigstoreError as e:
            return SignOutcome(index, item, error=e)

    async def _produce(
        self,
        items: Iterable[SignInput] | AsyncIterable[SignInput],
        concurrency: int,
        send: MemoryObjectSendStream[SignOutcome],
        progress: SignProgress,
        on_progress: Callable[[SignProgress], None] | None,
    ) -> None:
        slots = anyio.Semaphore(concurrency)

        async def run(index: int, item: Any) -> None:
            try:
                outcome = await self._one(index, item)
                progress.finished += 1
                if outcome.error is not None:
                    progress.failed += 1
                if on_progress is not None:
                    on_progress(progress)
                # If the consumer left the block the batch is being cancelled.
                with contextlib.suppress(anyio.BrokenResourceError):
                    await send.send(outcome)
            finally:
                slots.release()

        async with send, anyio.create_task_group() as tg:
            index = 0
            if isinstance(items, AsyncIterable):
                async for item in items:
                    await slots.acquire()
                    progress.started += 1
                    tg.start_soon(run, index, item)
                    index += 1
            else:
                for item in items:
                    await slots.acquire()
                    progress.started += 1
                    tg.start_soon(run, index, item)
                    index += 1


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception inside (nested) single-member groups, if that is all."""
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup):
        if len(inner.exceptions) != 1:
            return None
        inner = inner.exceptions[0]
    return inner


def _hash_file(path: Path, hashlib_name: str) -> bytes:
    h = hashlib.new(hashlib_name)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.digest()
