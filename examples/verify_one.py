"""Verify one bundle against a file, with an identity policy.

    python examples/verify_one.py [BUNDLE ARTIFACT]

Without arguments it verifies a sample bundle from the conformance vectors
against the public-good trust root embedded in the package.
"""

from __future__ import annotations

import sys

import anyio
from _vectors import IDENTITY, ISSUER, bundle_verify_dir

from sigstore_async import Identity, VerificationError, Verifier


async def main(bundle: str, artifact: str) -> int:
    verifier = Verifier.offline()  # embedded public-good root; no network
    policy = Identity(IDENTITY, ISSUER)
    try:
        result = await verifier.verify(bundle, artifact, policy)
    except VerificationError as e:
        print(f"rejected at step {e.step!r}: {e.message}")
        return 1
    print(f"verified: signed by {result.identity}")
    print(f"          issuer   {result.issuer}")
    for t in result.verified_times:
        print(f"          at       {t.time.isoformat()} ({t.source}: {t.authority})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3:
        bundle, artifact = sys.argv[1], sys.argv[2]
    else:
        cases = bundle_verify_dir()
        bundle = str(cases / "happy-path-v0.3" / "bundle.sigstore.json")
        artifact = str(cases / "a.txt")
    sys.exit(anyio.run(main, bundle, artifact))
