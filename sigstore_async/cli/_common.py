"""Pieces the CLI commands share: trust selection and error rendering."""

from __future__ import annotations

import sys
from typing import Any

import anyio

from ..errors import SigstoreError, TrustError, VerificationError
from ..trust import TrustMaterial


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""


async def load_trust(trusted_root: str | None, *, staging: bool, offline: bool) -> TrustMaterial:
    """The trust material the user selected.

    An explicit ``--trusted-root`` wins; otherwise the public-good instance
    (production or ``--staging``) through TUF, or with ``--offline`` from the
    verified local TUF cache or, failing that, the roots embedded in the package.
    """
    if trusted_root is not None:
        try:
            data = await anyio.Path(trusted_root).read_bytes()
        except OSError as e:
            raise TrustError(f"cannot read trusted root {trusted_root}: {e.strerror}") from e
        return TrustMaterial.from_json(data)
    from ..client import Sigstore

    instance = Sigstore.staging if staging else Sigstore.production
    async with instance(offline=offline) as sigstore:
        return (await sigstore.trust()).material


def error_dict(error: BaseException) -> dict[str, Any]:
    """A JSON-friendly description of an error."""
    out: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, VerificationError):
        out["step"] = error.step
        out["message"] = error.message
        if error.path:
            out["path"] = error.path
    return out


def describe(error: BaseException) -> str:
    """One line for people."""
    if isinstance(error, VerificationError):
        return str(error)
    if isinstance(error, SigstoreError | OSError):
        return f"{type(error).__name__}: {error}"
    return repr(error)


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr)
