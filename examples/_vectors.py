"""Where the examples find sample bundles: the sigstore-conformance vectors
beside the checkout (../shared/vectors) or $SIGSTORE_ASYNC_VECTORS."""

from __future__ import annotations

import os
import sys
from pathlib import Path

IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"


def bundle_verify_dir() -> Path:
    env = os.environ.get("SIGSTORE_ASYNC_VECTORS")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "vectors"
    cases = root / "sigstore-conformance" / "bundle-verify"
    if not cases.is_dir():
        sys.exit(f"sample bundles not found at {cases}; set SIGSTORE_ASYNC_VECTORS")
    return cases
