"""``sigstore-async sign``, ``attest`` and ``demo``: sign many files at once.

``sign FILE...`` writes ``FILE.sigstore.json`` next to each input (or into
``--output-dir``); ``attest --predicate-type T --predicate F FILE...`` does the
same with an in-toto statement about each file. Both take the identity token
as ``identity`` does (a token file, ambient credentials, a sign-in flow), sign
with one certificate, draw a progress bar on a terminal, and exit 0 only when
every input was signed. A bundle is written atomically, and only once it has
been checked; a failed input leaves no file behind.

``demo`` starts a LocalSigstore in this process, signs a few hundred generated
artifacts concurrently, verifies them all and says how fast it went. It needs
no network and no account.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx

from .._core import JSON_ERRORS
from .._time import utc_now
from ..client import Sigstore
from ..errors import SigstoreError, TrustError
from ..models.bundle import Bundle
from ..oidc import IdentityToken
from ..sign.assembly import IN_TOTO_PAYLOAD_TYPE
from ..sign.signer import (
    Attestation,
    KeyType,
    Payload,
    Signer,
    SignInput,
    SignOutcome,
    SignProgress,
)
from ._common import UsageError, describe, eprint, error_dict
from .identity import SIGN_IN_TIMEOUT, add_token_options, token_from_args

__all__ = ["add_parser", "add_sign_bundle_parser", "open_sigstore", "write_bundle"]

BUNDLE_SUFFIX = ".sigstore.json"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    out = p.add_argument_group("output")
    out.add_argument("--bundle", metavar="PATH", help="where to write the bundle (one FILE only)")
    out.add_argument(
        "--output-dir", metavar="DIR", help="write FILE.sigstore.json into DIR, not next to FILE"
    )
    out.add_argument("--overwrite", action="store_true", help="replace existing bundles")
    out.add_argument("--json", action="store_true", help="print one JSON document")
    out.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    inst = p.add_argument_group("Sigstore instance")
    inst.add_argument("--staging", action="store_true", help="use the public-good staging instance")
    inst.add_argument("--trust-config", metavar="FILE", help="a ClientTrustConfig document")
    inst.add_argument("--trusted-root", metavar="FILE", help="trusted_root.json to check against")
    inst.add_argument("--signing-config", metavar="FILE", help="signing_config.json to sign with")
    inst.add_argument("--offline", action="store_true", help="never refresh trust over TUF")
    how = p.add_argument_group("signing")
    how.add_argument(
        "--rekor-version",
        type=int,
        choices=(1, 2),
        help="only use Rekor v1 (or v2) logs of the signing config",
    )
    how.add_argument(
        "--key-type",
        choices=("ecdsa-p256", "ecdsa-p384", "ed25519"),
        default="ecdsa-p256",
        help="ephemeral key type (ecdsa-p256)",
    )
    how.add_argument(
        "--concurrency", type=int, default=64, help="signatures in flight at once (64)"
    )
    add_token_options(p)


def add_parser(sub: Any) -> None:
    s: argparse.ArgumentParser = sub.add_parser(
        "sign",
        help="sign files with an identity (one certificate for all of them)",
        description="Sign each FILE and write FILE.sigstore.json. Exit status 0 only when "
        "every file was signed.",
    )
    _add_common(s)
    s.set_defaults(func=run_sign)

    a: argparse.ArgumentParser = sub.add_parser(
        "attest",
        help="sign in-toto attestations about files",
        description="For each FILE, sign an in-toto statement with FILE as its subject and "
        "the given predicate, and write FILE.sigstore.json.",
    )
    a.add_argument("--predicate-type", required=True, metavar="URI")
    a.add_argument("--predicate", required=True, metavar="FILE", help="the predicate, as JSON")
    _add_common(a)
    a.set_defaults(func=run_attest)

    d: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="sign and verify generated artifacts against a LocalSigstore, offline",
        description="Start a LocalSigstore in this process, take a token from its issuer, sign "
        "COUNT generated artifacts concurrently, verify them all, and say how fast it went.",
    )
    d.add_argument("--count", type=int, default=300, help="how many artifacts (300)")
    d.add_argument("--size", type=int, default=4096, help="bytes per artifact (4096)")
    d.add_argument("--concurrency", type=int, default=256, help="signatures in flight (256)")
    d.add_argument("--rekor-v2", action="store_true", help="log to Rekor v2 (with the TSA)")
    d.add_argument("--no-tsa", action="store_true", help="no timestamps (Rekor v1 only)")
    d.add_argument("--keep", metavar="DIR", help="write artifacts, bundles and trust files to DIR")
    d.set_defaults(func=run_demo)


# --- shared pieces -------------------------------------------------------------------------------


def open_sigstore(args: argparse.Namespace, *, http: httpx.AsyncClient | None = None) -> Sigstore:
    """The :class:`Sigstore` instance the trust options select (not yet opened)."""
    options: dict[str, Any] = {"offline": bool(getattr(args, "offline", False))}
    if http is not None:
        options["http"] = http
    if args.trusted_root:
        options["trusted_root"] = args.trusted_root
    if args.signing_config:
        options["signing_config"] = args.signing_config
    if getattr(args, "trust_config", None):
        if args.trusted_root or args.signing_config:
            raise UsageError("--trust-config excludes --trusted-root and --signing-config")
        return Sigstore.from_trust_config(args.trust_config, **options)
    if args.staging:
        return Sigstore.staging(**options)
    return Sigstore.production(**options)


async def write_bundle(bundle: Bundle, path: Path, *, overwrite: bool) -> None:
    """Write ``bundle`` to ``path`` atomically: a temporary file in the same
    directory, then a rename, so that a reader (or a cancellation) never sees
    half a bundle.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        OSError: the file cannot be written.
    """
    text = bundle.to_json() + "\n"

    def write() -> None:
        if not overwrite and path.exists():
            raise FileExistsError(f"{path} exists (use --overwrite)")
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    await anyio.to_thread.run_sync(write)


def _outputs(args: argparse.Namespace) -> list[Path]:
    files = [Path(f) for f in args.files]
    if args.bundle:
        if len(files) != 1:
            raise UsageError("--bundle names one output: give one FILE, or use --output-dir")
        if args.output_dir:
            raise UsageError("--bundle and --output-dir exclude each other")
        return [Path(args.bundle)]
    if args.output_dir:
        names = [f.name for f in files]
        if len(set(names)) != len(names):
            raise UsageError("two inputs have the same file name: their bundles would collide")
        return [Path(args.output_dir) / (n + BUNDLE_SUFFIX) for n in names]
    nameless = [str(f) for f in files if not f.name]
    if nameless:  # "", "/", ".": no sibling to name after them
        raise UsageError(f"{nameless[0]!r} names no file: give a file, or use --bundle")
    return [f.with_name(f.name + BUNDLE_SUFFIX) for f in files]


def check_outputs(paths: list[Path]) -> None:
    """Refuse, before anything is signed, bundle paths that cannot be written
    (signing logs an entry for good: finding out afterwards wastes it).

    Raises:
        UsageError: a path is a directory, or its directory does not exist or
            cannot be written.
    """
    for path in paths:
        parent = path.parent
        if path.is_dir():
            raise UsageError(f"bundle path {str(path)!r} is a directory")
        if not parent.is_dir():
            raise UsageError(f"no directory {str(parent)!r} for the bundle {str(path)!r}")
        if not os.access(parent, os.W_OK):
            raise UsageError(f"directory {str(parent)!r} cannot be written")


class ProgressBar:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, *, enabled: bool = True) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled and stream.isatty() and total > 1
        self._last = 0.0
        self._start = time.monotonic()

    def update(self, progress: SignProgress, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = width * progress.finished // max(self.total, 1)
        rate = progress.finished / max(now - self._start, 1e-9)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {progress.finished}/{self.total} "
            f"signed {progress.signed}, failed {progress.failed}, {rate:.0f}/s "
        )
        self.stream.flush()

    def close(self, progress: SignProgress) -> None:
        if self.enabled:
            self.update(progress, force=True)
            self.stream.write("\n")
            self.stream.flush()


def _render(outcome: SignOutcome, files: Sequence[str], outputs: Sequence[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {"file": files[outcome.index], "bundle": str(outputs[outcome.index])}
    if outcome.error is None:
        out["signed"] = True
    else:
        out["signed"] = False
        out["error"] = error_dict(outcome.error)
    return out


def _run_signing(args: argparse.Namespace, items: list[SignInput], command: str) -> int:
    try:
        outputs = _outputs(args)
        if args.concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        if command == "sign" and args.key_type == "ed25519":
            # Every file would fail: a message signature is over a digest.
            raise UsageError("Ed25519 keys cannot sign a digest: use attest, or an ECDSA key type")
        if not args.overwrite:
            existing = [str(p) for p in outputs if p.exists()]
            if existing:
                raise UsageError(f"bundle exists: {existing[0]} (use --overwrite)")
        check_outputs(outputs)
        sigstore = open_sigstore(args)
    except UsageError as e:
        eprint(f"sigstore-async {command}: {e}")
        return 2

    results: list[dict[str, Any]] = []
    bar = ProgressBar(len(items), enabled=not args.no_progress and not args.json)

    async def go() -> None:
        async with sigstore:
            config = await sigstore.trust()
            if config.signing_config is None:
                raise TrustError("this Sigstore instance publishes no signing config")
            token, _source = await token_from_args(sigstore.http, args, staging=args.staging)
            key_type: KeyType = args.key_type
            async with contextlib.AsyncExitStack() as stack:
                try:
                    signer = await stack.enter_async_context(
                        Signer(
                            token,
                            signing_config=config.signing_config,
                            trust=config.material,
                            http=sigstore.http,
                            key_type=key_type,
                            rekor_versions=(args.rekor_version,) if args.rekor_version else (1, 2),
                            clock=sigstore.clock,
                        )
                    )
                except ValueError as e:  # options the log cannot take (Ed25519 with Rekor v2)
                    raise UsageError(str(e)) from e
                out = await stack.enter_async_context(
                    signer.sign_many(items, concurrency=args.concurrency, on_progress=bar.update)
                )
                async for outcome in out:
                    if outcome.bundle is not None:
                        try:
                            await write_bundle(
                                outcome.bundle, outputs[outcome.index], overwrite=args.overwrite
                            )
                        except OSError as e:
                            outcome = SignOutcome(outcome.index, outcome.item, error=e)
                    rendered = _render(outcome, args.files, outputs)
                    results.append(rendered | {"_index": outcome.index})
                    if not args.json and (outcome.error is not None or not bar.enabled):
                        if outcome.error is None:
                            line = f"OK    {rendered['file']} -> {rendered['bundle']}"
                        else:
                            line = f"FAIL  {rendered['file']}: {describe(outcome.error)}"
                        if bar.enabled:
                            bar.stream.write("\r\x1b[K")
                        print(line, flush=True)
                bar.close(out.progress)

    try:
        anyio.run(go)
    except UsageError as e:
        eprint(f"sigstore-async {command}: {e}")
        return 2
    except TimeoutError:
        eprint(f"sigstore-async {command}: signing in took too long ({SIGN_IN_TIMEOUT:.0f} s)")
        return 1
    except (SigstoreError, OSError) as e:
        eprint(f"sigstore-async {command}: {describe(e)}")
        return 1
    results.sort(key=lambda r: r.pop("_index"))
    failed = sum(1 for r in results if not r["signed"])
    if args.json:
        print(json.dumps({"signed": len(results) - failed, "failed": failed, "results": results}))
    else:
        print(f"{len(results) - failed} signed, {failed} failed")
    return 0 if failed == 0 else 1


def run_sign(args: argparse.Namespace) -> int:
    return _run_signing(args, [Path(f) for f in args.files], "sign")


def run_attest(args: argparse.Namespace) -> int:
    try:
        predicate = json.loads(Path(args.predicate).read_bytes())
    except (OSError, *JSON_ERRORS) as e:
        eprint(f"sigstore-async attest: cannot read the predicate {args.predicate}: {e}")
        return 2
    if not isinstance(predicate, dict):
        eprint("sigstore-async attest: the predicate must be a JSON object")
        return 2
    items: list[SignInput] = [
        Attestation(Path(f), args.predicate_type, predicate) for f in args.files
    ]
    return _run_signing(args, items, "attest")


# --- demo ---------------------------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> int:
    if args.count < 1 or args.concurrency < 1 or args.size < 0:
        eprint("sigstore-async demo: --count and --concurrency must be positive")
        return 2
    if args.rekor_v2 and args.no_tsa:
        eprint("sigstore-async demo: Rekor v2 entries carry no time: it needs the TSA")
        return 2
    try:
        return anyio.run(_demo, args)
    except (SigstoreError, OSError) as e:
        eprint(f"sigstore-async demo: {describe(e)}")
        return 1


async def _demo(args: argparse.Namespace) -> int:
    # The demo is the one command that runs a LocalSigstore; the library proper
    # never imports the testing package.
    from ..testing import LocalSigstore
    from ..trust import TrustMaterial
    from ..verify import Identity, Verifier

    identity = "demo@example.com"
    log = "Rekor v2 (hashedrekord 0.0.2)" if args.rekor_v2 else "Rekor v1 (hashedrekord 0.0.1)"
    async with LocalSigstore(default_identity=identity) as stack:
        print(f"LocalSigstore running in this process at {stack.base_url}")
        print(f"  services: OIDC issuer, Fulcio, {log}" + ("" if args.no_tsa else ", TSA"))
        token = IdentityToken.from_jwt(stack.issue_token(identity), now=utc_now())
        print(f"  identity token for {token.identity} from {token.issuer}")
        artifacts = [secrets.token_bytes(args.size) for _ in range(args.count)]
        trust = TrustMaterial.from_trusted_root(stack.trusted_root)
        config = stack.make_signing_config(rekor_v2=args.rekor_v2, tsa=not args.no_tsa)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        async with Signer(
            token, signing_config=config, trust=trust, transport=stack.transport
        ) as signer:
            first_cert = time.perf_counter() - wall0
            bundles: list[Bundle | None] = [None] * len(artifacts)
            errors: list[BaseException] = []
            bar = ProgressBar(len(artifacts))
            async with signer.sign_many(
                artifacts, concurrency=args.concurrency, on_progress=bar.update
            ) as results:
                async for outcome in results:
                    bundles[outcome.index] = outcome.bundle
                    if outcome.error is not None:
                        errors.append(outcome.error)
                bar.close(results.progress)
        sign_wall, sign_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        signed = [(b, a) for b, a in zip(bundles, artifacts, strict=True) if b is not None]
        print(
            f"signed {len(signed)} of {len(artifacts)} artifacts ({args.size} bytes each) in "
            f"{sign_wall:.2f} s: {len(signed) / sign_wall:.0f}/s, one certificate "
            f"({first_cert * 1000:.0f} ms to get it), {len(errors)} failed"
        )
        for e in errors[:5]:
            print(f"  error: {describe(e)}")
        entries = [b.material.tlog_entries[0] for b, _ in signed]
        if entries:
            low, high = min(e.log_index for e in entries), max(e.log_index for e in entries)
            stamps = sum(len(b.material.timestamps) for b, _ in signed)
            print(f"  log entries {low}..{high}, {stamps} RFC 3161 timestamps")
        cpu1, wall1 = time.process_time(), time.perf_counter()
        verifier = Verifier(trust)
        policy = Identity(identity, stack.oidc_url)
        ok = 0
        async with verifier.verify_many(signed, policy, concurrency=args.concurrency) as checked:
            async for v in checked:
                if v.ok:
                    ok += 1
                else:
                    print(f"  verification failed: {describe(v.error or Exception())}")
        verify_wall, verify_cpu = time.perf_counter() - wall1, time.process_time() - cpu1
        print(
            f"verified {ok} of {len(signed)} bundles in {verify_wall:.2f} s: "
            f"{ok / max(verify_wall, 1e-9):.0f}/s"
        )
        print(
            f"CPU time in this process (client and in-process services): "
            f"{sign_cpu / len(artifacts) * 1000:.2f} ms per signature, "
            f"{verify_cpu / max(len(signed), 1) * 1000:.2f} ms per verification"
        )
        if args.keep:
            await _keep(Path(args.keep), stack, signed)
            print(f"artifacts, bundles and trust files written to {args.keep}")
    return 0 if ok == len(artifacts) else 1


async def _keep(directory: Path, stack: Any, signed: list[tuple[Bundle, bytes]]) -> None:
    await stack.write_trust_files(directory)

    def write() -> None:
        for i, (bundle, data) in enumerate(signed):
            (directory / f"artifact-{i:05d}.bin").write_bytes(data)
            (directory / f"artifact-{i:05d}.bin{BUNDLE_SUFFIX}").write_text(bundle.to_json())

    await anyio.to_thread.run_sync(write)


# --- conformance ----------------------------------------------------------------------------------


def add_sign_bundle_parser(csub: Any) -> None:
    """``conformance sign-bundle``: the sigstore-conformance signing protocol."""
    s: argparse.ArgumentParser = csub.add_parser("sign-bundle", help="sign one file")
    s.add_argument("--staging", action="store_true")
    s.add_argument("--in-toto", action="store_true", help="FILE is an in-toto statement")
    s.add_argument("--identity-token", required=True)
    s.add_argument("--bundle", required=True)
    s.add_argument("--trusted-root")
    s.add_argument("--signing-config")
    s.add_argument("--offline", action="store_true", dest="offline_inner")
    s.add_argument("file", metavar="FILE")
    s.set_defaults(func=run_sign_bundle)


def run_sign_bundle(args: argparse.Namespace) -> int:
    """Sign FILE (or, with ``--in-toto``, the statement in FILE as a DSSE
    envelope) and write the bundle to ``--bundle``. Exit 0 when signed."""
    args.offline = bool(getattr(args, "offline", False) or args.offline_inner)
    args.trust_config = None
    try:
        check_outputs([Path(args.bundle)])
    except UsageError as e:
        eprint(f"signing failed: {e}")
        return 2
    sigstore = open_sigstore(args)

    async def go() -> None:
        async with sigstore:
            config = await sigstore.trust()
            if config.signing_config is None:
                raise TrustError("no signing config: give --signing-config")
            item: SignInput
            if args.in_toto:
                statement = await anyio.Path(args.file).read_bytes()
                item = Payload(statement, IN_TOTO_PAYLOAD_TYPE)
            else:
                item = Path(args.file)
            async with Signer(
                args.identity_token,
                signing_config=config.signing_config,
                trust=config.material,
                http=sigstore.http,
                clock=sigstore.clock,
            ) as signer:
                bundle = await signer.sign(item)
            await write_bundle(bundle, Path(args.bundle), overwrite=True)

    try:
        anyio.run(go)
    except (SigstoreError, OSError, ValueError) as e:
        eprint(f"signing failed: {describe(e)}")
        return 1
    return 0
