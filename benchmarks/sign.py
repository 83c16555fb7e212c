"""Signing throughput: sigstore-async next to sigstore-python 4.5.1, same run, same services.

    python benchmarks/sign.py [--quick] [--count N] [--json]

Starts a LocalSigstore in its own process, served on loopback, with Rekor v2
integrating in batches (1 s interval) and 20 ms added to every request, and
signs N artifacts (1,000; 200 with ``--quick``) with one identity:

- sigstore-async: one ``Signer`` (one Fulcio certificate), ``sign_many`` with
  every artifact in flight (so that they can share a Rekor v2 batch), one
  connection pool sized for them, each bundle checked against what the log
  returned and verified before it is returned (the defaults). ``new_client``
  gives it the SDK's HTTP/1.1 transport, whose pool costs the same per request
  whatever its size, so it keeps every connection alive (``KEEPALIVE``
  overrides: httpx's own pool, httpcore 1.0's, scans its connections on every
  request and was run with 32).
- sigstore-python: one signer with a cached certificate, ``sign_artifact``
  from a thread pool (its documented concurrency), at several pool sizes; the
  best one counts.

Prints a table: wall time, artifacts per second, client CPU time per artifact
(this process only; the services run in the other one), and for
sigstore-async its floor: one Fulcio round trip, plus one batch interval, plus
its own CPU time. Without the CPU time, that is the floor of any client, so
the best speed-up any client can show over sigstore-python here is printed
too. Exits 0 when every artifact of every run was signed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path: put the checkout there
# instead, so no script here can shadow an installed package.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]

import anyio  # noqa: E402
import httpx  # noqa: E402

from sigstore_async._http import new_client  # noqa: E402
from sigstore_async.models import ClientTrustConfig  # noqa: E402
from sigstore_async.sign import Signer  # noqa: E402
from sigstore_async.trust import TrustMaterial  # noqa: E402

BATCH_INTERVAL = 1.0
LATENCY = 0.020
#: Idle connections kept (default: as many as the pool holds).
KEEPALIVE = int(os.environ["KEEPALIVE"]) if os.environ.get("KEEPALIVE") else None


@dataclass
class Run:
    client: str
    config: str
    artifacts: int
    signed: int
    wall_s: float
    cpu_ms_per_artifact: float
    first_certificate_s: float | None = None

    @property
    def rate(self) -> float:
        return self.signed / self.wall_s if self.wall_s else 0.0


class Server:
    """The LocalSigstore process and the files it wrote."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "benchmarks" / "_sign_server.py"),
                str(directory),
                str(BATCH_INTERVAL),
                str(LATENCY),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            self.close()
            raise SystemExit("the LocalSigstore process did not start")
        self.base_url = line[1]
        self.token = (directory / "token").read_text()
        self.trust_config_json = (directory / "trust_config_rekor_v2.json").read_text()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- sigstore-async -------------------------------------------------------------------------------


async def _ours(server: Server, artifacts: list[bytes], concurrency: int) -> Run:
    config = ClientTrustConfig.from_json(server.trust_config_json)
    assert config.trusted_root is not None
    assert config.signing_config is not None
    trust = TrustMaterial.from_trusted_root(config.trusted_root)
    # One request per log and per TSA for every item in flight.
    size = 2 * concurrency + 16
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=KEEPALIVE or size)
    async with new_client(limits=limits, timeout=httpx.Timeout(60.0, connect=10.0)) as http:
        cpu0, t0 = time.process_time(), time.perf_counter()
        async with Signer(
            server.token, signing_config=config.signing_config, trust=trust, http=http
        ) as signer:
            first_certificate = time.perf_counter() - t0
            signed = 0
            async with signer.sign_many(artifacts, concurrency=concurrency) as results:
                async for outcome in results:
                    if outcome.ok:
                        signed += 1
                    else:
                        print(f"  sigstore-async: item {outcome.index}: {outcome.error}")
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return Run(
        "sigstore-async",
        f"sign_many, concurrency {concurrency}",
        len(artifacts),
        signed,
        wall,
        cpu / len(artifacts) * 1000,
        first_certificate,
    )


# --- sigstore-python ------------------------------------------------------------------------------


def _sigstore_python(server: Server, artifacts: list[bytes], threads: int) -> Run:
    from sigstore.models import ClientTrustConfig as PyClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    context = SigningContext.from_trust_config(
        PyClientTrustConfig.from_json(server.trust_config_json)
    )
    token = IdentityToken(server.token)
    signed = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    with context.signer(token, cache=True) as signer, ThreadPoolExecutor(threads) as pool:

        def one(data: bytes) -> bool:
            try:
                signer.sign_artifact(data)
            except Exception as e:  # report and count, as the other client does
                print(f"  sigstore-python: {type(e).__name__}: {e}")
                return False
            return True

        signed = sum(pool.map(one, artifacts))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return Run(
        "sigstore-python " + _sigstore_python_version(),
        f"sign_artifact, {threads} threads",
        len(artifacts),
        signed,
        wall,
        cpu / len(artifacts) * 1000,
    )


def _sigstore_python_version() -> str:
    try:
        from importlib.metadata import version

        return version("sigstore")
    except Exception:
        return "?"


# --- report ---------------------------------------------------------------------------------------


def _table(runs: list[Run]) -> str:
    head = (
        f"{'client':<24} {'configuration':<32} {'signed':>9} {'wall s':>8} {'/s':>7} "
        f"{'CPU ms/art':>11}"
    )
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(
            f"{r.client:<24} {r.config:<32} {r.signed:>4}/{r.artifacts:<4} "
            f"{r.wall_s:>8.2f} {r.rate:>7.0f} {r.cpu_ms_per_artifact:>11.2f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 artifacts, fewer configurations")
    parser.add_argument("--count", type=int, help="artifacts per run (1000; 200 with --quick)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        help="sigstore-python thread pool sizes (64 256 1000; 64 200 with --quick)",
    )
    parser.add_argument(
        "--concurrency", type=int, help="sigstore-async items in flight (all of them)"
    )
    parser.add_argument("--no-sigstore-python", action="store_true")
    args = parser.parse_args()
    count = args.count or (200 if args.quick else 1000)
    threads = args.threads or ([64, count] if args.quick else [64, 256, count])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    artifacts = [os.urandom(1024) + i.to_bytes(4, "big") for i in range(count)]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            ours = anyio.run(_ours, server, artifacts, args.concurrency or count)
            runs.append(ours)
            if not args.no_sigstore_python:
                for n in threads:
                    runs.append(_sigstore_python(server, artifacts, n))
        finally:
            server.close()

    print(
        f"Signing {count} artifacts of 1 KiB with one identity; LocalSigstore in another "
        f"process on loopback; Rekor v2, {BATCH_INTERVAL:.0f} s batch interval; "
        f"{LATENCY * 1000:.0f} ms added per request; TSA timestamps.\n"
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n"
    )
    print(_table(runs))
    assert ours.first_certificate_s is not None
    floor = ours.first_certificate_s + BATCH_INTERVAL + ours.cpu_ms_per_artifact * count / 1000
    print(
        f"\nsigstore-async floor (one Fulcio round trip {ours.first_certificate_s * 1000:.0f} ms "
        f"+ batch interval {BATCH_INTERVAL:.1f} s + its CPU time "
        f"{ours.cpu_ms_per_artifact * count / 1000:.2f} s): {floor:.2f} s; "
        f"wall time is {ours.wall_s / floor:.2f}x the floor (target <= 1.5x)"
    )
    others = [r for r in runs if r is not ours]
    if others:
        best = min(others, key=lambda r: r.wall_s)
        print(
            f"best sigstore-python run ({best.config}): {best.wall_s:.2f} s; "
            f"speed-up of sigstore-async: {best.wall_s / ours.wall_s:.1f}x (target >= 10x); "
            f"client CPU per artifact: {ours.cpu_ms_per_artifact:.2f} ms against "
            f"{best.cpu_ms_per_artifact:.2f} ms"
        )
        # No client, however little CPU it spends, finishes before its first
        # certificate and one Rekor v2 batch interval.
        any_client = ours.first_certificate_s + BATCH_INTERVAL
        print(
            f"ceiling for any client (one Fulcio round trip + one batch interval, no CPU): "
            f"{any_client:.2f} s, at most {best.wall_s / any_client:.1f}x the best "
            f"sigstore-python run"
        )
    if args.json:
        ceiling = ours.first_certificate_s + BATCH_INTERVAL
        print(
            json.dumps(
                {"runs": [asdict(r) for r in runs], "floor_s": floor, "any_client_s": ceiling},
                indent=2,
            )
        )
    return 0 if all(r.signed == r.artifacts for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
