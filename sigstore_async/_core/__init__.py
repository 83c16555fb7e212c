"""The sans-I/O cryptographic core.

Pure functions over bytes: Merkle proofs, signed-note checkpoints, signed entry
timestamps, SCTs, X.509 chains, RFC 3161 tokens, DSSE, canonical JSON and key
handling. Nothing here performs I/O, reads the clock, or imports httpx or
anyio; time-dependent checks take the time as an argument.
"""

import importlib
from collections.abc import Callable
from importlib.machinery import EXTENSION_SUFFIXES
from typing import Any, TypeAlias, TypeVar

#: What ``json.loads`` raises for input that is not JSON: ValueError (with
#: UnicodeDecodeError), and RecursionError for nesting deeper than the
#: interpreter's stack. Every reader of untrusted JSON catches all of it.
JSON_ERRORS = (ValueError, RecursionError)

_T = TypeVar("_T")
#: A memo of pure checks: ``memo(key, compute)`` returns the result remembered
#: for ``key``, or ``compute()``. The key holds every input of the check.
Memo: TypeAlias = Callable[[tuple[Any, ...], Callable[[], _T]], _T]

#: ``by_identity``'s memo: id of an object -> (the object, its value).
IdentityTable: TypeAlias = dict[int, tuple[Any, Any]]
_O = TypeVar("_O")
_MAX_BY_IDENTITY = 64


def by_identity(table: IdentityTable, obj: _O, compute: Callable[[_O], _T]) -> _T:
    """``compute(obj)``, remembered for this very object.

    For trust-root objects (CA certificates and chains), which a verifier
    passes again and again: memos keyed by value would hash them (a
    certificate hashes its DER, about 4 us). An entry holds its object, so
    its id cannot be reused while it lives; a full table starts over.
    """
    entry = table.get(id(obj))
    if entry is not None and entry[0] is obj:
        found: _T = entry[1]
        return found
    value = compute(obj)
    if len(table) >= _MAX_BY_IDENTITY:
        table.clear()
    table[id(obj)] = (obj, value)
    return value


#: The modules that a compiled build (mypyc; see pyproject.toml) ships as
#: extension modules: the hot parsers of verification.
COMPILABLE = (
    "sigstore_async._core.der",
    "sigstore_async._core.x509",
    "sigstore_async._core.sct",
    "sigstore_async._core.keys",
    "sigstore_async._core.checkpoint",
    "sigstore_async._core.rfc3161",
    "sigstore_async.verify._bodies",
    "sigstore_async.models._direct",
)


def compiled_modules() -> tuple[str, ...]:
    """Which of :data:`COMPILABLE` this installation runs compiled (empty for
    a pure-Python install)."""
    return tuple(
        name
        for name in COMPILABLE
        if str(getattr(importlib.import_module(name), "__file__", "")).endswith(
            tuple(EXTENSION_SUFFIXES)
        )
    )
