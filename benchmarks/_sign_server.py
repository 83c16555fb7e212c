"""A LocalSigstore served on loopback for ``benchmarks/sign.py``, in its own process.

    python benchmarks/_sign_server.py DIR BATCH_INTERVAL LATENCY

Writes the instance's trust files and an identity token (``DIR/token``) into
DIR, prints ``READY <base-url>``, and serves until its standard input closes.
Its own process keeps the services' CPU time out of the clients' figures.
"""

from __future__ import annotations

import resource
import sys
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path: put the checkout there
# instead, so no script here can shadow an installed package.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]

import anyio  # noqa: E402

from sigstore_async.testing import LocalSigstore, ServiceFaults  # noqa: E402

IDENTITY = "bench@example.com"


async def main(directory: Path, batch_interval: float, latency: float) -> None:
    faults = {
        service: ServiceFaults(latency=latency)
        for service in ("oidc", "fulcio", "rekor", "rekor_v2", "tsa")
    }
    async with LocalSigstore(
        serve=True, rekor_v2_batch_interval=batch_interval, faults=faults
    ) as stack:
        await stack.write_trust_files(directory)
        token = stack.issue_token(IDENTITY, lifetime=timedelta(hours=2))
        await anyio.Path(directory / "token").write_text(token)
        print("READY", stack.base_url, flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


if __name__ == "__main__":
    # Many connections at once: one per request in flight.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    anyio.run(main, Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]))
