"""Verification throughput: sigstore-async next to sigstore-python, on the same bundles.

    python benchmarks/verify.py [--quick] [--json]

Prints one table (and, with ``--json``, the same figures as JSON) and exits 0.
``--quick`` is a CI smoke run (under a minute): fewer rounds and smaller
batches, so its figures are rougher.

What is measured, and how:

- Single bundles: parse included (``Bundle.from_json`` for both), one core,
  each verification with a fresh cache (``cache=None``: nothing memoised
  across bundles). What follows from the trust root alone (its parsed keys,
  the TSA chain check, the CA part of the Fulcio chain) is prepared once per
  trust root, as each library's verifier object does. Cases: the conformance
  vectors ``happy-path-v0.3`` (Rekor v1, production trust root) and
  ``rekor2-happy-path`` (Rekor v2 + TSA, its own trust root).
- A release batch: N distinct artifacts signed in one go (one leaf
  certificate, one checkpoint; a SET per entry for Rekor v1, an RFC 3161 token
  per signature for Rekor v2), made by ``_common.make_release`` under a trust
  root of its own; ours verifies the batch with one shared ``VerifyCache``,
  sigstore-python in a loop. Also, as an upper bound only, the same vector
  bundle verified N times with a shared cache (every pure check repeats).
- Ceilings: what the signature checks that a verification cannot skip cost
  on this machine (for a single bundle, all of them; for a release batch, the
  ones that differ from bundle to bundle: the artifact signature, and the SET
  or the RFC 3161 token). No verifier can verify more bundles per second than
  their sum allows (see ``floor_checks``).
- The RFC 3161 step alone, ours and sigstore-python's.
- ``Verifier.verify_many`` over a release batch, with 1 and 2 workers, in
  threads and in processes (wall clock; the machine's other load shows here;
  1 and 2 workers run back to back in each round, and the gain is the median
  of the per-round ratios). Beside it, in each round, the machine's own gain:
  signature checks alone, which hold no GIL, on 2 threads over 1. On a host
  whose second core is shared it varies (1.1x to 1.9x has been seen here), and
  no 2-worker figure can exceed it.
- Peak RSS while ``verify_many`` reads 1,000 then 10,000 (path, digest) pairs
  from a generator, in a fresh process.

Timing: contenders alternate in short rounds. Rates are each one's best round.
Ratios are the median, over rounds, of sigstore-python's time over ours within
one round (``_common.Race.paired_ratio``): this host switches between two
speeds every few seconds, and only the two halves of one round are sure to
share one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

# Run from a checkout: the package beside this folder. This folder itself leaves
# sys.path, where Python put it: no sibling script may shadow an installed package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import anyio  # noqa: E402

from benchmarks._common import (  # noqa: E402
    Release,
    SigstorePython,
    VectorCase,
    bundle_verify_dir,
    make_release,
    our_verification,
    race,
    race_batches,
    sigstore_python_unavailable,
    vector_case,
)
from sigstore_async import Bundle, Identity, TrustMaterial, Verifier  # noqa: E402
from sigstore_async._core import COMPILABLE, compiled_modules  # noqa: E402
from sigstore_async.verify import Artifact  # noqa: E402
from sigstore_async.verify.core import (  # noqa: E402
    VerifyCache,
    _tsa_verifier_for,
    verify_bundle,
)

TARGETS = {"single-v1": 1.5, "single-v2": 2.5, "batch": 8.0, "workers": 1.7}


@dataclass(frozen=True)
class Sizes:
    rounds: int
    per_round: int
    batch: int
    batch_rounds: int
    many: int
    many_runs: int
    memory: tuple[int, int]


FULL = Sizes(
    rounds=100, per_round=4, batch=400, batch_rounds=6, many=1000, many_runs=5, memory=(1000, 10000)
)
QUICK = Sizes(
    rounds=12, per_round=2, batch=60, batch_rounds=2, many=240, many_runs=1, memory=(200, 1000)
)


def _rate(seconds: float) -> float:
    return 1.0 / seconds if seconds > 0 else float("inf")


def _now() -> datetime:
    return datetime.now(UTC)


# --- single bundles and batches ------------------------------------------------------------


def bench_single(
    case: VectorCase, sizes: Sizes, theirs: bool, floor: Callable[[], None]
) -> dict[str, Any]:
    verify = our_verification(case)

    def ours() -> None:
        verify(None)  # fresh: nothing memoised across bundles

    contenders: dict[str, Callable[[], object]] = {"ours": ours, "floor": floor}
    error = None
    if theirs:
        sp = SigstorePython(case.trusted_root, case.identity, case.issuer)
        try:
            sp.verify(case.bundle, case.artifact)
            contenders["theirs"] = lambda: sp.verify(case.bundle, case.artifact)
        except Exception as e:  # a vector sigstore-python rejects is reported, not fatal
            error = f"sigstore-python rejects it: {e!r:.120}"
    timing = race(contenders, rounds=sizes.rounds, per_round=sizes.per_round)
    best = timing.best
    return {
        "case": case.name,
        "ours_per_s": _rate(best["ours"]),
        "theirs_per_s": _rate(best["theirs"]) if "theirs" in best else None,
        "ratio": timing.paired_ratio("theirs", "ours") if "theirs" in best else None,
        "unskippable_signature_checks_us": best["floor"] * 1e6,
        "ceiling_per_s": _rate(best["floor"]),
        "ceiling_ratio": timing.paired_ratio("theirs", "floor") if "theirs" in best else None,
        "note": error,
    }


def bench_release_batch(
    release: Release, sizes: Sizes, theirs: bool, floor: Callable[[], None]
) -> dict[str, Any]:
    trust = TrustMaterial.from_json(release.trusted_root)
    policy = Identity(release.identity, release.issuer)
    now = _now()
    pairs = list(release.pairs())

    def ours() -> int:
        cache = VerifyCache()  # one cache for the batch, new each round: the first bundle is cold
        for bundle, artifact in pairs:
            verify_bundle(
                Bundle.from_json(bundle),
                artifact=Artifact.from_bytes(artifact),
                policy=policy,
                trust=trust,
                now=now,
                cache=cache,
            )
        return len(pairs)

    def ours_fresh() -> int:
        for bundle, artifact in pairs:
            verify_bundle(
                Bundle.from_json(bundle),
                artifact=Artifact.from_bytes(artifact),
                policy=policy,
                trust=trust,
                now=now,
            )
        return len(pairs)

    def floor_loop() -> int:
        for _ in pairs:
            floor()
        return len(pairs)

    contenders: dict[str, Callable[[], int]] = {
        "ours": ours,
        "ours_fresh": ours_fresh,
        "floor": floor_loop,
    }
    if theirs:
        sp = SigstorePython(release.trusted_root, release.identity, release.issuer)

        def theirs_loop() -> int:
            for bundle, artifact in pairs:
                sp.verify(bundle, artifact)
            return len(pairs)

        contenders["theirs"] = theirs_loop
    timing = race_batches(contenders, rounds=sizes.batch_rounds)
    best = timing.best
    return {
        "case": f"release-{release.rekor}",
        "bundles": len(pairs),
        "ours_per_s": _rate(best["ours"]),
        "ours_fresh_per_s": _rate(best["ours_fresh"]),
        "theirs_per_s": _rate(best["theirs"]) if "theirs" in best else None,
        "ratio": timing.paired_ratio("theirs", "ours") if "theirs" in best else None,
        "fresh_ratio": timing.paired_ratio("theirs", "ours_fresh") if "theirs" in best else None,
        "unshareable_signature_checks_us": best["floor"] * 1e6,
        "ceiling_per_s": _rate(best["floor"]),
        "ceiling_ratio": timing.paired_ratio("theirs", "floor") if "theirs" in best else None,
    }


def floor_checks() -> dict[str, Callable[[], None]]:
    """The signature checks that a bundle's verification cannot skip, as calls.

    A single bundle (no cache): Rekor v1 (``happy-path-v0.3``) needs the leaf's
    signature by Fulcio's P-384 intermediate and four P-256 checks (SCT, SET,
    checkpoint, artifact); Rekor v2 + TSA (``rekor2-happy-path``) needs two
    P-384 checks (leaf, timestamp), an Ed25519 checkpoint and two P-256 checks
    (SCT, artifact).

    A release batch (shared cache): each bundle still carries its own artifact
    signature (P-256) and either its own SET (Rekor v1, the log's P-256 key)
    or its own RFC 3161 token (Rekor v2, the TSA's P-384 key, as
    ``make_release`` and the public-good TSA sign). No cache can share these.

    Whatever else a verifier does, it pays these checks. Each call is raced
    with the clients (as the contender "floor"), so that the ceiling it sets
    is measured at the same machine speed as they are.
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    message = os.urandom(400)

    def loaded(private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> Any:
        # As a verifier has it: parsed from its encoding. (A public key taken
        # from a private key object can verify at half the speed: P-384 here.)
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return serialization.load_der_public_key(spki)

    def check(curve: ec.EllipticCurve) -> Callable[[], None]:
        key = ec.generate_private_key(curve)
        public, signature = loaded(key), key.sign(message, ec.ECDSA(hashes.SHA256()))
        return lambda: public.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    edkey = ed25519.Ed25519PrivateKey.generate()
    edpublic, edsignature = loaded(edkey), edkey.sign(message)
    p256, p384 = check(ec.SECP256R1()), check(ec.SECP384R1())

    def single_v1() -> None:
        p384()
        for _ in range(4):
            p256()

    def single_v2() -> None:
        p384()
        p384()
        edpublic.verify(edsignature, message)
        p256()
        p256()

    def batch_v1() -> None:
        p256()
        p256()

    def batch_v2() -> None:
        p256()
        p384()

    return {"single-v1": single_v1, "single-v2": single_v2, "v1": batch_v1, "v2": batch_v2}


def bench_repeated(case: VectorCase, sizes: Sizes, theirs: bool) -> dict[str, Any]:
    """The same bundle N times with one cache: an upper bound, not a real batch."""
    verify = our_verification(case)
    n = sizes.batch

    def ours() -> int:
        cache = VerifyCache()
        for _ in range(n):
            verify(cache)
        return n

    contenders: dict[str, Callable[[], int]] = {"ours": ours}
    if theirs:
        sp = SigstorePython(case.trusted_root, case.identity, case.issuer)

        def theirs_loop() -> int:
            for _ in range(n):
                sp.verify(case.bundle, case.artifact)
            return n

        contenders["theirs"] = theirs_loop
    timing = race_batches(contenders, rounds=sizes.batch_rounds)
    best = timing.best
    return {
        "case": f"repeated-{case.name}",
        "bundles": n,
        "ours_per_s": _rate(best["ours"]),
        "theirs_per_s": _rate(best["theirs"]) if "theirs" in best else None,
        "ratio": timing.paired_ratio("theirs", "ours") if "theirs" in best else None,
    }


def bench_rfc3161(case: VectorCase, sizes: Sizes, theirs: bool) -> dict[str, Any]:
    """The RFC 3161 step alone: one token over the bundle's signature, fresh memo."""
    trust = TrustMaterial.from_json(case.trusted_root)
    bundle = Bundle.from_json(case.bundle)
    token = bundle.material.timestamps[0]
    assert bundle.message_signature is not None
    signature = bundle.message_signature.signature
    verifier = _tsa_verifier_for(trust)

    def fresh(key: tuple[Any, ...], compute: Callable[[], bool]) -> bool:
        return compute()

    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: verifier.verify_with_authority(token, signature, memo=fresh)
    }
    if theirs:
        contenders["theirs"] = SigstorePython(
            case.trusted_root, case.identity, case.issuer
        ).timestamp_step(case.bundle)
    best = race(contenders, rounds=sizes.rounds, per_round=sizes.per_round).best
    return {"ours_us": best["ours"] * 1e6, "theirs_us": best.get("theirs", 0.0) * 1e6 or None}


# --- verify_many ---------------------------------------------------------------------------


async def _drain(
    verifier: Verifier, pairs: Iterator[tuple[bytes, Artifact]], policy: Identity
) -> int:
    ok = 0
    async with verifier.verify_many(pairs, policy, concurrency=64) as outcomes:
        async for outcome in outcomes:
            if not outcome.ok:
                raise RuntimeError(f"item {outcome.index} failed: {outcome.error}")
            ok += 1
    return ok


def bench_many(sizes: Sizes) -> list[dict[str, Any]]:
    """verify_many, 1 and 2 workers, threads and processes.

    Every timed run gets a release of its own (its own trust root), so that no
    cache, the verifier's or a worker process's, has seen its bundles.
    """
    configs = [("thread", 1), ("thread", 2), ("process", 1), ("process", 2)]

    def pairs(release: Release) -> Iterator[tuple[bytes, Artifact]]:
        for bundle, artifact in release.pairs():
            yield bundle, Artifact.from_digest("sha256:" + hashlib.sha256(artifact).hexdigest())

    probe = _TwoCoreProbe()
    gains: list[float] = []

    async def run() -> list[dict[str, Any]]:
        times: dict[tuple[str, int], list[float]] = {config: [] for config in configs}
        loads = []
        warm = make_release(32, "v2")
        for offload, workers in configs:  # start the worker processes once
            if offload == "process":
                verifier = Verifier(
                    TrustMaterial.from_json(warm.trusted_root), offload="process", processes=workers
                )
                await _drain(verifier, pairs(warm), Identity(warm.identity, warm.issuer))
        for r in range(sizes.many_runs):
            gains.append(probe())
            for offload, workers in configs if r % 2 == 0 else configs[::-1]:
                release = make_release(sizes.many, "v2")
                trust = TrustMaterial.from_json(release.trusted_root)
                policy = Identity(release.identity, release.issuer)
                if offload == "thread":
                    verifier = Verifier(trust, concurrency=workers)
                else:
                    verifier = Verifier(trust, offload="process", processes=workers)
                start = time.perf_counter()
                count = await _drain(verifier, pairs(release), policy)
                times[offload, workers].append((time.perf_counter() - start) / count)
                loads.append(os.getloadavg()[0])
        return [
            {
                "offload": offload,
                "workers": workers,
                "per_s": _rate(min(times[offload, workers])),
                # 1 and 2 workers of one offload run back to back in each round:
                # the median of their per-round ratios (see Race.paired_ratio).
                "vs_one_worker": statistics.median(
                    one / this
                    for one, this in zip(times[offload, 1], times[offload, workers], strict=True)
                ),
                # Others' load on the machine while this ran: 2 workers need 2 free cores.
                "load_average_max": max(loads),
                # What the machine's second core gave to work that holds no GIL, in the
                # same rounds: the most 2 workers can gain here.
                "machine_two_core_gain": statistics.median(gains),
                "machine_two_core_gain_range": (min(gains), max(gains)),
            }
            for offload, workers in configs
        ]

    try:
        return anyio.run(run)
    finally:
        probe.close()


class _TwoCoreProbe:
    """The machine's 2-vs-1 gain on signature checks alone (cryptography releases
    the GIL while it verifies): on a host whose second core is shared, this is
    the ceiling of any 2-worker figure measured beside it."""

    def __init__(self, checks: int = 200) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP384R1())
        message = os.urandom(400)
        algorithm = ec.ECDSA(hashes.SHA384())
        public, signature = key.public_key(), key.sign(message, algorithm)

        def verify(n: int) -> None:
            for _ in range(n):
                public.verify(signature, message, algorithm)

        self._verify, self._checks = verify, checks
        self._pool = ThreadPoolExecutor(2)
        list(self._pool.map(verify, [1, 1]))  # start both threads

    def __call__(self) -> float:
        start = time.perf_counter()
        self._verify(self._checks)
        one = time.perf_counter() - start
        start = time.perf_counter()
        list(self._pool.map(self._verify, [self._checks // 2] * 2))
        return one / (time.perf_counter() - start)

    def close(self) -> None:
        self._pool.shutdown()


# --- memory --------------------------------------------------------------------------------


def _memory_child(directory: Path, checkpoints: list[int]) -> None:
    """Run in a fresh process: verify_many over lazily generated (path, digest) pairs."""
    meta = json.loads((directory / "meta.json").read_text())
    trust = TrustMaterial.from_json((directory / "trusted_root.json").read_bytes())
    policy = Identity(meta["identity"], meta["issuer"])
    files = sorted(directory.glob("*.sigstore.json"))
    digests = meta["digests"]
    total = max(checkpoints)

    def pairs() -> Iterator[tuple[Path, str]]:
        for i in range(total):  # generated as verify_many pulls them
            j = i % len(files)
            yield files[j], digests[files[j].name]

    def current_rss_mib() -> float:
        # /proc/self/statm: pages resident now (Linux); the peak alone can hide
        # a leak under the high-water mark that imports leave.
        try:
            resident = int(Path("/proc/self/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return resident * os.sysconf("SC_PAGE_SIZE") / 2**20

    async def run() -> dict[str, dict[str, float]]:
        peaks: dict[str, float] = {}
        now: dict[str, float] = {}
        done = 0
        verifier = Verifier(trust)
        async with verifier.verify_many(pairs(), policy, concurrency=64) as outcomes:
            async for outcome in outcomes:
                if not outcome.ok:
                    raise RuntimeError(str(outcome.error))
                done += 1
                if done in checkpoints:
                    # ru_maxrss is in KiB on Linux.
                    peaks[str(done)] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                    now[str(done)] = current_rss_mib()
        return {"peak": peaks, "current": now}

    print(json.dumps(anyio.run(run)))


def bench_memory(release: Release, sizes: Sizes) -> dict[str, dict[str, float]]:
    """Peak and current RSS of a fresh process after each count of bundles."""
    with tempfile.TemporaryDirectory(prefix="sigstore-async-bench-") as tmp:
        directory = Path(tmp)
        digests = {}
        for i, (bundle, artifact) in enumerate(release.pairs()):
            name = f"{i:05d}.sigstore.json"
            (directory / name).write_bytes(bundle)
            digests[name] = "sha256:" + hashlib.sha256(artifact).hexdigest()
        (directory / "trusted_root.json").write_bytes(release.trusted_root)
        (directory / "meta.json").write_text(
            json.dumps({"identity": release.identity, "issuer": release.issuer, "digests": digests})
        )
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                str(directory),
                ",".join(str(n) for n in sizes.memory),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    figures: dict[str, dict[str, float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


# --- output --------------------------------------------------------------------------------


class Row(NamedTuple):
    """A line of the table. ``ratio`` is sigstore-python's time over ours,
    paired round by round (``Race.paired_ratio``), or a ceiling's."""

    label: str
    ours: float | None = None
    theirs: float | None = None
    ratio: float | None = None
    verdict: str = ""


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "n/a" if value is None else format(value, spec)


def _verdict(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "n/a"
    return f">= {target:g}x: {'met' if ratio >= target else 'missed'}"


def _build_label() -> str:
    """Which build of sigstore-async is measured: pure Python, or compiled (mypyc)."""
    compiled = compiled_modules()
    if not compiled:
        return (
            "pure Python (a release wheel compiles the hot modules: "
            "HATCH_BUILD_HOOK_ENABLE_MYPYC=1 pip install .)"
        )
    return f"compiled with mypyc, {len(compiled)} of {len(COMPILABLE)} hot modules"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a CI smoke run, under a minute")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        _memory_child(Path(args.memory_child[0]), [int(n) for n in args.memory_child[1].split(",")])
        return 0

    sizes = QUICK if args.quick else FULL
    missing = sigstore_python_unavailable()
    theirs = missing is None
    if missing:
        print(missing)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "sigstore_python": SigstorePython.version() if theirs else None,
            "quick": args.quick,
            "build": _build_label(),
            "method": "alternating short rounds; rates: best round; ratio: median of "
            "per-round ratios; parse included; one core unless stated",
        }
    }

    base = bundle_verify_dir()
    singles: list[tuple[str, str, str]] = [
        ("single-v1", "happy-path-v0.3", "Rekor v1"),
        ("single-v2", "rekor2-happy-path", "Rekor v2 + TSA"),
    ]
    rows: list[Row] = []
    floor = floor_checks()
    report["single"] = []
    report["repeated"] = []
    if base is None:
        print("conformance vectors not found ($SIGSTORE_ASYNC_VECTORS): vector cases skipped")
    else:
        for key, name, label in singles:
            case = vector_case(base, name, label)
            result = bench_single(case, sizes, theirs, floor[key])
            result["target"] = TARGETS[key]
            report["single"].append(result)
            rows.append(
                Row(
                    f"single bundle, {label} ({name}), fresh cache",
                    result["ours_per_s"],
                    result["theirs_per_s"],
                    result["ratio"],
                    _verdict(result["ratio"], TARGETS[key]),
                )
            )
            if result["note"]:
                rows.append(Row(f"  note: {result['note']}"))
            rows.append(
                Row(
                    "  ceiling: its signature checks alone "
                    f"({result['unskippable_signature_checks_us']:.0f} us)",
                    result["ceiling_per_s"],
                    result["theirs_per_s"],
                    result["ceiling_ratio"],
                    "no verifier can exceed this here",
                )
            )

    releases = {rekor: make_release(sizes.batch, rekor) for rekor in ("v1", "v2")}
    report["batch"] = []
    for rekor, label in (("v1", "Rekor v1"), ("v2", "Rekor v2 + TSA")):
        result = bench_release_batch(releases[rekor], sizes, theirs, floor[rekor])
        result["target"] = TARGETS["batch"]
        report["batch"].append(result)
        rows.append(
            Row(
                f"release batch of {result['bundles']}, {label}, one cert + checkpoint, "
                "shared cache",
                result["ours_per_s"],
                result["theirs_per_s"],
                result["ratio"],
                _verdict(result["ratio"], TARGETS["batch"]),
            )
        )
        rows.append(
            Row(
                "  same release, fresh cache per bundle",
                result["ours_fresh_per_s"],
                result["theirs_per_s"],
                result["fresh_ratio"],
            )
        )
        rows.append(
            Row(
                f"  ceiling: its unshareable signature checks alone "
                f"({result['unshareable_signature_checks_us']:.0f} us per bundle)",
                result["ceiling_per_s"],
                result["theirs_per_s"],
                result["ceiling_ratio"],
                "no verifier can exceed this here",
            )
        )
    if base is not None:
        for _key, name, label in singles:
            case = vector_case(base, name, label)
            result = bench_repeated(case, sizes, theirs)
            report["repeated"].append(result)
            rows.append(
                Row(
                    f"same bundle x{result['bundles']}, {label}, shared cache (upper bound, "
                    "not a real batch)",
                    result["ours_per_s"],
                    result["theirs_per_s"],
                    result["ratio"],
                )
            )

    if base is not None:
        report["rfc3161"] = bench_rfc3161(
            vector_case(base, "rekor2-happy-path", "Rekor v2 + TSA"), sizes, theirs
        )
    report["verify_many"] = bench_many(sizes)
    memory = bench_memory(make_release(min(1000, sizes.memory[-1]), "v2"), sizes)
    report["memory_peak_rss_mib"] = memory["peak"]
    report["memory_rss_mib"] = memory["current"]
    report["seconds"] = time.perf_counter() - started

    # The table.
    env = report["environment"]
    print(
        f"sigstore-async verify benchmark: Python {env['python']}, {env['cpus']} CPUs, "
        f"sigstore-python {env['sigstore_python'] or 'not installed'}"
        f"{' (--quick: rough figures)' if args.quick else ''}"
    )
    print(f"sigstore-async build: {env['build']}")
    print(f"method: {env['method']}")
    print()
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'ours/s':>8}  {'sigstore-python/s':>17}  {'ratio':>6}  target")
    for label, ours, theirs_rate, ratio, verdict in rows:
        print(
            f"{label:<{width}}  {_fmt(ours):>8}  {_fmt(theirs_rate):>17}  "
            f"{_fmt(ratio, '.2f') + 'x' if ratio else '':>6}  {verdict}"
        )
    if "rfc3161" in report:
        r = report["rfc3161"]
        print()
        print(
            f"RFC 3161 step alone (one token, fresh): ours {_fmt(r['ours_us'])} us, "
            f"sigstore-python {_fmt(r['theirs_us'])} us"
        )
    print()
    many = report["verify_many"]
    print(
        f"verify_many over {sizes.many} distinct Rekor v2 + TSA release bundles "
        "(wall clock, new release per run):"
    )
    first = {row["offload"]: row["per_s"] for row in many if row["workers"] == 1}
    for row in many:
        speedup = row["vs_one_worker"]
        verdict = _verdict(speedup, TARGETS["workers"]) if row["workers"] == 2 else ""
        print(
            f"  offload={row['offload']:<7} workers={row['workers']}  {row['per_s']:>6.0f}/s  "
            f"{speedup:.2f}x one worker  {verdict}"
        )
    low, high = many[0]["machine_two_core_gain_range"]
    print(
        f"  the machine itself, same rounds: signature checks alone (no GIL held) gain "
        f"{many[0]['machine_two_core_gain']:.2f}x on 2 threads over 1 (median; {low:.2f}x to "
        f"{high:.2f}x), the most 2 workers can gain here"
    )
    print(
        f"  (1-minute load average during these runs: up to {many[0]['load_average_max']:.1f} "
        f"on {os.cpu_count()} CPUs; what else runs on the machine caps what 2 workers can gain)"
    )
    best_thread = first["thread"]
    best = max(row["per_s"] for row in many)
    report["best_many_vs_one_thread"] = best / best_thread
    print(f"  best of all vs one thread (the default): {best / best_thread:.2f}x")
    print()
    peaks, current = report["memory_peak_rss_mib"], report["memory_rss_mib"]
    print(
        "peak RSS, verify_many over lazily generated (path, digest) pairs, fresh process: "
        + ", ".join(f"{int(n):,} bundles {mib:.0f} MiB" for n, mib in peaks.items())
    )
    values = list(current.values())
    first, last = values[0], values[-1]
    print(
        "  RSS at those points: "
        + ", ".join(f"{mib:.1f} MiB" for mib in current.values())
        + f" (growth {last - first:+.1f} MiB; a leak shows here even under the peak)"
    )
    print(f"\n({report['seconds']:.0f} s)")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
