"""Reading an in-toto statement from a DSSE payload: any malformed payload is a
SignatureError, whatever JSON it holds."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigstore_async.errors import SignatureError
from sigstore_async.verify.core import Statement, parse_statement
from tests._json import json_values

V1 = "https://in-toto.io/Statement/v1"
GOOD: dict[str, Any] = {
    "_type": V1,
    "subject": [{"name": "a.txt", "digest": {"sha256": "ab" * 32}}],
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {"x": 1},
}


def test_a_statement_is_read() -> None:
    st_ = parse_statement(json.dumps(GOOD).encode())
    assert st_ == Statement(
        type=V1,
        subjects=(("a.txt", {"sha256": "ab" * 32}),),
        predicate_type="https://slsa.dev/provenance/v1",
        predicate={"x": 1},
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # Unhashable types once escaped as TypeError from the set lookup.
        ({"_type": [V1]}, "statement type"),
        ({"_type": {"v": V1}}, "statement type"),
        ({"_type": None}, "statement type"),
        ({"_type": "https://in-toto.io/Statement/v2"}, "statement type"),
        ({"subject": []}, "no subjects"),
        ({"subject": {"name": "a"}}, "no subjects"),
        ({"subject": [{"name": "a", "digest": []}]}, "malformed in-toto subject"),
        ({"subject": [{"name": 5, "digest": {}}]}, "malformed in-toto subject"),
        ({"subject": [{"digest": {"sha256": 5}}]}, "malformed in-toto subject"),
        ({"predicateType": ["x"]}, "predicateType"),
    ],
)
def test_malformed_statements_are_signature_errors(edit: dict[str, Any], message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        parse_statement(json.dumps({**GOOD, **edit}).encode())


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe", b"[1]", b'"x"', b"1e999", b"[" * 100_000])
def test_payloads_that_are_not_statements(payload: bytes) -> None:
    with pytest.raises(SignatureError):
        parse_statement(payload)


any_json = json_values(max_leaves=12)


@given(st.data())
def test_any_value_in_any_field_is_read_or_refused_typed(data: st.DataObject) -> None:
    doc = dict(GOOD)
    doc[data.draw(st.sampled_from(["_type", "subject", "predicateType", "predicate"]))] = data.draw(
        any_json
    )
    with contextlib.suppress(SignatureError):
        parse_statement(json.dumps(doc).encode())
