"""The sans-I/O cryptographic core.

Pure functions over bytes: Merkle proofs, signed-note checkpoints, signed entry
timestamps, SCTs, X.509 chains, RFC 3161 tokens, DSSE, canonical JSON and key
handling. Nothing here performs I/O, reads the clock, or imports httpx or
anyio; time-dependent checks take the time as an argument.
"""

from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

_T = TypeVar("_T")
#: A memo of pure checks: ``memo(key, compute)`` returns the result remembered
#: for ``key``, or ``compute()``. The key holds every input of the check.
Memo: TypeAlias = Callable[[tuple[Any, ...], Callable[[], _T]], _T]
