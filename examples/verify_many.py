"""Verify many bundles concurrently, on asyncio or trio, without blocking the loop.

    python examples/verify_many.py [--trio] [COUNT]

Verifies COUNT (default 500) sample bundles, mixing in a few bad ones: each bad
item is that item's outcome and never stops the others.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
from _vectors import IDENTITY, ISSUER, bundle_verify_dir

from sigstore_async import Identity, Verifier
from sigstore_async.verify import Artifact


def pairs(cases: Path, count: int) -> Iterator[tuple[Path, Artifact | Path]]:
    """Generated lazily: verify_many pulls items only as slots free up."""
    good = cases / "happy-path-v0.3" / "bundle.sigstore.json"
    bad = cases / "signature-mismatch_fail" / "bundle.sigstore.json"
    artifact = Artifact.from_bytes((cases / "a.txt").read_bytes())
    for i in range(count):
        yield (bad if i % 100 == 99 else good), artifact


async def main(count: int) -> int:
    cases = bundle_verify_dir()
    verifier = Verifier.offline()
    policy = Identity(IDENTITY, ISSUER)
    ok = failed = 0
    start = time.perf_counter()
    async with verifier.verify_many(pairs(cases, count), policy, concurrency=32) as outcomes:
        async for outcome in outcomes:
            if outcome.ok:
                ok += 1
            else:
                failed += 1
                print(f"item {outcome.index}: {outcome.error}")
    elapsed = time.perf_counter() - start
    print(f"{ok} verified, {failed} rejected in {elapsed:.2f} s ({count / elapsed:.0f} bundles/s)")
    return 0 if ok == count - count // 100 else 1


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--trio"]
    backend = "trio" if "--trio" in sys.argv else "asyncio"
    sys.exit(anyio.run(main, int(args[0]) if args else 500, backend=backend))
