"""The ``sigstore-async`` command line: parse, call the public API, render.

Owns: argument parsing, rendering results for people (and as JSON), exit
statuses, and the cross-client conformance protocol. Holds no verification or
signing logic of its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import conformance, identity, local, sign, trust, tuf, verify

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sigstore-async",
        description="Sign and verify artifacts with Sigstore, many at a time.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify.add_parser(sub)
    conformance.add_parser(sub)
    trust.add_parser(sub)
    tuf.add_parser(sub)
    local.add_parser(sub)
    identity.add_parser(sub)
    sign.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    0: everything asked for succeeded; 1: a verification (or other operation)
    failed; 2: the command line was wrong.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


def entry_point() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())
