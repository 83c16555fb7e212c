"""``sigstore-async conformance``: the cross-client conformance protocol.

``verify-bundle [--staging] --bundle FILE (--certificate-identity ID
--certificate-oidc-issuer URL | --key PEM) [--trusted-root FILE] FILE_OR_DIGEST``.
Exit 0 when verified, 1 otherwise. FILE_OR_DIGEST is a path, or ``sha256:``
(``sha384:``, ``sha512:``) plus hex when no such path exists.

``sign-bundle [--staging] [--in-toto] --identity-token TOKEN --bundle FILE
[--trusted-root FILE] [--signing-config FILE] FILE`` (``cli.sign``): exit 0
when signed and the bundle written.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import anyio

from ..errors import SigstoreError
from ..verify import Identity, Verifier, VerifyingKey
from ..verify.artifact import Artifact
from ._common import describe, eprint, load_trust
from .sign import add_sign_bundle_parser


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "conformance", help="speak the sigstore-conformance client protocol"
    )
    p.add_argument("--offline", action="store_true", help="never refresh trust over the network")
    csub = p.add_subparsers(dest="conformance_command", required=True, metavar="OPERATION")
    v = csub.add_parser("verify-bundle", help="verify one bundle")
    v.add_argument("--staging", action="store_true")
    v.add_argument("--bundle", required=True)
    v.add_argument("--certificate-identity")
    v.add_argument("--certificate-oidc-issuer")
    v.add_argument("--key")
    v.add_argument("--trusted-root")
    v.add_argument("--offline", action="store_true", dest="offline_inner")
    v.add_argument("file_or_digest", metavar="FILE_OR_DIGEST")
    v.set_defaults(func=run_verify_bundle)
    add_sign_bundle_parser(csub)


def _artifact(value: str) -> str | Artifact:
    if os.path.exists(value) or not Artifact.is_digest(value):
        return value
    return Artifact.from_digest(value)


def run_verify_bundle(args: argparse.Namespace) -> int:
    if args.key is None and (
        args.certificate_identity is None or args.certificate_oidc_issuer is None
    ):
        eprint("verify-bundle: give --key, or --certificate-identity and --certificate-oidc-issuer")
        return 2

    async def go() -> None:
        trust = await load_trust(
            args.trusted_root, staging=args.staging, offline=args.offline or args.offline_inner
        )
        verifier = Verifier(trust)
        artifact = _artifact(args.file_or_digest)
        if args.key is not None:
            pem = await anyio.Path(args.key).read_bytes()
            try:
                key = VerifyingKey.from_pem(pem)
            except ValueError as e:
                raise SigstoreError(f"unusable key {args.key}: {e}") from e
            await verifier.verify(Path(args.bundle), artifact, key=key)
        else:
            policy = Identity(args.certificate_identity, args.certificate_oidc_issuer)
            await verifier.verify(Path(args.bundle), artifact, policy)

    try:
        anyio.run(go)
    except (SigstoreError, OSError, ValueError) as e:
        eprint(f"verification failed: {describe(e)}")
        return 1
    print("OK")
    return 0
