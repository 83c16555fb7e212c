"""Tests for ``sigstore_async._core.merkle`` (RFC 6962 / RFC 9162 Merkle trees)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigstore_async._core import merkle
from sigstore_async._core.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from sigstore_async.errors import TransparencyLogError

from .conftest import Conformance

# --- an independent reference: RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1 written as recursions ------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return node_hash(ref_mth(leaves[:k]), ref_mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], complete), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def build(leaf_data: Sequence[bytes]) -> tuple[MerkleTree, list[bytes]]:
    tree = MerkleTree()
    for i, data in enumerate(leaf_data):
        assert tree.append(data) == i
    return tree, [leaf_hash(d) for d in leaf_data]


def flip(h: bytes, position: int) -> bytes:
    """``h`` with one bit of one byte changed."""
    i = position % len(h)
    return h[:i] + bytes([h[i] ^ (1 << (position % 8))]) + h[i + 1 :]


# --- known answers -----------------------------------------------------------------------------


def test_hash_prefixes_separate_leaves_from_nodes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )
    # RFC 6962 2.1: the empty leaf hashes to SHA-256(0x00).
    assert (
        leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_empty_tree() -> None:
    tree = MerkleTree()
    assert tree.size == 0
    assert tree.root() == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert tree.consistency_proof(0) == []
    with pytest.raises(TransparencyLogError):
        tree.inclusion_proof(0)


# The eight leaves and roots of the RFC 6962 test data that Certificate Transparency
# implementations share.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("size", range(1, 9))
def test_rfc6962_known_roots(size: int) -> None:
    tree, hashes = build(CT_LEAVES)
    assert tree.root(size).hex() == CT_ROOTS[size - 1]
    assert ref_mth(hashes[:size]).hex() == CT_ROOTS[size - 1]


def test_known_shapes() -> None:
    # Worked by hand from RFC 9162 2.1.3.1 for a tree of 7 leaves a..g:
    # leaf 6 (g) has no sibling on the lowest level, so its path is [H(e,f), H(a,b,c,d)].
    tree, h = build(CT_LEAVES[:7])
    assert tree.inclusion_proof(6) == [node_hash(h[4], h[5]), ref_mth(h[:4])]
    # leaf 0: [b, H(c,d), H(H(e,f),g)]
    assert tree.inclusion_proof(0) == [
        h[1],
        node_hash(h[2], h[3]),
        node_hash(node_hash(h[4], h[5]), h[6]),
    ]
    # RFC 9162 2.1.4.1's examples (tree of 7 leaves): PROOF(3) = [c, d, g, l] ...
    c, d = h[2], h[3]
    g = node_hash(h[0], h[1])
    l_ = node_hash(node_hash(h[4], h[5]), h[6])
    assert tree.consistency_proof(3, 7) == [c, d, g, l_]
    # ... PROOF(4) = [l] and PROOF(6) = [i, j, k] with i = H(e,f), j = g (leaf 6), k = H(a..d).
    assert tree.consistency_proof(4, 7) == [l_]
    assert tree.consistency_proof(6, 7) == [node_hash(h[4], h[5]), h[6], ref_mth(h[:4])]


# --- the tree against the reference, exhaustively for small sizes ------------------------------


def test_tree_matches_reference_and_verifies_exhaustively() -> None:
    data = [i.to_bytes(2, "big") for i in range(33)]
    tree, hashes = build(data)
    for n in range(0, 34):
        root = tree.root(n)
        assert root == ref_mth(hashes[:n])
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert proof == ref_path(i, hashes[:n])
            verify_inclusion(leaf_hash=hashes[i], index=i, tree_size=n, proof=proof, root_hash=root)
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            expected = [] if m in (0, n) else ref_subproof(m, hashes[:n], True)
            assert proof == expected
            verify_consistency(
                old_size=m, new_size=n, old_root=tree.root(m), new_root=root, proof=proof
            )


def test_inclusion_shape_counts_the_rfc_walk() -> None:
    # The closed form that root_from_inclusion_proof uses against the step-by-step walk
    # of RFC 9162 2.1.3.2, for every leaf of every tree up to 600 leaves and for
    # Rekor-sized trees around powers of two.
    def walked(index: int, size: int) -> int:
        return merkle._walk_length(index, size - 1)

    pairs = [(i, n) for n in range(1, 601) for i in range(n)]
    for k in (31, 32, 40, 62):
        for n in (2**k - 1, 2**k, 2**k + 1, 2**k + 12345):
            pairs += [(0, n), (1, n), (n // 2, n), (n - 2, n), (n - 1, n), (2**k - 1, n)]
    for index, size in pairs:
        if index < size:
            inner, border = merkle._inclusion_shape(index, size)
            assert inner + border == walked(index, size), (index, size)


# --- properties --------------------------------------------------------------------------------

unique_leaves = st.lists(st.binary(max_size=8), min_size=1, max_size=150, unique=True)


@st.composite
def tree_with_leaf(draw: st.DrawFn) -> tuple[MerkleTree, list[bytes], int, int]:
    tree, hashes = build(draw(unique_leaves))
    size = draw(st.integers(1, tree.size))
    index = draw(st.integers(0, size - 1))
    return tree, hashes, index, size


@st.composite
def tree_with_sizes(draw: st.DrawFn) -> tuple[MerkleTree, int, int]:
    tree, _ = build(draw(unique_leaves))
    new = draw(st.integers(0, tree.size))
    old = draw(st.integers(0, new))
    return tree, old, new


@settings(max_examples=60, deadline=None)
@given(case=tree_with_leaf(), data=st.data())
def test_inclusion_proofs_verify_and_mutations_are_rejected(
    case: tuple[MerkleTree, list[bytes], int, int], data: st.DataObject
) -> None:
    tree, hashes, index, size = case
    proof = tree.inclusion_proof(index, size)
    root = tree.root(size)
    leaf = hashes[index]
    assert (
        root_from_inclusion_proof(leaf_hash=leaf, index=index, tree_size=size, proof=proof) == root
    )
    verify_inclusion(leaf_hash=leaf, index=index, tree_size=size, proof=proof, root_hash=root)

    def rejected(**changes: Any) -> None:
        args: dict[str, Any] = {
            "leaf_hash": leaf,
            "index": index,
            "tree_size": size,
            "proof": proof,
            "root_hash": root,
        }
        args.update(changes)
        with pytest.raises(TransparencyLogError):
            verify_inclusion(**args)

    position = data.draw(st.integers(0, 255), label="bit")
    rejected(leaf_hash=flip(leaf, position))
    rejected(root_hash=flip(root, position))
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1), label="proof hash")
        rejected(proof=[*proof[:which], flip(proof[which], position), *proof[which + 1 :]])
        rejected(proof=proof[:-1])
    rejected(proof=[*proof, leaf])
    other_index = data.draw(st.integers(0, tree.size).filter(lambda i: i != index), label="index")
    rejected(index=other_index)
    # Another size, with that size's real root: accepted exactly when the proof is also the
    # proof for that size (see test_proof_binds_the_size_only_through_its_shape).
    if tree.size > 1:
        other_size = data.draw(st.integers(1, tree.size).filter(lambda s: s != size), label="size")
        claim: dict[str, Any] = {"tree_size": other_size, "root_hash": tree.root(other_size)}
        if index < other_size and tree.inclusion_proof(index, other_size) == proof:
            verify_inclusion(leaf_hash=leaf, index=index, proof=proof, **claim)
        else:
            rejected(**claim)


@settings(max_examples=60, deadline=None)
@given(case=tree_with_sizes(), data=st.data())
def test_consistency_proofs_verify_and_mutations_are_rejected(
    case: tuple[MerkleTree, int, int], data: st.DataObject
) -> None:
    tree, old, new = case
    proof = tree.consistency_proof(old, new)
    old_root, new_root = tree.root(old), tree.root(new)
    verify_consistency(
        old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=proof
    )

    def rejected(**changes: Any) -> None:
        args: dict[str, Any] = {
            "old_size": old,
            "new_size": new,
            "old_root": old_root,
            "new_root": new_root,
            "proof": proof,
        }
        args.update(changes)
        with pytest.raises(TransparencyLogError):
            verify_consistency(**args)

    position = data.draw(st.integers(0, 255), label="bit")
    rejected(old_root=flip(old_root, position))
    if 0 < old < new:
        # Equal sizes only compare the two roots, and every tree extends the empty one.
        rejected(new_root=flip(new_root, position))
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1), label="proof hash")
        rejected(proof=[*proof[:which], flip(proof[which], position), *proof[which + 1 :]])
        rejected(proof=proof[:-1])
    rejected(proof=[*proof, old_root])
    # Other sizes, with those sizes' real roots: accepted exactly when the proof is also the
    # proof for that pair (empty proofs prove both m -> m and 0 -> m), rejected otherwise.
    other_old = data.draw(st.integers(0, tree.size).filter(lambda s: s != old), label="old size")
    other_new = data.draw(st.integers(0, tree.size).filter(lambda s: s != new), label="new size")
    for m, n in [(other_old, new), (old, other_new)]:
        claim: dict[str, Any] = {
            "old_size": m,
            "new_size": n,
            "old_root": tree.root(m),
            "new_root": tree.root(n),
        }
        if m <= n and tree.consistency_proof(m, n) == proof:
            verify_consistency(**claim, proof=proof)
        else:
            rejected(**claim)


@settings(max_examples=30, deadline=None)
@given(leaves=unique_leaves, cut=st.integers(0, 150))
def test_appending_never_changes_past_roots(leaves: list[bytes], cut: int) -> None:
    cut = min(cut, len(leaves))
    tree, _ = build(leaves[:cut])
    before = [tree.root(n) for n in range(cut + 1)]
    for data in leaves[cut:]:
        tree.append(data)
    assert [tree.root(n) for n in range(cut + 1)] == before


def test_proof_binds_the_size_only_through_its_shape() -> None:
    # Leaf 0's path has the same shape in trees of 5 to 8 leaves, so its proof in the tree of 5
    # leads to root(5) whichever of those sizes is claimed. That is why tree size and root hash
    # must come from one signed checkpoint; with the real root of the claimed size it fails.
    tree, hashes = build(CT_LEAVES)
    proof = tree.inclusion_proof(0, 5)
    for claimed in (6, 7, 8):
        verify_inclusion(
            leaf_hash=hashes[0], index=0, tree_size=claimed, proof=proof, root_hash=tree.root(5)
        )
        with pytest.raises(TransparencyLogError, match="leads to root"):
            verify_inclusion(
                leaf_hash=hashes[0],
                index=0,
                tree_size=claimed,
                proof=proof,
                root_hash=tree.root(claimed),
            )
    with pytest.raises(TransparencyLogError, match="expected 2"):
        verify_inclusion(
            leaf_hash=hashes[0], index=0, tree_size=4, proof=proof, root_hash=tree.root(5)
        )


# --- rejections --------------------------------------------------------------------------------

H = b"\x11" * 32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index": 1, "tree_size": 1, "proof": []}, "not below the tree size"),
        ({"index": 0, "tree_size": 0, "proof": []}, "not below the tree size"),
        ({"index": -1, "tree_size": 2, "proof": [H]}, "negative"),
        ({"index": 0, "tree_size": -2, "proof": [H]}, "negative"),
        ({"index": 0, "tree_size": 2, "proof": []}, "has 0 hashes, expected 1"),
        ({"index": 0, "tree_size": 1, "proof": [H]}, "has 1 hashes, expected 0"),
        ({"index": 5, "tree_size": 6, "proof": [H, H, H]}, "expected 2"),
        ({"index": 0, "tree_size": 2, "proof": [H[:31]]}, "proof hash 0 is 31 bytes"),
        ({"index": 0, "tree_size": 2, "proof": [H + b"\x00"]}, "33 bytes"),
        ({"leaf_hash": b"", "index": 0, "tree_size": 1, "proof": []}, "leaf hash is 0 bytes"),
    ],
)
def test_malformed_inclusion_proofs_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"leaf_hash": H, **kwargs}
    with pytest.raises(TransparencyLogError, match=message):
        root_from_inclusion_proof(**args)


def test_inclusion_root_of_wrong_length_is_rejected() -> None:
    with pytest.raises(TransparencyLogError, match="root hash is 20 bytes"):
        verify_inclusion(leaf_hash=H, index=0, tree_size=1, proof=[], root_hash=b"\x11" * 20)


def test_inclusion_of_a_single_leaf_tree() -> None:
    # Size 1: the leaf hash is the root, with an empty proof.
    verify_inclusion(leaf_hash=H, index=0, tree_size=1, proof=[], root_hash=H)
    with pytest.raises(TransparencyLogError, match="leads to root"):
        verify_inclusion(leaf_hash=H, index=0, tree_size=1, proof=[], root_hash=EMPTY_ROOT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"old_size": 3, "new_size": 2, "proof": []}, "larger than the new tree size"),
        ({"old_size": -1, "new_size": 2, "proof": []}, "negative"),
        ({"old_size": 2, "new_size": 2, "proof": [H]}, "must be empty"),
        (
            {"old_size": 2, "new_size": 2, "old_root": H, "new_root": EMPTY_ROOT, "proof": []},
            "old root",
        ),
        ({"old_size": 0, "new_size": 5, "proof": [H]}, "must be empty"),
        ({"old_size": 0, "new_size": 5, "old_root": H, "proof": []}, "old root"),
        ({"old_size": 3, "new_size": 5, "proof": []}, "has 0 hashes"),
        ({"old_size": 4, "new_size": 8, "proof": [H, H]}, "has 2 hashes, expected 1"),
        ({"old_size": 4, "new_size": 8, "proof": [H]}, "does not match the new root"),
        ({"old_size": 3, "new_size": 4, "proof": [H, H, H]}, "does not match the old root"),
        ({"old_size": 1, "new_size": 2, "proof": [b"short"]}, "5 bytes"),
        ({"old_size": 1, "new_size": 2, "old_root": b"", "proof": [H]}, "old root hash is 0 bytes"),
    ],
)
def test_malformed_consistency_proofs_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"old_root": EMPTY_ROOT, "new_root": H, **kwargs}
    with pytest.raises(TransparencyLogError, match=message):
        verify_consistency(**args)


def test_misuse_raises_type_error() -> None:
    with pytest.raises(TypeError):
        root_from_inclusion_proof(leaf_hash=H, index="0", tree_size=1, proof=[])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        root_from_inclusion_proof(leaf_hash=H, index=True, tree_size=2, proof=[H])
    with pytest.raises(TypeError, match="sequence of hashes"):
        root_from_inclusion_proof(leaf_hash=H, index=0, tree_size=2, proof=H)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_consistency(old_size=1, new_size=2, old_root="ab" * 16, new_root=H, proof=[H])  # type: ignore[arg-type]


def test_tree_rejects_bad_arguments() -> None:
    tree, _ = build([b"a", b"b", b"c"])
    with pytest.raises(TransparencyLogError, match="larger than the tree"):
        tree.root(4)
    with pytest.raises(TransparencyLogError, match="negative"):
        tree.root(-1)
    with pytest.raises(TransparencyLogError, match="not below the tree size"):
        tree.inclusion_proof(2, 2)
    with pytest.raises(TransparencyLogError, match="larger than the tree"):
        tree.inclusion_proof(0, 4)
    with pytest.raises(TransparencyLogError, match="larger than the new tree size"):
        tree.consistency_proof(3, 2)
    with pytest.raises(TransparencyLogError, match="larger than the tree"):
        tree.consistency_proof(1, 4)
    with pytest.raises(TransparencyLogError, match="31 bytes"):
        tree.append_leaf_hash(b"\x00" * 31)
    assert tree.size == 3
    assert tree.append_leaf_hash(H) == 3
    assert tree.inclusion_proof(3) == [leaf_hash(b"c"), node_hash(leaf_hash(b"a"), leaf_hash(b"b"))]


# --- scale -------------------------------------------------------------------------------------


def test_100k_leaves_proofs_cost_logarithmic_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = MerkleTree()
    for i in range(100_000):
        tree.append(i.to_bytes(4, "big"))
    assert tree.size == 100_000

    calls = 0
    real: Callable[[bytes, bytes], bytes] = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    # log2(100_000) < 17: a root, a proof or a consistency proof must not need more than a
    # few dozen hashes, whatever the sizes.
    for size, index, old in [
        (100_000, 0, 1),
        (100_000, 99_999, 65_537),
        (99_999, 54_321, 99_998),
        (77_777, 3, 12_345),
    ]:
        calls = 0
        root = tree.root(size)
        proof = tree.inclusion_proof(index, size)
        consistency = tree.consistency_proof(old, size)
        assert calls <= 3 * 17, (size, index, old, calls)
        verify_inclusion(
            leaf_hash=leaf_hash(index.to_bytes(4, "big")),
            index=index,
            tree_size=size,
            proof=proof,
            root_hash=root,
        )
        verify_consistency(
            old_size=old, new_size=size, old_root=tree.root(old), new_root=root, proof=consistency
        )


# --- real inclusion proofs ---------------------------------------------------------------------


@pytest.mark.vectors
@pytest.mark.parametrize("case", ["happy-path-v0.3", "rekor2-happy-path"])
def test_real_inclusion_proofs(conformance: Conformance, case: str) -> None:
    log = conformance.log_entry(case)
    proof_json = log.entry["inclusionProof"]
    leaf = leaf_hash(log.b64("canonicalizedBody"))
    index = int(proof_json["logIndex"])
    size = int(proof_json["treeSize"])
    proof = [base64.b64decode(h) for h in proof_json["hashes"]]
    root = log.b64("inclusionProof", "rootHash")
    verify_inclusion(leaf_hash=leaf, index=index, tree_size=size, proof=proof, root_hash=root)
    with pytest.raises(TransparencyLogError):
        verify_inclusion(
            leaf_hash=leaf, index=index + 1, tree_size=size, proof=proof, root_hash=root
        )
    with pytest.raises(TransparencyLogError):
        verify_inclusion(
            leaf_hash=flip(leaf, 0), index=index, tree_size=size, proof=proof, root_hash=root
        )
