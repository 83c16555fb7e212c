"""Verify a bundle signed with a managed key (no certificate).

python examples/verify_with_key.py
"""

from __future__ import annotations

import sys

import anyio
from _vectors import bundle_verify_dir

from sigstore_async import TrustMaterial, Verifier, VerifyingKey
from sigstore_async.trust import embedded_trusted_root


async def main() -> int:
    case = bundle_verify_dir() / "managed-key-happy-path"
    key = VerifyingKey.from_pem((case / "key.pub").read_bytes())
    verifier = Verifier(TrustMaterial.from_trusted_root(embedded_trusted_root("production")))
    result = await verifier.verify(case / "bundle.sigstore.json", case.parent / "a.txt", key=key)
    print("verified with the key; logged at", result.verified_times[0].time.isoformat())
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
