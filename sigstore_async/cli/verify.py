"""``sigstore-async verify``: verify many artifacts at once, for people and scripts."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import anyio

from ..errors import SigstoreError
from ..verify import Identity, Policy, Verifier, VerifyingKey, VerifyOutcome
from ..verify.artifact import Artifact
from ._common import UsageError, describe, eprint, error_dict, load_trust


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="verify Sigstore bundles for artifacts or digests",
        description=(
            "Verify each ARTIFACT (a file, or a digest such as sha256:<hex>) against its bundle: "
            "ARTIFACT.sigstore.json by default, or the --bundle options in order. "
            "Exit status 0 only when every artifact verified."
        ),
    )
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT")
    p.add_argument("--bundle", action="append", default=[], help="bundle path (repeat, in order)")
    ident = p.add_argument_group("identity (certificate-signed bundles)")
    ident.add_argument("--identity", help="expected certificate identity (SAN), exact")
    ident.add_argument("--identity-regex", help="expected identity, full-match regex")
    ident.add_argument("--issuer", help="expected OIDC issuer, exact")
    ident.add_argument("--issuer-regex", help="expected OIDC issuer, full-match regex")
    p.add_argument("--key", help="PEM public key, for key-signed bundles")
    p.add_argument("--trusted-root", help="trusted_root.json to verify against")
    p.add_argument("--staging", action="store_true", help="use the public-good staging instance")
    p.add_argument(
        "--offline",
        action="store_true",
        help="no network: the verified local TUF cache, else the roots embedded in the package",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--concurrency", type=int, default=32)
    p.set_defaults(func=run)


def _pairs(args: argparse.Namespace) -> list[tuple[str, str | Artifact]]:
    bundles: list[str] = args.bundle
    if bundles and len(bundles) != len(args.artifacts):
        raise UsageError("give one --bundle per artifact, or none")
    pairs: list[tuple[str, str | Artifact]] = []
    for i, art in enumerate(args.artifacts):
        is_digest = not os.path.exists(art) and Artifact.is_digest(art)
        if bundles:
            bundle = bundles[i]
        elif is_digest:
            raise UsageError(f"{art}: a digest needs --bundle")
        else:
            bundle = art + ".sigstore.json"
        if not is_digest:
            pairs.append((bundle, art))
            continue
        try:
            pairs.append((bundle, Artifact.from_digest(art)))
        except ValueError as e:  # the right form, the wrong length: sha512:00
            raise UsageError(f"{art}: {e}") from e
    return pairs


def _policy(args: argparse.Namespace) -> Policy | None:
    if args.key is not None:
        if args.identity or args.identity_regex or args.issuer or args.issuer_regex:
            raise UsageError("--key and identity options exclude each other")
        return None
    if not (args.identity or args.identity_regex) or not (args.issuer or args.issuer_regex):
        raise UsageError("give --identity (or --identity-regex) and --issuer (or --issuer-regex)")
    try:
        return Identity(
            args.identity,
            args.issuer,
            identity_pattern=args.identity_regex,
            issuer_pattern=args.issuer_regex,
        )
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from e


def _render(outcome: VerifyOutcome, labels: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"artifact": labels[outcome.index], "bundle": str(outcome.item[0])}
    if outcome.result is not None:
        r = outcome.result
        out.update(
            verified=True,
            identity=r.identity,
            issuer=r.issuer,
            verified_times=[
                {"time": t.time.isoformat(), "source": t.source, "authority": t.authority}
                for t in r.verified_times
            ],
        )
    else:
        assert outcome.error is not None
        out.update(verified=False, error=error_dict(outcome.error))
    return out


def run(args: argparse.Namespace) -> int:
    try:
        pairs = _pairs(args)
        policy = _policy(args)
        key = None
        if args.key is not None:
            try:
                key = VerifyingKey.from_pem(Path(args.key).read_bytes())
            except (OSError, ValueError) as e:
                raise UsageError(f"unusable key {args.key}: {e}") from e
    except UsageError as e:
        eprint(f"sigstore-async verify: {e}")
        return 2
    except SigstoreError as e:
        eprint(f"sigstore-async verify: {describe(e)}")
        return 1

    labels = list(args.artifacts)
    results: list[dict[str, Any]] = []

    async def go() -> None:
        trust = await load_trust(args.trusted_root, staging=args.staging, offline=args.offline)
        verifier = Verifier(trust)
        items = [(Path(b), a) for b, a in pairs]
        async with verifier.verify_many(
            items, policy, key=key, concurrency=max(1, args.concurrency)
        ) as outcomes:
            async for outcome in outcomes:
                rendered = _render(outcome, labels)
                results.append(rendered | {"_index": outcome.index})
                if not args.json:
                    if outcome.ok:
                        who = rendered.get("identity") or "key"
                        print(f"OK    {rendered['artifact']}  ({who})")
                    else:
                        assert outcome.error is not None
                        print(f"FAIL  {rendered['artifact']}: {describe(outcome.error)}")

    try:
        anyio.run(go)
    except SigstoreError as e:
        eprint(f"sigstore-async verify: {describe(e)}")
        return 1
    results.sort(key=lambda r: r["_index"])
    for r in results:
        del r["_index"]
    failed = sum(1 for r in results if not r["verified"])
    if args.json:
        print(
            json.dumps(
                {"verified": len(results) - failed, "failed": failed, "results": results}, indent=2
            )
        )
    else:
        print(f"{len(results) - failed} verified, {failed} failed")
    return 0 if failed == 0 else 1
