"""RFC 6962 / RFC 9162 Merkle trees over SHA-256.

Owns: the leaf and node hashes, verification of inclusion and consistency
proofs from primitives (sizes, indices, hashes), and :class:`MerkleTree`, an
append-only in-memory tree that produces those proofs (for LocalSigstore's
logs and for tests).

Does not own: where proofs come from (Rekor v1 or v2 responses, bundles), which
checkpoint signed a root hash (see ``checkpoint``), or how a log entry body is
rebuilt. Nothing here does I/O or reads a clock.

Every rejection raises :class:`~sigstore_async.errors.TransparencyLogError`.
Arguments of the wrong *type* (a ``str`` index) are misuse and raise
``TypeError``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from sigstore_async.errors import TransparencyLogError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

#: Size in bytes of every hash in the tree (SHA-256).
HASH_SIZE = 32

#: Root hash of the empty tree: the hash of the empty string (RFC 9162 2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf: ``SHA-256(0x00 || data)`` (RFC 9162 2.1.1)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: ``SHA-256(0x01 || left || right)`` (RFC 9162 2.1.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


# --- argument checks ---------------------------------------------------------------------------


def _check_int(value: object, what: str) -> int:
    # bool is an int subclass; a True index is a bug in the caller, not evidence.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise TransparencyLogError(f"{what} is negative ({value})")
    return value


def _check_hash(value: object, what: str) -> bytes:
    if type(value) is bytes and len(value) == HASH_SIZE:
        return value  # the common case, without the copy below
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != HASH_SIZE:
        raise TransparencyLogError(f"{what} is {len(raw)} bytes long, expected {HASH_SIZE}")
    return raw


def _check_proof(proof: Sequence[bytes]) -> list[bytes]:
    untyped: object = proof  # callers without a type checker can pass anything
    if isinstance(untyped, bytes | bytearray | str):
        # A single hash passed where a list was meant would iterate as ints.
        raise TypeError("proof must be a sequence of hashes, not a single value")
    if all(type(h) is bytes and len(h) == HASH_SIZE for h in proof):
        return list(proof)
    return [_check_hash(h, f"proof hash {i}") for i, h in enumerate(proof)]


def _hashes_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


# --- proof shapes ------------------------------------------------------------------------------
#
# Both verification algorithms of RFC 9162 walk two counters, fn and sn, up the tree and consume
# one proof hash per step until sn reaches 0. Running the same walk without hashing gives the
# exact proof length up front, so a wrong length is reported as such instead of as a root
# mismatch.


def _skip_border_levels(fn: int, sn: int) -> tuple[int, int]:
    # RFC 9162 2.1.3.2 step 4.b.ii / 2.1.4.2 step 6.b.ii: on the right border of the tree a
    # node has no sibling on some levels; shift until LSB(fn) is set or fn is 0.
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def _walk_length(fn: int, sn: int) -> int:
    steps = 0
    while sn:
        if fn == sn and not fn & 1:
            fn, sn = _skip_border_levels(fn, sn)
        fn >>= 1
        sn >>= 1
        steps += 1
    return steps


def _inclusion_shape(index: int, tree_size: int) -> tuple[int, int]:
    """The inclusion proof of ``index`` in a tree of ``tree_size`` as two runs:
    ``inner`` hashes below the level where the paths to the leaf and to the last
    leaf meet (one per bit of ``index ^ (tree_size - 1)``), then ``border``
    hashes along the tree's right border, one per set bit of ``index`` above
    that level. The same walk as RFC 9162 2.1.3.2, counted without a loop; a
    test checks it against ``_walk_length`` for every small tree.
    """
    inner = (index ^ (tree_size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _consistency_start(old_size: int, new_size: int) -> tuple[int, int]:
    # RFC 9162 2.1.4.2 steps 3 and 4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    # The walk consumes every hash after the first one; the first hash is the old root itself
    # when old_size is a power of two (RFC 9162 2.1.4.2 step 2), and is in the proof otherwise.
    fn, sn = _consistency_start(old_size, new_size)
    length = 1 + _walk_length(fn, sn)
    return length - 1 if _is_power_of_two(old_size) else length


# --- verification ------------------------------------------------------------------------------


def root_from_inclusion_proof(
    *, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Compute the root hash that an inclusion proof leads to (RFC 9162 2.1.3.2).

    ``leaf_hash`` is the already-hashed leaf (see :func:`leaf_hash`), ``proof``
    the audit path from the leaf upwards.

    Raises:
        TransparencyLogError: ``index`` or ``tree_size`` is negative, ``index``
            is not below ``tree_size``, a hash is not 32 bytes long, or the
            proof does not have the length that the index and size imply.
        TypeError: an argument has the wrong type.
    """
    index = _check_int(index, "leaf index")
    tree_size = _check_int(tree_size, "tree size")
    r = _check_hash(leaf_hash, "leaf hash")
    path = _check_proof(proof)
    # RFC 9162 2.1.3.2 step 1
    if index >= tree_size:
        raise TransparencyLogError(f"leaf index {index} is not below the tree size {tree_size}")
    inner, border = _inclusion_shape(index, tree_size)
    if len(path) != inner + border:
        raise TransparencyLogError(
            f"inclusion proof has {len(path)} hashes, expected {inner + border} "
            f"for leaf {index} of a tree of size {tree_size}"
        )
    # Steps 2 to 4, in the two runs of _inclusion_shape (the length check above
    # makes them consume the whole proof): below the meeting level the leaf's
    # path takes the sibling on the side its index bit says; on the right
    # border every sibling is on the left. node_hash is inlined: this loop runs
    # once per level of every proof a batch checks.
    sha256, prefix = hashlib.sha256, _NODE_PREFIX
    for level in range(inner):
        if index >> level & 1:
            r = sha256(prefix + path[level] + r).digest()
        else:
            r = sha256(prefix + r + path[level]).digest()
    for p in path[inner:]:
        r = sha256(prefix + p + r).digest()
    return r


def verify_inclusion(
    *,
    leaf_hash: bytes,
    index: int,
    tree_size: int,
    proof: Sequence[bytes],
    root_hash: bytes,
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of size
    ``tree_size`` whose root is ``root_hash`` (RFC 9162 2.1.3.2).

    The proof binds the tree size only through its shape; callers must take
    ``tree_size`` and ``root_hash`` from the same signed checkpoint.

    Raises:
        TransparencyLogError: the proof is malformed (see
            :func:`root_from_inclusion_proof`) or leads to a different root.
        TypeError: an argument has the wrong type.
    """
    expected_root = _check_hash(root_hash, "root hash")
    computed = root_from_inclusion_proof(
        leaf_hash=leaf_hash, index=index, tree_size=tree_size, proof=proof
    )
    if not _hashes_equal(computed, expected_root):
        raise TransparencyLogError(
            f"inclusion proof for leaf {index} leads to root {computed.hex()}, "
            f"not to the expected root {expected_root.hex()}"
        )


def verify_consistency(
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree of size ``new_size`` with root ``new_root`` extends
    the tree of size ``old_size`` with root ``old_root`` (RFC 9162 2.1.4.2).

    Two trees of the same size are consistent when the proof is empty and the
    roots are equal (RFC 9162 2.1.4.1: the proof for m = n is empty). Every tree
    extends the empty one; then the proof must be empty and ``old_root`` must
    be the empty root, ``SHA-256("")``.

    Raises:
        TransparencyLogError: a size is negative, ``old_size > new_size``, a
            hash is not 32 bytes long, the proof has the wrong length, or it
            does not reproduce both roots.
        TypeError: an argument has the wrong type.
    """
    old_size = _check_int(old_size, "old tree size")
    new_size = _check_int(new_size, "new tree size")
    old = _check_hash(old_root, "old root hash")
    new = _check_hash(new_root, "new root hash")
    path = _check_proof(proof)
    if old_size > new_size:
        raise TransparencyLogError(
            f"old tree size {old_size} is larger than the new tree size {new_size}"
        )
    if old_size == new_size or old_size == 0:
        if path:
            raise TransparencyLogError(
                f"consistency proof from size {old_size} to {new_size} must be empty, "
                f"has {len(path)} hashes"
            )
        expected_old = new if old_size == new_size else EMPTY_ROOT
        if not _hashes_equal(old, expected_old):
            raise TransparencyLogError(
                f"old root {old.hex()} of size {old_size} is not the expected {expected_old.hex()}"
            )
        return

    expected = _consistency_proof_length(old_size, new_size)
    if len(path) != expected:
        raise TransparencyLogError(
            f"consistency proof has {len(path)} hashes, expected {expected} "
            f"from size {old_size} to {new_size}"
        )
    # RFC 9162 2.1.4.2 step 2
    if _is_power_of_two(old_size):
        path.insert(0, old)
    # Steps 3 to 6; the length check stands in for step 6.a and the sn == 0 part of step 7.
    fn, sn = _consistency_start(old_size, new_size)
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                fn, sn = _skip_border_levels(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    assert sn == 0
    # Step 7; both comparisons always run so that timing does not tell which root failed.
    old_ok = _hashes_equal(fr, old)
    new_ok = _hashes_equal(sr, new)
    if not (old_ok and new_ok):
        raise TransparencyLogError(
            f"consistency proof from size {old_size} to {new_size} does not match the "
            f"{'old' if not old_ok else 'new'} root"
        )


# --- the tree ----------------------------------------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only RFC 9162 Merkle tree held in memory.

    Every complete, aligned subtree hash is kept: ``_levels[h][i]`` is the hash
    of leaves ``[i * 2**h, (i + 1) * 2**h)``. Appending costs amortised O(1)
    hashes, memory is about two hashes per leaf, and roots and proofs for any
    past size cost O(log n) hashes, because every subtree that RFC 9162's
    recursive definitions visit is either one of those cached, aligned
    subtrees or lies on the right border of the tree (of which a proof needs
    at most two).

    Not thread-safe; wrap it in a lock if several tasks append concurrently.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    def __repr__(self) -> str:
        return f"MerkleTree(size={self.size})"

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def append(self, leaf_data: bytes) -> int:
        """Append a leaf given its data (hashed with :func:`leaf_hash`); return its index."""
        return self.append_leaf_hash(leaf_hash(leaf_data))

    def append_leaf_hash(self, h: bytes) -> int:
        """Append an already-hashed leaf; return its index.

        Raises:
            TransparencyLogError: ``h`` is not 32 bytes long.
        """
        raw = _check_hash(h, "leaf hash")
        index = self.size
        self._levels[0].append(raw)
        level = 0
        # A level of even length has just completed a pair: its parent is now complete too.
        while len(self._levels[level]) % 2 == 0:
            nodes = self._levels[level]
            parent = node_hash(nodes[-2], nodes[-1])
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(parent)
            level += 1
        return index

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (default: all of them).

        Raises:
            TransparencyLogError: ``size`` is negative or larger than the tree.
        """
        size = self._size_arg(size, "tree size")
        if size == 0:
            return EMPTY_ROOT
        return self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of the first ``size``
        leaves (RFC 9162 2.1.3.1), from the leaf upwards.

        Raises:
            TransparencyLogError: ``index`` is not below ``size``, or ``size``
                is negative or larger than the tree.
        """
        size = self._size_arg(size, "tree size")
        index = _check_int(index, "leaf index")
        if index >= size:
            raise TransparencyLogError(f"leaf index {index} is not below the tree size {size}")
        # PATH(m, D[n]) unrolled from the root down; the siblings come out root-first.
        siblings: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                siblings.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                siblings.append(self._subtree(lo, lo + k))
                lo += k
        siblings.reverse()
        return siblings

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The proof that the tree of ``new_size`` leaves (default: all) extends
        the tree of ``old_size`` leaves (RFC 9162 2.1.4.1). It is empty when the
        sizes are equal or ``old_size`` is 0.

        Raises:
            TransparencyLogError: a size is negative, ``old_size > new_size``,
                or ``new_size`` is larger than the tree.
        """
        new_size = self._size_arg(new_size, "new tree size")
        m = _check_int(old_size, "old tree size")
        if m > new_size:
            raise TransparencyLogError(
                f"old tree size {m} is larger than the new tree size {new_size}"
            )
        if m in (0, new_size):
            return []
        # SUBPROOF(m, D[n], b) unrolled from the root down; the hashes come out root-first.
        hashes: list[bytes] = []
        lo, hi, complete = 0, new_size, True
        while hi - lo != m:
            k = _split(hi - lo)
            if m <= k:
                hashes.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                hashes.append(self._subtree(lo, lo + k))
                lo += k
                m -= k
                complete = False
        if not complete:
            hashes.append(self._subtree(lo, hi))
        hashes.reverse()
        return hashes

    def _size_arg(self, size: int | None, what: str) -> int:
        if size is None:
            return self.size
        size = _check_int(size, what)
        if size > self.size:
            raise TransparencyLogError(f"{what} {size} is larger than the tree ({self.size})")
        return size

    def _subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range that RFC 9162's recursion can visit.

        Such ranges start at a multiple of the largest power of two not above
        their length, so their left part is always a cached aligned subtree and
        only the right border needs hashing.
        """
        n = hi - lo
        if n & (n - 1) == 0:
            level = n.bit_length() - 1
            return self._levels[level][lo >> level]
        k = _split(n)
        return node_hash(self._subtree(lo, lo + k), self._subtree(lo + k, hi))
