"""``sigstore-async local``: run a LocalSigstore, or mint tokens for one.

``local serve [--host H] [--port N] [--state DIR]`` serves every service on
loopback, writes the instance's trust files into DIR (``trusted_root.json``,
``signing_config.json``, ``signing_config_rekor_v2.json``,
``trust_config.json``, ``trust_config_rekor_v2.json`` and the TUF
``root.json``), prints one line ``READY <base-url>`` once it accepts
connections, and runs until interrupted. With ``--state`` the keys and logs
live in DIR (SQLite), so a restart keeps them; without it a temporary
directory holds the trust files and is removed at exit.

``local token --state DIR [--identity EMAIL_OR_URI]`` prints an identity token
from the issuer of the instance kept in DIR.

Needs the ``testing`` extra (uvicorn).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from ._common import eprint


def _port(text: str) -> int:
    """An argparse type: a TCP port number, 0 for any free port."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0 to 65535): {text!r}")
    return port


def _host(text: str) -> str:
    """An argparse type: a host name or address, which sockets take as ASCII."""
    if not text or not text.isascii() or not text.isprintable():
        raise argparse.ArgumentTypeError(f"not a host name or address: {text!r}")
    return text


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "local", help="run a local, real-crypto Sigstore instance for tests"
    )
    lsub = p.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    s = lsub.add_parser("serve", help="serve every Sigstore service on loopback")
    s.add_argument(
        "--host", type=_host, default="127.0.0.1", help="address to listen on (127.0.0.1)"
    )
    s.add_argument("--port", type=_port, default=0, help="port to listen on (any free port)")
    s.add_argument("--state", metavar="DIR", help="keep keys and logs in DIR across restarts")
    s.add_argument(
        "--identity",
        default="signer@example.com",
        help="the default identity of issued tokens (signer@example.com)",
    )
    s.set_defaults(func=run_serve)
    t = lsub.add_parser("token", help="print an identity token from a kept instance")
    t.add_argument("--state", metavar="DIR", required=True, help="the instance's state directory")
    t.add_argument("--identity", help="an email address or URI (the instance's default)")
    t.set_defaults(func=run_token)


def run_serve(args: argparse.Namespace) -> int:
    try:
        from ..testing import LocalSigstore
    except ImportError as e:  # pragma: no cover - depends on the environment
        eprint(f"local serve needs the 'testing' extra: {e}")
        return 2

    async def go() -> None:
        # Signals first: a client may stop the server as soon as it reads READY.
        with (
            anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
            tempfile.TemporaryDirectory(prefix="sigstore-async-local-") as tmp,
        ):
            files = Path(args.state) if args.state else Path(tmp)
            async with LocalSigstore(
                serve=True,
                host=args.host,
                port=args.port,
                state_dir=args.state,
                default_identity=args.identity,
            ) as stack:
                await stack.write_trust_files(files)
                eprint(f"trust files in {files}")
                print(f"READY {stack.base_url}", flush=True)
                async for _ in signals:
                    break

    try:
        anyio.run(go)
    except (OSError, RuntimeError) as e:
        eprint(f"local serve: {e}")
        return 1
    except ExceptionGroup as group:
        for error in group.exceptions:
            eprint(f"local serve: {error}")
        return 1
    return 0


def run_token(args: argparse.Namespace) -> int:
    from ..testing import LocalSigstore

    try:
        token = anyio.run(LocalSigstore.issue_token_from_state, args.state, args.identity)
    except (RuntimeError, ValueError, OSError) as e:
        eprint(f"local token: {e}")
        return 1
    sys.stdout.write(token + "\n")
    return 0
