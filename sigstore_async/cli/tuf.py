"""``sigstore-async tuf``: the TUF client conformance protocol.

The client-under-test command line of the public TUF conformance suite
(theupdateframework/tuf-conformance, ``CLIENT-CLI.md``)::

    sigstore-async tuf --metadata-dir DIR init ROOT_FILE
    sigstore-async tuf --metadata-dir DIR --metadata-url URL refresh
    sigstore-async tuf --metadata-dir DIR --metadata-url URL --target-name NAME
        [--target-name NAME ...] --target-base-url URL --target-dir DIR download

``DIR/root.json`` is the trust anchor (``init`` copies ROOT_FILE there and makes
no request); metadata is stored under unversioned names and persisted as each
file verifies, as the suite expects. ``download`` uses one updater for all
targets, in order, stops at the first failure, and does not fetch again a
target already in DIR with matching hashes. Exit status 0 on full success, 1
otherwise (2 for a wrong command line).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import anyio

from .._http import new_client
from ..errors import SigstoreError
from ..tuf import MetadataStore, Updater
from ..tuf._store import write_atomic
from ._common import describe, eprint


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tuf",
        help="a plain TUF client (the TUF conformance suite's protocol)",
        description="A TUF client over one metadata directory (the TUF conformance protocol).",
    )
    p.add_argument("--metadata-dir", required=True, help="the client's trusted metadata")
    p.add_argument("--metadata-url", help="the repository's metadata URL")
    p.add_argument(
        "--target-name", action="append", default=[], help="a target path (repeat, in order)"
    )
    p.add_argument("--target-base-url", help="the repository's targets URL")
    p.add_argument("--target-dir", help="where downloaded targets go")
    tsub = p.add_subparsers(dest="tuf_command", required=True, metavar="COMMAND")
    init = tsub.add_parser("init", help="trust ROOT_FILE as the initial root (no network)")
    init.add_argument("root_file", metavar="ROOT_FILE")
    init.set_defaults(func=run_init)
    tsub.add_parser("refresh", help="update the top-level metadata").set_defaults(func=run_refresh)
    tsub.add_parser("download", help="download --target-name targets").set_defaults(
        func=run_download
    )


def run_init(args: argparse.Namespace) -> int:
    try:
        data = Path(args.root_file).read_bytes()
        write_atomic(Path(args.metadata_dir) / "root.json", data)
    except OSError as e:
        eprint(f"init: {e}")
        return 1
    print(f"initialized {args.metadata_dir}")
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    if not args.metadata_url:
        eprint("refresh: give --metadata-url")
        return 2

    async def go() -> None:
        store = MetadataStore(args.metadata_dir)
        async with new_client() as http, store.lock():
            updater = Updater(http, metadata_url=args.metadata_url, store=store)
            trusted = await updater.refresh()
            print(
                f"refreshed: root v{trusted.root.version}, timestamp v{trusted.timestamp.version}, "
                f"snapshot v{trusted.snapshot.version}, targets v{trusted.targets.version}"
            )

    return _run(go)


def run_download(args: argparse.Namespace) -> int:
    if not (args.metadata_url and args.target_name and args.target_base_url and args.target_dir):
        eprint("download: give --metadata-url, --target-name, --target-base-url and --target-dir")
        return 2

    async def go() -> None:
        store = MetadataStore(args.metadata_dir)
        async with new_client() as http, store.lock():
            updater = Updater(
                http,
                metadata_url=args.metadata_url,
                store=store,
                target_base_url=args.target_base_url,
                target_dir=args.target_dir,
            )
            for name in args.target_name:
                info = await updater.get_target_info(name)
                if info is None:
                    raise _NotFound(name)
                path = await updater.find_cached_target(info)
                if path is not None:
                    print(f"{name}: already downloaded to {path}")
                    continue
                path = await updater.download_target(info)
                print(f"{name}: downloaded to {path}")

    return _run(go)


class _NotFound(Exception):
    pass


def _run(go: Any) -> int:
    try:
        anyio.run(go)
    except _NotFound as e:
        eprint(f"{e}: no such target")
        return 1
    except (SigstoreError, OSError) as e:
        eprint(describe(e))
        return 1
    return 0
