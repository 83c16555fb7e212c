"""Sign artifacts with one identity, many at a time, then verify them.

    python examples/sign_and_verify.py [--trio]

Runs offline: a LocalSigstore in this process stands in for the public-good
instance (its OIDC issuer gives the token, its Fulcio the certificate, its
Rekor and TSA the evidence). Against the real one the middle is the same::

    async with Sigstore.production() as sigstore:
        token = ...                                   # sigstore_async.oidc
        async with sigstore.signer(token) as signer:
            ...
"""

from __future__ import annotations

import sys

import anyio

from sigstore_async import Identity, TrustMaterial, Verifier
from sigstore_async.sign import Attestation, Signer
from sigstore_async.testing import LocalSigstore


async def main() -> None:
    async with LocalSigstore() as stack:
        token = stack.issue_token("release-bot@example.com")
        trust = TrustMaterial.from_trusted_root(stack.trusted_root)
        artifacts = [f"release artifact {i}\n".encode() for i in range(50)]

        # One signer: one ephemeral key and one Fulcio certificate (checked
        # against the trust root and its SCT) for every signature below.
        async with Signer(
            token,
            signing_config=stack.signing_config,  # Rekor v1 and the TSA
            trust=trust,
            transport=stack.transport,
        ) as signer:
            # Many at once: bounded concurrency, one outcome per input.
            bundles = {}
            async with signer.sign_many(artifacts, concurrency=16) as results:
                async for outcome in results:
                    if outcome.bundle is None:
                        raise SystemExit(f"item {outcome.index} failed: {outcome.error}")
                    bundles[outcome.index] = outcome.bundle
            print(f"signed {len(bundles)} artifacts with one certificate")

            # One at a time: a DSSE envelope and an in-toto attestation.
            envelope = await signer.sign_dsse(b'{"note": "hello"}', "application/json")
            attestation = await signer.sign(
                Attestation(artifacts[0], "https://example.com/predicate/v1", {"ok": True})
            )
            print("signed a DSSE envelope and an in-toto attestation")

        # Verify everything with the SDK's verifier, as a consumer would.
        verifier = Verifier(trust)
        policy = Identity("release-bot@example.com", stack.oidc_url)
        pairs = [(bundles[i], artifacts[i]) for i in sorted(bundles)]
        verified = 0
        async with verifier.verify_many(pairs, policy) as checked:
            async for result in checked:
                if not result.ok:
                    raise SystemExit(f"bundle {result.index} did not verify: {result.error}")
                verified += 1
        await verifier.verify(envelope, b'{"note": "hello"}', policy)
        await verifier.verify(attestation, artifacts[0], policy)
        print(f"verified {verified} bundles, the envelope and the attestation")
        entry = bundles[0].material.tlog_entries[0]
        assert entry.kind_version is not None
        print(
            f"first bundle: {entry.kind_version.kind} {entry.kind_version.version} "
            f"entry at log index {entry.log_index}, "
            f"{len(bundles[0].material.timestamps)} RFC 3161 timestamp"
        )


if __name__ == "__main__":
    anyio.run(main, backend="trio" if "--trio" in sys.argv else "asyncio")
