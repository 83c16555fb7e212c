"""The compiled build (mypyc) and the pure one: what runs is what was asked for."""

from __future__ import annotations

import os
import tomllib

from sigstore_async._core import COMPILABLE, compiled_modules
from tests.conftest import REPO


def test_compilable_modules_are_the_ones_the_build_compiles() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    hook = config["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    built = {p.removeprefix("/").removesuffix(".py").replace("/", ".") for p in hook["include"]}
    assert built == set(COMPILABLE)
    assert hook["enable-by-default"] is False  # editable installs stay pure Python


def test_the_build_under_test_is_the_one_expected() -> None:
    # .ci/run sets this for its second pass, over the compiled wheel's modules:
    # a silent fallback to the pure sources would test the wrong code.
    if os.environ.get("SIGSTORE_ASYNC_EXPECT_COMPILED") == "1":
        assert compiled_modules() == COMPILABLE
    else:
        assert compiled_modules() == ()
