"""Identity policies: exact, regular expressions, Fulcio extensions, and combinations.

python examples/policies.py
"""

from __future__ import annotations

import sys

import anyio
from _vectors import ISSUER, bundle_verify_dir

from sigstore_async import (
    AllOf,
    AnyOf,
    Custom,
    Extension,
    Identity,
    PolicyError,
    Verifier,
)

RELEASE_WORKFLOW = AllOf(
    # Any workflow of the sigstore-conformance organisation (full match)...
    Identity(identity_pattern=r"https://github\.com/sigstore-conformance/.+", issuer=ISSUER),
    # ...run from the main branch, on GitHub-hosted runners.
    Extension("source_repository_ref", "refs/heads/main"),
    Extension("runner_environment", "github-hosted"),
    AnyOf(
        Extension("build_trigger", "workflow_dispatch"),
        Extension("build_trigger", "push"),
    ),
    Custom(
        lambda ident: ident.san is not None and ident.san.endswith("@refs/heads/main"),
        name="main-branch identity",
    ),
)


async def main() -> int:
    cases = bundle_verify_dir()
    verifier = Verifier.offline()
    bundle = cases / "happy-path-v0.3" / "bundle.sigstore.json"
    artifact = cases / "a.txt"
    result = await verifier.verify(bundle, artifact, RELEASE_WORKFLOW)
    print("accepted by the release policy:", result.identity)
    try:
        await verifier.verify(bundle, artifact, Extension("source_repository_ref", "refs/tags/v1"))
    except PolicyError as e:
        print("rejected by a tag-only policy:", e.message)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(anyio.run(main))
