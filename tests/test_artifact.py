"""Artifact values: digests of bytes in memory, digest strings, streamed files."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigstore_async.verify import Artifact
from sigstore_async.verify.artifact import ArtifactHasher

EXPECTED = {"SHA2_256": hashlib.sha256, "SHA2_384": hashlib.sha384, "SHA2_512": hashlib.sha512}


@given(st.binary(max_size=3000), st.permutations(list(EXPECTED)))
def test_digests_of_bytes_are_computed_when_asked_and_are_right(
    data: bytes, order: list[str]
) -> None:
    artifact = Artifact.from_bytes(data)
    for name in order:  # any order of first use
        assert artifact.digest(name) == EXPECTED[name](data).digest()
    assert dict(artifact.digests) == {name: new(data).digest() for name, new in EXPECTED.items()}


def test_lazy_digests_compute_only_what_is_asked() -> None:
    artifact = Artifact.from_bytes(b"x" * 100)
    assert artifact.digest("SHA2_256") == hashlib.sha256(b"x" * 100).digest()
    assert set(artifact.digests._done) == {"SHA2_256"}  # type: ignore[attr-defined]


def test_lazy_digests_behave_as_a_mapping() -> None:
    data = b"release artifact"
    lazy = Artifact.from_bytes(data)
    streamed = ArtifactHasher()
    streamed.update(data)
    eager = streamed.finish()
    assert lazy == eager  # the same digests and bytes, however computed
    assert len(lazy.digests) == 3
    assert list(lazy.digests) == list(EXPECTED)
    assert lazy.digest("SHA3_256") is None
    with pytest.raises(KeyError):
        lazy.digests["MD5"]
    assert "SHA2_512" in repr(lazy.digests)


def test_lazy_digests_survive_pickling_for_process_offload() -> None:
    import pickle

    artifact = Artifact.from_bytes(b"sent to a worker process")
    artifact.digest("SHA2_256")  # one computed, two not yet
    copy = pickle.loads(pickle.dumps(artifact))  # noqa: S301 - our own bytes
    assert copy == artifact
    assert copy.digest("SHA2_384") == hashlib.sha384(b"sent to a worker process").digest()
