"""A proposal only the model found shows evidence computed from the pair's own records: the
name similarity and the days between dates agree with the match weights beside them, on the
batch path (``engine.resolve``) and the online one (``single.resolve_one``) alike.

Identical full names without a shared phone, document, plate or car: no rule blocks such a
pair (a name alone never blocks for the rules), the model's full-name block does. Before, the
evidence of such a pair said "name similarity 0.00" and "days —" while the weights said the
names were exact and the dates close (issue 19).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pyarrow as pa
import pytest
from tests.matching.test_model import world  # noqa: F401 - the trained model, as a fixture

from leadlink.matching import RULES, Bands, canonical_from_rows, prepare, resolve
from leadlink.matching.compiled import CompiledModel
from leadlink.matching.index import BlockIndex
from leadlink.matching.single import blocked, resolve_one

QUERY_RID = 900_000


def _namesake(reg: pa.Table) -> dict[str, Any]:
    """A driver whose full name (given name, both family names) no other driver has."""
    rows = reg.to_pylist()
    full = Counter((r["given"], tuple(r["family"])) for r in rows)
    for r in rows:
        if (r["given"] and len(r["family"]) == 2 and r["date"] is not None
                and full[(r["given"], tuple(r["family"]))] == 1):  # fmt: skip
            return r
    raise AssertionError("the generated registry has a driver with a unique full name")


# (case, what the lead's given names are, its date's offset from the driver's, expected
# name similarity, expected days = driver's date - lead's date)
CASES = [
    ("same name, same day", None, 0, 1.0, 0),
    ("same name, 5 days before the driver", None, -5, 1.0, 5),
    ("same name, 20 days after", None, 20, 1.0, -20),
    ("same name, no date", None, None, 1.0, None),
    ("a second given name the driver lacks", "MIGUEL", -3, 1.0, 3),
]


@pytest.mark.parametrize(("case", "middle", "offset", "name_sim", "days"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_a_model_only_pair_shows_the_evidence_of_its_records(
    world: dict[str, Any],  # noqa: F811
    case: str, middle: str | None, offset: int | None, name_sim: float, days: int | None,
) -> None:  # fmt: skip
    reg, settings = world["reg"], world["model"].settings
    driver = _namesake(reg)
    given = " ".join(driver["tokens"][: len(driver["tokens"]) - 2])
    lead = {
        "rid": QUERY_RID,
        "first_name": given,
        "middle_name": middle,
        "last_name": " ".join(driver["family"]),
        "date": None if offset is None else driver["date"] + dt.timedelta(days=offset),
    }
    query = prepare(canonical_from_rows([lead]))
    (q,) = query.to_pylist()
    assert not blocked(q, driver), "no rule blocks the pair: only the model finds it"
    compiled = CompiledModel(settings, reg)
    batch = resolve(query, reg, Bands(), RULES, settings,
                    lambda a, b: compiled.score(a, b)).to_pylist()[0]  # fmt: skip
    candidates, frame = BlockIndex(reg).candidates(query)
    online = resolve_one(query, candidates, Bands(), RULES, settings,
                         lambda a, b: compiled.score(a, b, frame))  # fmt: skip
    for decided in (batch, online):
        assert (decided["rule"], decided["cid"]) == ("model", driver["rid"]), case
        evidence = json.loads(decided["evidence"])
        fields, waterfall = evidence["fields"], evidence["waterfall"]
        assert fields["name_sim"] == name_sim and fields["days"] == days, (case, fields)
        assert not any(fields[k] for k in ("phone_eq", "id_eq", "plate_eq", "brand_model_eq"))
        # The weights beside it say the same: the names exact, the date within its window.
        assert {waterfall[n]["level"] for n in ("given", "family1", "family2")} == {3}
        date_level = waterfall["date"]["level"]
        if days is None:
            assert date_level == -1
        else:
            assert date_level == (4 if days == 0 else 3 if abs(days) <= 7 else 2)
    assert json.loads(batch["evidence"]) == json.loads(online["evidence"])
