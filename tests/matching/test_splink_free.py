"""The store and the matching package never import Splink; our copy of Splink's default m
probabilities is Splink's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leadlink.matching.compiled import default_m_values


def test_importing_the_store_checks_and_the_core_leaves_splink_out() -> None:
    code = ("import sys, leadlink.store.checks, leadlink.matching, leadlink.matching.engine, "
            "leadlink.matching.single, leadlink.matching.compiled, leadlink.matching.index; "
            "print('splink' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("levels", range(2, 9))
def test_default_m_values_are_splinks(levels: int) -> None:
    from splink.internals.comparison_level import _default_m_values

    assert default_m_values(levels) == _default_m_values(levels)
