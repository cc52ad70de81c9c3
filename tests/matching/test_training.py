"""Training: an EM session whose m underflows is retried with fewer iterations, not lost.

At 1 M leads Splink's EM drove the m of a level no true pair shows (a plate one edit apart) to
2.8e-313 by iteration 25 and raised. Reproducing that takes the 1 M data set (the size sweep
does, benchmarks/RESULTS.md); here a real Linker's EM refuses runs longer than it can bear, the
way Splink refuses the underflowing value, and the session must still train.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI
from tests.matching.factories import D0, driver, lead

from leadlink.matching import canonical_from_rows, prepare, training
from leadlink.matching import model as probabilistic

SPLINK_UNDERFLOW = (
    "m_probability value 2.81e-313 is below the minimum allowed value of 1e-300. Values this "
    "small cannot be represented accurately as float64 and will underflow to 0.0."
)


def _linker() -> Linker:
    """A real Splink linker over 120 leads and drivers, u estimated, ready for EM."""
    names = ["Ana", "Juan", "Rosa", "Luis", "Elsa", "Pedro", "Carmen", "Jose"]
    family = ["Quispe", "Mamani", "Flores", "Huaman", "Chavez", "Rojas"]
    leads, drivers = [], []
    for i in range(120):
        person = {"first_name": names[i % 8], "brand_model": "Kia Rio" if i % 2 else "Toyota Yaris",
                  "last_name": f"{family[i % 6]} {family[(i + 1) % 6]}", "date": D0}  # fmt: skip
        drivers.append(driver(i, f"P{i}", **person, phone=f"9{i:08d}", plate=f"ABC{i:03d}"))
        # A third of the leads carry another phone: EM has non-matching pairs to tell apart.
        leads.append(lead(1000 + i, **person, phone=f"9{i:08d}" if i % 3 else f"8{i:08d}"))
    lf = probabilistic.model_frame(prepare(canonical_from_rows(leads)))
    rf = probabilistic.model_frame(prepare(canonical_from_rows(drivers)))
    present = probabilistic.present_fields(lf, rf)
    db_api = DuckDBAPI(connection=duckdb.connect(":memory:"))
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=probabilistic.comparisons_for(present),
        blocking_rules_to_generate_predictions=probabilistic.blocks_for(present),
    )
    linker = Linker([db_api.register(lf, table_name="l"), db_api.register(rf, table_name="r")],
                    settings, log_level=None)  # fmt: skip
    linker.training.estimate_u_using_random_sampling(max_pairs=1e4, seed=1)
    return linker


class Refusing:
    """A real EM that raises Splink's underflow error for sessions longer than ``bearable``."""

    def __init__(self, linker: Linker, bearable: int, message: str = SPLINK_UNDERFLOW) -> None:
        self.linker, self.bearable, self.message = linker, bearable, message
        self.real = linker.training.estimate_parameters_using_expectation_maximisation
        self.tried: list[int] = []

    def __call__(self, rule: Any, **kwargs: Any) -> Any:
        allowed = self.linker._settings_obj.training_settings.max_iterations
        self.tried.append(allowed)
        if allowed > self.bearable:
            raise ValueError(self.message)
        return self.real(rule, **kwargs)


def _m_values(linker: Linker) -> list[Any]:
    model = linker.misc.save_model_to_json()
    return [lv.get("m_probability") for c in model["comparisons"]
            for lv in c["comparison_levels"] if not lv.get("is_null_level")]  # fmt: skip


def test_a_session_that_underflows_is_retried_with_half_the_iterations() -> None:
    linker = _linker()
    before = _m_values(linker)
    refusing = Refusing(linker, bearable=7)
    linker.training.estimate_parameters_using_expectation_maximisation = refusing  # type: ignore[method-assign]
    allowed = training.em_session(linker, block_on("phone"))
    assert refusing.tried == [25, 12, 6] and allowed == 6
    # Trained (m moved from Splink's defaults) and the stored iteration limit is put back.
    assert _m_values(linker) != before
    assert linker._settings_obj.training_settings.max_iterations == 25
    assert linker.misc.save_model_to_json()["max_iterations"] == 25


def test_a_session_that_never_underflows_runs_once_with_every_iteration() -> None:
    linker = _linker()
    refusing = Refusing(linker, bearable=25)
    linker.training.estimate_parameters_using_expectation_maximisation = refusing  # type: ignore[method-assign]
    assert training.em_session(linker, block_on("phone")) == 25
    assert refusing.tried == [25]


@pytest.mark.parametrize(
    ("bearable", "message"),
    [(0, SPLINK_UNDERFLOW), (25, "something else went wrong")],
    ids=["underflows-even-at-one-iteration", "another-error"],
)
def test_other_failures_are_not_hidden(bearable: int, message: str) -> None:
    linker = _linker()
    refusing = Refusing(linker, bearable=bearable, message=message)
    if bearable >= 25:  # fails whatever the iterations: not the underflow
        def always(rule: Any, **kwargs: Any) -> Any:
            raise ValueError(message)

        linker.training.estimate_parameters_using_expectation_maximisation = always  # type: ignore[method-assign]
    else:
        linker.training.estimate_parameters_using_expectation_maximisation = refusing  # type: ignore[method-assign]
    with pytest.raises(ValueError, match=message[:20]):
        training.em_session(linker, block_on("phone"))
    assert linker._settings_obj.training_settings.max_iterations == 25
