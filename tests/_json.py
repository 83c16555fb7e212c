"""JSON documents for property tests: any JSON value, and every place in a document."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(
    integers: st.SearchStrategy[int] | None = None,
    *,
    text: int = 8,
    width: int = 3,
    max_leaves: int = 10,
) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars (``integers`` for the numbers, strings up to
    ``text`` characters) nested in lists and objects of up to ``width`` items."""
    scalars = (
        st.none()
        | st.booleans()
        | (integers if integers is not None else st.integers())
        | st.floats(allow_nan=False)
        | st.text(max_size=text)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=width)
            | st.dictionaries(st.text(max_size=text), children, max_size=width)
        ),
        max_leaves=max_leaves,
    )


def inner_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path (keys and indexes) of every value inside ``doc``, the root excluded."""
    out: list[tuple[Any, ...]] = []
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        path = (*prefix, key)
        out.append(path)
        out += inner_paths(value, path)
    return out
