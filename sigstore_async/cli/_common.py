"""Pieces the CLI commands share: trust selection and error rendering."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..errors import SigstoreError, TrustError, VerificationError
from ..trust import TrustMaterial, embedded_trusted_root


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""


def load_trust(trusted_root: str | None, *, staging: bool, offline: bool) -> TrustMaterial:
    """The trust material the user selected.

    An explicit ``--trusted-root`` wins; otherwise the public-good root
    embedded in the package (production or ``--staging``).
    """
    if trusted_root is not None:
        try:
            data = Path(trusted_root).read_bytes()
        except OSError as e:
            raise TrustError(f"cannot read trusted root {trusted_root}: {e.strerror}") from e
        return TrustMaterial.from_json(data)
    del offline  # TUF refresh is not available yet: the embedded root is what we have.
    return TrustMaterial.from_trusted_root(
        embedded_trusted_root("staging" if staging else "production")
    )


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
