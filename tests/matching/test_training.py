"""Training: an EM session whose m underflows is retried with fewer iterations, not lost.

At 1 M leads Splink's EM drove the m of a level no true pair shows (a plate one edit apart) to
2.8e-313 by iteration 25 and raised. Reproducing that takes the 1 M data set (the size sweep
does, benchmarks/RESULTS.md); here a real Linker's EM refuses runs longer than it can bear, the
way Splink refuses the underflowing value, and the session must still train.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI
from splink.internals import comparison_level
from tests.matching.factories import D0, driver, lead

from leadlink.matching import canonical_from_rows, prepare, training
from leadlink.matching import model as probabilistic


def _linker() -> Linker:
    """A real Splink linker over 120 leads and drivers, u estimated, ready for EM."""
    names = ["Ana", "Juan", "Rosa", "Luis", "Elsa", "Pedro", "Carmen", "Jose"]
    family = ["Quispe", "Mamani", "Flores", "Huaman", "Chavez", "Rojas"]
    leads, drivers = [], []
    for i in range(120):
        person = {"first_name": names[i % 8], "brand_model": "Kia Rio" if i % 2 else "Toyota Yaris",
                  "last_name": f"{family[i % 6]} {family[(i + 1) % 6]}", "date": D0}  # fmt: skip
        drivers.append(driver(i, f"P{i}", **person, phone=f"9{i:08d}", plate=f"ABC{i:03d}"))
        # A third of the leads carry another phone, and a fifth are a relative sharing the
        # phone: EM has levels to estimate and non-matching pairs to tell apart.
        relative = {"first_name": names[(i + 3) % 8]} if i % 5 == 0 else {}
        when = {"date": D0 + dt.timedelta(days=(i * 7) % 200)}
        leads.append(lead(1000 + i, **{**person, **relative, **when},
                          phone=f"9{i:08d}" if i % 3 else f"8{i:08d}"))  # fmt: skip
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
    """Splink's own EM, made to underflow in sessions longer than ``bearable`` iterations.

    Refused sessions fail inside Splink's maximisation step, on its own m check, after Splink
    has half-prepared the linker's model for the session (as the 1 M run did): the check's floor
    for m is raised to 0.5, and m sums to 1 over at least two levels of every comparison.
    """

    def __init__(self, linker: Linker, bearable: int, monkeypatch: pytest.MonkeyPatch) -> None:
        self.linker, self.bearable = linker, bearable
        self.real = linker.training.estimate_parameters_using_expectation_maximisation
        self.tried: list[int] = []
        self.refusing = False
        check = comparison_level._validate_m_u_probability

        def strict(value: Any, name: str, not_observed: str) -> None:
            if self.refusing and name == "m_probability" and isinstance(value, float):
                check(value * 1e-300 if value < 0.5 else value, name, not_observed)
            else:
                check(value, name, not_observed)

        monkeypatch.setattr(comparison_level, "_validate_m_u_probability", strict)

    def __call__(self, rule: Any, **kwargs: Any) -> Any:
        allowed = self.linker._settings_obj.training_settings.max_iterations
        self.tried.append(allowed)
        self.refusing = allowed > self.bearable
        try:
            return self.real(rule, **kwargs)
        finally:
            self.refusing = False


def _model(linker: Linker) -> dict[str, Any]:
    return linker.misc.save_model_to_json()  # type: ignore[no-any-return]


def _m_values(model: dict[str, Any]) -> list[Any]:
    return [lv.get("m_probability") for c in model["comparisons"]
            for lv in c["comparison_levels"] if not lv.get("is_null_level")]  # fmt: skip


def _refusing(bearable: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Linker, Refusing]:
    """A fresh linker whose EM refuses sessions longer than ``bearable`` iterations."""
    linker = _linker()
    refusing = Refusing(linker, bearable=bearable, monkeypatch=monkeypatch)
    linker.training.estimate_parameters_using_expectation_maximisation = refusing  # type: ignore[method-assign]
    return linker, refusing


def test_a_session_that_underflows_is_retried_with_half_the_iterations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    linker, refusing = _refusing(7, monkeypatch)
    before = _model(linker)
    allowed = training.em_session(linker, block_on("phone"))
    assert refusing.tried == [25, 12, 6] and allowed == 6
    after = _model(linker)
    # Trained (m moved from Splink's defaults), nothing of the failed sessions left behind:
    # every comparison is still there, the prior is untouched (EM does not set it), and the
    # stored iteration limit is put back.
    assert _m_values(after) != _m_values(before)
    names = [c["output_column_name"] for c in after["comparisons"]]
    assert names == [c["output_column_name"] for c in before["comparisons"]] and "phone" in names
    prior = "probability_two_random_records_match"
    assert after[prior] == before[prior]
    assert after["max_iterations"] == 25


def test_a_session_that_never_underflows_runs_once_with_every_iteration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    linker, refusing = _refusing(25, monkeypatch)
    assert training.em_session(linker, block_on("phone")) == 25
    assert refusing.tried == [25]


def test_an_underflow_even_at_one_iteration_is_raised_with_the_model_put_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    linker, refusing = _refusing(0, monkeypatch)
    before = _model(linker)
    with pytest.raises(ValueError, match="below the minimum allowed"):
        training.em_session(linker, block_on("phone"))
    assert refusing.tried == [25, 12, 6, 3, 1]
    assert _model(linker) == before


def test_another_error_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    linker = _linker()
    calls: list[int] = []

    def failing(rule: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise ValueError("something else went wrong")

    linker.training.estimate_parameters_using_expectation_maximisation = failing  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="something else"):
        training.em_session(linker, block_on("phone"))
    assert calls == [1] and _model(linker)["max_iterations"] == 25


@pytest.mark.parametrize(
    ("present", "blocks"),
    [
        ({"phone", "plate", "given", "family1"}, [("phone",), ("phone7",), ("plate",)]),
        ({"doc", "email", "given", "family1"}, [("doc",), ("email",)]),
        # No strong key at all: the first five blocks the data has, names included.
        ({"given", "family1", "family2", "birth_date"},
         [("family1", "given"), ("family1", "family2"), ("given", "family2"),
          ("birth_date", "family1"), ("birth_date", "given")]),
    ],
    ids=["phone-and-plate", "document-and-email", "names-only"],
)  # fmt: skip
def test_the_prior_counts_strong_keys_not_namesakes(
    present: set[str], blocks: list[tuple[str, ...]]
) -> None:
    assert training.prior_blocks(present) == blocks
