"""LocalSigstore: a complete Sigstore instance, in process or on loopback.

Owns: assembling the services (OIDC issuer, Fulcio, Rekor v1 and v2, TSA,
TUF repository) into one ASGI application, the instance's trusted root,
signing configs and client trust configs, fault and adversary knobs, request
counting, persistence, and the lifetime of the background work (Rekor v2
batching, the uvicorn server) inside one ``async with`` block.

Does not own: any service's protocol (the ``_oidc``, ``_fulcio``, ``_rekor``,
``_tsa`` and ``_tuf_repo`` modules), nor the library: nothing outside
``sigstore_async.testing`` imports this package.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import anyio
import anyio.to_thread
import httpx
from anyio.from_thread import BlockingPortal
from cryptography.hazmat.primitives import serialization

from .._time import Clock, utc_now
from ..models.common import (
    DistinguishedName,
    LogId,
    PublicKey,
    TimeRange,
    X509Certificate,
    X509CertificateChain,
)
from ..models.trust_root import (
    CLIENT_TRUST_CONFIG_MEDIA_TYPE,
    SIGNING_CONFIG_MEDIA_TYPE,
    TRUSTED_ROOT_MEDIA_TYPE,
    CertificateAuthority,
    ClientTrustConfig,
    Service,
    ServiceConfiguration,
    SigningConfig,
    TransparencyLogInstance,
    TrustedRoot,
)
from ._faults import SERVICES, Adversary, Faults, ServiceFaults
from ._fulcio import Fulcio
from ._http import ASGIApp, HTTPError, Request, Response, Router
from ._oidc import OidcIssuer
from ._pki import CertificateAuthority as _Chain
from ._pki import InstanceKeys, der_public_key, key_id, new_instance_keys
from ._rekor import RekorV1, RekorV2
from ._serve import LoopbackServer
from ._state import StateStore
from ._tsa import TimestampAuthority
from ._tuf_repo import LocalTufRepository

__all__ = ["LocalSigstore"]

_logger = logging.getLogger(__name__)

IN_PROCESS_URL = "http://sigstore.local"
OPERATOR = "sigstore-async LocalSigstore"

#: Mount points of the services under the base URL.
MOUNTS = {
    "/oidc": "oidc",
    "/rekor": "rekor",
    "/rekor-v2": "rekor_v2",
    "/tsa": "tsa",
    "/tuf": "tuf",
}
#: Fulcio answers at the root: clients join ``/api/v2/...`` to its URL as an absolute path.
ROOT_SERVICE = "fulcio"


def _dropped() -> BaseException:
    return httpx.RemoteProtocolError(
        "Server disconnected without sending a complete response "
        "(LocalSigstore fault injection: dropped connection)"
    )


def _retry_after(seconds: float) -> str:
    # RFC 9110 10.2.3 wants whole seconds; fractions are kept so tests can stay fast.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class LocalSigstore:
    """A real-crypto Sigstore instance for tests: every service, one ASGI app.

    Use it as ``async with LocalSigstore() as stack:``. Inside the block,
    ``stack.transport`` mounts the instance in process (``httpx.ASGITransport``),
    and with ``serve=True`` it also listens on ``127.0.0.1`` (port 0 unless
    given) through uvicorn; the URLs in the trusted root and signing configs
    are then the served ones, so out-of-process clients (sigstore-python, the
    CLI) can use it.

    The services, relative to :attr:`base_url`: the OIDC issuer at ``/oidc``,
    Fulcio at the base URL itself (clients resolve its ``/api/v2/...`` paths
    against the host), Rekor v1 at ``/rekor``, Rekor v2 at ``/rekor-v2``, the
    TSA at ``/tsa/api/v1/timestamp`` and the TUF repository at ``/tuf``.

    The attributes below exist inside the ``async with`` block.

    Args:
        serve: Also listen on a loopback socket.
        host: Where to listen when serving.
        port: The port to listen on when serving (0: any free port).
        clock: The instance's time: certificate validity, integrated times,
            timestamps, token lifetimes. Default: the wall clock.
        state_dir: Keep keys, log entries and the TUF repository (its keys and
            metadata) in a SQLite file there, so that a restart keeps the logs
            and TUF clients go on updating from the same root (default:
            nothing is kept).
        default_identity: The identity that tokens are for when no other is
            named (an email address or a URI).
        oidc_algorithm: ``"ES256"`` or ``"RS256"`` for identity tokens.
        trusted_issuers: Extra issuer names that Fulcio accepts for tokens
            signed by this instance's OIDC key (for example
            ``"https://token.actions.githubusercontent.com"``, to mint
            GitHub-looking tokens with ``issue_token(..., issuer=...)``).
        rekor_v2_batch_interval: Seconds between Rekor v2 integrations.
        faults: Initial fault knobs per service (``"oidc"``, ``"fulcio"``,
            ``"rekor"``, ``"rekor_v2"``, ``"tsa"``, ``"tuf"``).
        adversary: Initial adversarial modes.
        seed: Seed of the generator behind ``error_rate`` and ``drop_rate``.

    Raises:
        ValueError: an unknown service in ``faults`` or a bad knob.
    """

    #: The in-process transport (``httpx.ASGITransport``) over :attr:`app`.
    transport: httpx.ASGITransport
    #: The ASGI application of every service.
    app: ASGIApp
    #: The trusted root of this instance (both logs, Fulcio, CT log, TSA).
    trusted_root: TrustedRoot
    #: Signing config v0.2 with Rekor v1 and the TSA.
    signing_config: SigningConfig
    #: Signing config v0.2 with Rekor v2 and the TSA.
    signing_config_rekor_v2: SigningConfig
    #: The services, for tests that look inside (``stack.rekor.log.size``,
    #: ``stack.oidc.approve_device(...)``, ``stack.fulcio.issued``).
    oidc: OidcIssuer
    fulcio: Fulcio
    rekor: RekorV1
    rekor_v2: RekorV2
    tsa: TimestampAuthority
    tuf: LocalTufRepository
    #: Every key and CA certificate of the instance.
    keys: InstanceKeys

    def __init__(
        self,
        *,
        serve: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = utc_now,
        state_dir: str | os.PathLike[str] | None = None,
        default_identity: str = "signer@example.com",
        oidc_algorithm: Literal["ES256", "RS256"] = "ES256",
        trusted_issuers: Sequence[str] = (),
        rekor_v2_batch_interval: float = 0.05,
        faults: Mapping[str, ServiceFaults] | None = None,
        adversary: Iterable[Adversary] = (),
        seed: int | None = None,
    ) -> None:
        if rekor_v2_batch_interval < 0:
            raise ValueError("rekor_v2_batch_interval must not be negative")
        self._serve = serve
        self._host = host
        self._port = port
        self._clock = clock
        self._state_dir = Path(state_dir) if state_dir is not None else None
        self._default_identity = default_identity
        self._oidc_algorithm = oidc_algorithm
        self._trusted_issuers = tuple(trusted_issuers)
        self._batch_interval = rekor_v2_batch_interval
        #: Fault knobs, adversarial modes and request counters; change them at any time.
        self.faults = Faults(services=dict(faults or {}), adversary=set(adversary), seed=seed)
        self._base_url = IN_PROCESS_URL
        self._exit_stack: AsyncExitStack | None = None
        self._routers: dict[str, Router] = {}
        self._started = False

    # --- lifetime ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._started:
            raise RuntimeError("a LocalSigstore can be entered only once")
        self._started = True
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._exit_stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop serving and background work; close the state store."""
        stack, self._exit_stack = self._exit_stack, None
        if stack is not None:
            await stack.aclose()

    async def _start(self, stack: AsyncExitStack) -> None:
        store = await anyio.to_thread.run_sync(StateStore, self._state_dir)
        stack.callback(store.close)
        records = await anyio.to_thread.run_sync(store.load_keys)
        if records:
            try:
                keys = InstanceKeys.from_records(records)
            except (KeyError, ValueError) as e:
                raise RuntimeError(f"the state in {self._state_dir} is unusable: {e}") from e
        else:
            now = self._clock()
            keys = await anyio.to_thread.run_sync(
                lambda: new_instance_keys(now=now, oidc_algorithm=self._oidc_algorithm)
            )
            await anyio.to_thread.run_sync(store.save_keys, keys.records())
        self.keys = keys
        tree_id_text = await anyio.to_thread.run_sync(store.get_meta, "tree_id")
        tree_id = int(tree_id_text) if tree_id_text else secrets.randbelow(2**62) + 1
        await anyio.to_thread.run_sync(store.set_meta, "tree_id", str(tree_id))

        url = self._url
        self.oidc = OidcIssuer(
            keys.oidc_key,
            url=lambda: url("/oidc"),
            clock=self._clock,
            default_identity=self._default_identity,
            trusted_issuers=self._trusted_issuers,
        )
        self.fulcio = Fulcio(keys, self.oidc, clock=self._clock, faults=self.faults)
        self.rekor = RekorV1(
            keys,
            url=lambda: url("/rekor"),
            clock=self._clock,
            faults=self.faults,
            store=store,
            tree_id=tree_id,
        )
        self.rekor_v2 = RekorV2(
            keys,
            url=lambda: url("/rekor-v2"),
            faults=self.faults,
            store=store,
            batch_interval=self._batch_interval,
        )
        self.tsa = TimestampAuthority(keys, clock=self._clock, faults=self.faults)
        self.rekor.load(await anyio.to_thread.run_sync(store.load_entries, "rekor"))
        self.rekor_v2.load(await anyio.to_thread.run_sync(store.load_entries, "rekor_v2"))
        self._routers = {
            "oidc": Router(self.oidc.routes()),
            "fulcio": Router(self.fulcio.routes()),
            "rekor": Router(self.rekor.routes()),
            "rekor_v2": Router(self.rekor_v2.routes()),
            "tsa": Router(self.tsa.routes()),
        }
        self.app = ASGIApp(self.handle, on_drop=_dropped)
        self.transport = httpx.ASGITransport(app=self.app)

        portal: BlockingPortal | None = None
        if self._serve:
            portal = await stack.enter_async_context(BlockingPortal())
            # Runs after the task group below has stopped the server (exit is LIFO).
            stack.push_async_callback(portal.stop, True)
        tg = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(tg.cancel_scope.cancel)
        tg.start_soon(self.rekor_v2.run)
        if portal is not None:
            server = LoopbackServer(self.handle, host=self._host, port=self._port)
            self._base_url = await tg.start(server.serve, portal)
        await anyio.to_thread.run_sync(store.set_meta, "base_url", self._base_url)
        await anyio.to_thread.run_sync(store.set_meta, "default_identity", self._default_identity)

        self.trusted_root = self._trusted_root()
        self.signing_config = self.make_signing_config()
        self.signing_config_rekor_v2 = self.make_signing_config(rekor_v2=True)
        targets = {
            "trusted_root.json": self.trusted_root.to_json(indent=2).encode(),
            "signing_config.v0.2.json": self.signing_config.to_json(indent=2).encode(),
        }
        tuf_state = await anyio.to_thread.run_sync(store.load_tuf)
        if tuf_state:
            try:
                self.tuf = await anyio.to_thread.run_sync(
                    lambda: LocalTufRepository.from_state(tuf_state, targets, clock=self._clock)
                )
            except ValueError as e:
                raise RuntimeError(f"the state in {self._state_dir} is unusable: {e}") from e
        else:
            self.tuf = await anyio.to_thread.run_sync(
                lambda: LocalTufRepository(targets, clock=self._clock)
            )
        if store.persistent:
            await anyio.to_thread.run_sync(lambda: store.save_tuf(self.tuf.export_state()))
            # Runs first on exit (LIFO), so what was published meanwhile is kept too.
            stack.callback(lambda: store.save_tuf(self.tuf.export_state()))

    # --- URLs ----------------------------------------------------------------------------------

    def _url(self, path: str = "") -> str:
        return self._base_url + path

    @property
    def base_url(self) -> str:
        """``http://sigstore.local`` in process, or the served ``http://127.0.0.1:PORT``."""
        return self._base_url

    @property
    def oidc_url(self) -> str:
        """The OIDC issuer, as tokens name it in ``iss``."""
        return self._url("/oidc")

    @property
    def fulcio_url(self) -> str:
        return self._url()

    @property
    def rekor_url(self) -> str:
        return self._url("/rekor")

    @property
    def rekor_v2_url(self) -> str:
        return self._url("/rekor-v2")

    @property
    def tsa_url(self) -> str:
        return self._url("/tsa/api/v1/timestamp")

    @property
    def tuf_url(self) -> str:
        return self._url("/tuf")

    # --- knobs ---------------------------------------------------------------------------------

    @property
    def adversary(self) -> set[Adversary]:
        """The adversarial modes in force; add and remove freely."""
        return self.faults.adversary

    @property
    def requests(self) -> Counter[str]:
        """Requests seen, by ``"<METHOD> <mount><route>"``, for example
        ``"POST /rekor/api/v1/log/entries"`` or ``"GET /tuf/{path}"``."""
        return self.faults.requests

    def request_count(self, service: str) -> int:
        """All requests that reached ``service`` (``"fulcio"``, ``"rekor"`` ...),
        whether or not a route matched."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; known: {SERVICES}")
        return self.faults.service_requests[service]

    # --- tokens --------------------------------------------------------------------------------

    def issue_token(
        self,
        identity: str | None = None,
        *,
        audience: str = "sigstore",
        lifetime: timedelta = timedelta(minutes=10),
        issuer: str | None = None,
        **claims: Any,
    ) -> str:
        """A signed identity token from this instance's issuer.

        ``identity`` is an email address (claims ``email``, ``email_verified``)
        or a URI; ``https://github.com/OWNER/REPO/.github/workflows/F.yml@REF``
        gets the claims of a GitHub Actions token (``sub``, ``repository``,
        ``job_workflow_ref``, ``sha``, ``event_name``, ``ref``,
        ``runner_environment``, ``repository_owner`` ...). Any claim can be
        overridden or added through ``claims`` (``exp=0`` for an expired token).

        Raises:
            ValueError: ``identity`` is neither an email address nor a URI.
        """
        return self.oidc.issue(
            identity, audience=audience, lifetime=lifetime, issuer=issuer, **claims
        )

    # --- trust material ------------------------------------------------------------------------

    def _trusted_root(self) -> TrustedRoot:
        keys = self.keys
        valid = TimeRange(start=keys.valid_from)

        def chain(ca: _Chain) -> X509CertificateChain:
            return X509CertificateChain(
                tuple(X509Certificate(c.public_bytes(serialization.Encoding.DER)) for c in ca.chain)
            )

        rekor_public = keys.rekor_key.public_key()
        ct_public = keys.ct_key.public_key()
        return TrustedRoot(
            media_type=TRUSTED_ROOT_MEDIA_TYPE,
            tlogs=(
                TransparencyLogInstance(
                    base_url=self.rekor_url,
                    hash_algorithm="SHA2_256",
                    public_key=PublicKey(
                        raw_bytes=der_public_key(rekor_public),
                        key_details="PKIX_ECDSA_P256_SHA_256",
                        valid_for=valid,
                    ),
                    log_id=LogId(key_id(rekor_public)),
                    operator=OPERATOR,
                ),
                TransparencyLogInstance(
                    base_url=self.rekor_v2_url,
                    hash_algorithm="SHA2_256",
                    public_key=PublicKey(
                        raw_bytes=der_public_key(keys.rekor_v2_key.public_key()),
                        key_details="PKIX_ED25519",
                        valid_for=valid,
                    ),
                    log_id=LogId(self.rekor_v2.log_id),
                    operator=OPERATOR,
                ),
            ),
            certificate_authorities=(
                CertificateAuthority(
                    subject=DistinguishedName(OPERATOR, "LocalSigstore Fulcio"),
                    uri=self.fulcio_url,
                    cert_chain=chain(keys.fulcio),
                    valid_for=valid,
                    operator=OPERATOR,
                ),
            ),
            ctlogs=(
                TransparencyLogInstance(
                    base_url=self._url("/ct"),
                    hash_algorithm="SHA2_256",
                    public_key=PublicKey(
                        raw_bytes=der_public_key(ct_public),
                        key_details="PKIX_ECDSA_P256_SHA_256",
                        valid_for=valid,
                    ),
                    log_id=LogId(key_id(ct_public)),
                    operator=OPERATOR,
                ),
            ),
            timestamp_authorities=(
                CertificateAuthority(
                    subject=DistinguishedName(OPERATOR, "LocalSigstore TSA"),
                    uri=self.tsa_url,
                    cert_chain=chain(keys.tsa),
                    valid_for=valid,
                    operator=OPERATOR,
                ),
            ),
        )

    def make_signing_config(self, *, rekor_v2: bool = False, tsa: bool = True) -> SigningConfig:
        """A signing config (v0.2) for this instance: Fulcio, the OIDC issuer,
        Rekor v1 (or v2) and, unless ``tsa=False``, the TSA. Rekor v2 gives no
        integrated time, so a client signing with it needs the TSA."""
        valid = TimeRange(start=self.keys.valid_from)

        def service(url: str, version: int) -> Service:
            return Service(url=url, major_api_version=version, valid_for=valid, operator=OPERATOR)

        log = service(self.rekor_v2_url, 2) if rekor_v2 else service(self.rekor_url, 1)
        return SigningConfig(
            media_type=SIGNING_CONFIG_MEDIA_TYPE,
            ca_urls=(service(self.fulcio_url, 1),),
            oidc_urls=(service(self.oidc_url, 1),),
            rekor_tlog_urls=(log,),
            rekor_tlog_config=ServiceConfiguration(selector="ANY"),
            tsa_urls=(service(self.tsa_url, 1),) if tsa else (),
            tsa_config=ServiceConfiguration(selector="ANY") if tsa else None,
        )

    def client_trust_config(self, rekor_v2: bool = False) -> ClientTrustConfig:
        """The trusted root and a signing config (Rekor v1, or v2) in one document."""
        return ClientTrustConfig(
            media_type=CLIENT_TRUST_CONFIG_MEDIA_TYPE,
            trusted_root=self.trusted_root,
            signing_config=self.signing_config_rekor_v2 if rekor_v2 else self.signing_config,
        )

    #: The files :meth:`write_trust_files` writes.
    TRUST_FILES = (
        "trusted_root.json",
        "signing_config.json",
        "signing_config_rekor_v2.json",
        "trust_config.json",
        "trust_config_rekor_v2.json",
        "root.json",
    )

    async def write_trust_files(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write this instance's trust material into ``directory``: the trusted
        root, both signing configs, both client trust configs and the TUF
        bootstrap ``root.json``. Returns the paths by file name.

        Raises:
            OSError: a file cannot be written.
        """
        contents = {
            "trusted_root.json": self.trusted_root.to_json(indent=2),
            "signing_config.json": self.signing_config.to_json(indent=2),
            "signing_config_rekor_v2.json": self.signing_config_rekor_v2.to_json(indent=2),
            "trust_config.json": self.client_trust_config().to_json(indent=2),
            "trust_config_rekor_v2.json": self.client_trust_config(rekor_v2=True).to_json(indent=2),
        }
        out = anyio.Path(directory)
        await out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, text in contents.items():
            await (out / name).write_text(text + "\n")
            paths[name] = Path(out / name)
        await (out / "root.json").write_bytes(self.tuf.root_json())
        paths["root.json"] = Path(out / "root.json")
        return paths

    @staticmethod
    async def issue_token_from_state(
        state_dir: str | os.PathLike[str], identity: str | None = None, **claims: Any
    ) -> str:
        """A token from the issuer of the instance kept in ``state_dir``, without
        starting it (for ``sigstore-async local token``). The issuer URL is the
        one the instance last served at.

        Raises:
            RuntimeError: ``state_dir`` holds no LocalSigstore state.
            ValueError: ``identity`` is neither an email address nor a URI.
        """
        directory = Path(state_dir)
        if not await anyio.Path(directory / StateStore.FILENAME).is_file():
            raise RuntimeError(f"no LocalSigstore state in {directory}")

        def load() -> tuple[dict[str, bytes], str | None, str | None]:
            store = StateStore(directory)
            try:
                return (
                    store.load_keys(),
                    store.get_meta("base_url"),
                    store.get_meta("default_identity"),
                )
            finally:
                store.close()

        records, base_url, default_identity = await anyio.to_thread.run_sync(load)
        if not records or base_url is None:
            raise RuntimeError(f"no LocalSigstore state in {directory}")
        try:
            keys = InstanceKeys.from_records(records)
        except (KeyError, ValueError) as e:
            raise RuntimeError(f"the state in {directory} is unusable: {e}") from e
        issuer = OidcIssuer(
            keys.oidc_key,
            url=lambda: base_url + "/oidc",
            clock=utc_now,
            default_identity=default_identity or "signer@example.com",
        )
        return issuer.issue(identity, **claims)

    # --- HTTP ----------------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on the in-process transport, based at :attr:`base_url`.
        Close it (``async with``)."""
        return httpx.AsyncClient(transport=self.transport, base_url=self.base_url, **kwargs)

    async def handle(self, request: Request) -> Response:
        """Answer one request (every transport ends here)."""
        try:
            return await self._dispatch(request)
        except HTTPError as e:
            return Response.from_error(e)
        except Exception:
            # A bug in LocalSigstore, not bad input (that is a 400 further in).
            _logger.exception("LocalSigstore failed on %s %s", request.method, request.path)
            return Response.json({"code": 500, "message": "internal error"}, 500)

    async def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path in ("", "/"):
            self.requests[f"{request.method} /"] += 1
            return Response.json(self._index())
        mount = next((m for m in MOUNTS if path == m or path.startswith(m + "/")), "")
        service = MOUNTS.get(mount, ROOT_SERVICE)
        self.faults.service_requests[service] += 1
        inner = path[len(mount) :] or "/"
        relative = Request(
            method=request.method,
            path=inner,
            query=request.query,
            headers=request.headers,
            body=request.body,
        )
        if service == "tuf":
            self.requests[f"{request.method} /tuf/{{path}}"] += 1
            return await self._faulty(service, lambda: self._tuf(relative))
        router = self._routers[service]
        try:
            route, params = router.match(request.method, inner)
        except HTTPError:
            self.requests[f"{request.method} {path}"] += 1
            raise
        self.requests[f"{request.method} {mount}{route.pattern}"] += 1
        return await self._faulty(service, lambda: router.call(route, relative, params))

    async def _faulty(self, service: str, answer: Any) -> Response:
        decision = self.faults.decide(service)
        if decision.latency:
            await anyio.sleep(decision.latency)
        if decision.drop:
            return Response(200, (("content-type", "application/json"),), b"{}", drop=True)
        if decision.error_status is not None:
            headers = {}
            if decision.retry_after is not None:
                headers["retry-after"] = _retry_after(decision.retry_after)
            return Response.json(
                {"code": decision.error_status, "message": f"injected fault in {service}"},
                decision.error_status,
                headers,
            )
        response: Response = await answer()
        return response

    async def _tuf(self, request: Request) -> Response:
        status, headers, body = self.tuf.handle(request.method, request.path)
        return Response(
            status, tuple((k, v) for k, v in headers.items() if k != "content-length"), body
        )

    def _index(self) -> dict[str, str]:
        return {
            "oidc": self.oidc_url,
            "fulcio": self.fulcio_url,
            "rekor": self.rekor_url,
            "rekor_v2": self.rekor_v2_url,
            "tsa": self.tsa_url,
            "tuf": self.tuf_url,
        }
