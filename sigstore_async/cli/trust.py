"""``sigstore-async trust``: see and refresh the trust material, for people.

``trust show`` prints which repository the trust comes from, its root version
and expiry, when it was last refreshed, and what the trusted root contains
(CAs, transparency logs, CT logs, timestamp authorities) and the signing config
names; ``trust refresh`` forces a TUF refresh; ``trust init URL ROOT_FILE``
trusts ROOT_FILE as the initial root of a private instance's repository at URL
(the explicit step that replaces trust on first use), then refreshes.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from ..client import Sigstore, TrustConfig
from ..errors import SigstoreError
from ..models.common import TimeRange
from ..models.trust_root import TransparencyLogInstance
from ..tuf import save_initial_root
from ._common import describe, eprint


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "trust",
        help="show or refresh the trust root (TUF)",
        description="Show or refresh the trusted root and signing config delivered by TUF.",
    )
    common = argparse.ArgumentParser(add_help=False)
    which = common.add_mutually_exclusive_group()
    which.add_argument("--staging", action="store_true", help="the public-good staging instance")
    which.add_argument("--tuf-url", help="a private instance's TUF repository")
    common.add_argument("--root", help="initial root.json for --tuf-url (default: trust init's)")
    common.add_argument("--cache-dir", help="where TUF files go (default: user directories)")
    common.add_argument("--json", action="store_true", help="print one JSON document")
    tsub = p.add_subparsers(dest="trust_command", required=True, metavar="COMMAND")

    show = tsub.add_parser("show", parents=[common], help="show the current trust")
    show.add_argument("--offline", action="store_true", help="verify the local cache only")
    show.set_defaults(func=run_show)
    refresh = tsub.add_parser("refresh", parents=[common], help="refresh from the repository now")
    refresh.set_defaults(func=run_refresh)
    init = tsub.add_parser(
        "init", parents=[common], help="trust ROOT_FILE as the initial root of --tuf-url"
    )
    init.add_argument("root_file", metavar="ROOT_FILE")
    init.add_argument("--no-refresh", action="store_true", help="only save the root")
    init.set_defaults(func=run_init)


def _client(args: argparse.Namespace, *, offline: bool = False) -> Sigstore:
    options: dict[str, Any] = {"offline": offline}
    if args.cache_dir:
        options["cache_dir"] = args.cache_dir
    if args.tuf_url:
        return Sigstore.from_tuf(args.tuf_url, root=args.root, **options)
    return Sigstore.staging(**options) if args.staging else Sigstore.production(**options)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else "-"


def _window(valid: TimeRange | None) -> str:
    if valid is None:
        return "always"
    return f"{_when(valid.start)} .. {_when(valid.end) if valid.end else 'open'}"


def _key_window(log: TransparencyLogInstance) -> str:
    return _window(log.public_key.valid_for if log.public_key is not None else None)


def describe_trust(config: TrustConfig, name: str) -> dict[str, Any]:
    """A JSON-friendly summary of ``config``."""
    root = config.trusted_root
    out: dict[str, Any] = {"instance": name, "source": config.source}
    if config.tuf is not None:
        t = config.tuf
        out["tuf"] = {
            "repository": t.repository,
            "rootVersion": t.root_version,
            "rootExpires": _when(t.root_expires),
            "timestampVersion": t.timestamp_version,
            "snapshotVersion": t.snapshot_version,
            "targetsVersion": t.targets_version,
            "expires": _when(t.expires),
            "expired": t.expired,
            "lastRefresh": _when(t.refreshed_at),
            "fromNetwork": t.from_network,
        }
    out["trustedRoot"] = {
        "certificateAuthorities": [
            {"uri": ca.uri, "valid": _window(ca.valid_for)} for ca in root.certificate_authorities
        ],
        "tlogs": [{"baseUrl": log.base_url, "valid": _key_window(log)} for log in root.tlogs],
        "ctlogs": [{"baseUrl": log.base_url, "valid": _key_window(log)} for log in root.ctlogs],
        "timestampAuthorities": [
            {"uri": ca.uri, "valid": _window(ca.valid_for)} for ca in root.timestamp_authorities
        ],
    }
    signing = config.signing_config
    if signing is not None:
        out["signingConfig"] = {
            "ca": [s.url for s in signing.ca_urls],
            "oidc": [s.url for s in signing.oidc_urls],
            "rekor": [f"{s.url} (v{s.major_api_version})" for s in signing.rekor_tlog_urls],
            "tsa": [s.url for s in signing.tsa_urls],
        }
    return out


def _render(summary: dict[str, Any]) -> None:
    print(f"instance: {summary['instance']} (trust from {summary['source']})")
    tuf = summary.get("tuf")
    if tuf is not None:
        print(f"repository: {tuf['repository']}")
        print(f"root: version {tuf['rootVersion']}, expires {tuf['rootExpires']}")
        print(
            f"metadata: timestamp v{tuf['timestampVersion']}, snapshot v{tuf['snapshotVersion']}, "
            f"targets v{tuf['targetsVersion']}; expires {tuf['expires']}"
            + (" (EXPIRED)" if tuf["expired"] else "")
        )
        print(
            f"last refresh: {tuf['lastRefresh']}"
            + (" (just now)" if tuf["fromNetwork"] else " (from the local cache)")
        )
    root = summary["trustedRoot"]
    for title, key, field in (
        ("certificate authorities", "certificateAuthorities", "uri"),
        ("transparency logs", "tlogs", "baseUrl"),
        ("CT logs", "ctlogs", "baseUrl"),
        ("timestamp authorities", "timestampAuthorities", "uri"),
    ):
        print(f"{title}: {len(root[key])}")
        for item in root[key]:
            print(f"  {item[field]}  valid {item['valid']}")
    signing = summary.get("signingConfig")
    if signing is not None:
        print("signing config:")
        for kind in ("ca", "oidc", "rekor", "tsa"):
            print(f"  {kind}: {', '.join(signing[kind]) or '-'}")


def _show(args: argparse.Namespace, *, refresh: bool, offline: bool = False) -> int:
    if args.root and not args.tuf_url:
        eprint("--root goes with --tuf-url")
        return 2

    async def go() -> dict[str, Any]:
        async with _client(args, offline=offline) as sigstore:
            config = await sigstore.trust(refresh=refresh)
            return describe_trust(config, sigstore.name)

    try:
        summary = anyio.run(go)
    except (SigstoreError, OSError) as e:
        eprint(describe(e))
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _render(summary)
    return 0


def run_show(args: argparse.Namespace) -> int:
    return _show(args, refresh=False, offline=args.offline)


def run_refresh(args: argparse.Namespace) -> int:
    return _show(args, refresh=True)


def run_init(args: argparse.Namespace) -> int:
    if not args.tuf_url:
        eprint("trust init: give --tuf-url (the public-good instances need no init)")
        return 2
    try:
        root = Path(args.root_file).read_bytes()
        path = anyio.run(lambda: save_initial_root(args.tuf_url, root, cache_dir=args.cache_dir))
    except (SigstoreError, OSError) as e:
        eprint(describe(e))
        return 1
    print(f"trusting {args.root_file} as the initial root of {args.tuf_url} (saved to {path})")
    if args.no_refresh:
        return 0
    return _show(args, refresh=True)
