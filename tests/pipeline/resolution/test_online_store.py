"""The online path reads its candidates from the store's key tables: no registry in memory.

Links written by anyone (a batch `match`, another server process) are seen by the next post
without a reload; a posted lead's keys are stored with it; a linked record without keys is
keyed when a matcher loads; a new model reloads the model and term frequencies only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.factories import NOW, driver, lead, load
from tests.review_factories import rows

from leadlink.pipeline.resolution.lead_post import LeadPoster
from leadlink.pipeline.resolution.model import train
from leadlink.pipeline.resolution.online import OnlineMatcher
from leadlink.pipeline.resolution.resolve import match, person_key_for
from leadlink.settings import Settings

RULES_ONLY = Settings(probabilistic=False)
ANA = {"first_name": "Ana Maria", "last_name": "Quispe Mamani", "phone": "987654321"}
ROSA = {"first_name": "Rosa Elena", "last_name": "Condori Apaza", "phone": "955111222"}
D1, D3 = person_key_for("drivers", "D1"), person_key_for("drivers", "D3")


def _person(row: dict[str, str]) -> dict[str, str]:
    return {k: row[k] for k in ("first_name", "last_name", "phone")}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, tmp_path, "drivers", [driver("D1", **ANA)])
    match(engine, RULES_ONLY, now=NOW)
    return engine


def _keys_of(engine: Engine, record_id: int) -> tuple[int, int]:
    (n_keys,) = rows(engine, "SELECT count(*) FROM record_key WHERE record_id = :r", r=record_id)
    (n_terms,) = rows(engine, "SELECT count(*) FROM record_term WHERE record_id = :r", r=record_id)
    return int(n_keys[0]), int(n_terms[0])


def test_two_posters_on_one_store_find_each_others_leads_and_agree(world: Engine) -> None:
    a, b = LeadPoster(world, RULES_ONLY), LeadPoster(world, RULES_ONLY)
    # L1 reaches Ana by phone and brings a plate her driver record does not have...
    first = a.post(lead("L1", **ANA, plate="ABC123"), actor="a", now=NOW).decision
    assert first["person_key"] == D1
    assert _keys_of(world, first["record_id"])[0] > 0  # stored in the post's transaction
    assert _keys_of(world, first["record_id"])[1] == 1
    # ... so L2 (plate and name, no phone) can only reach her through L1's keys: the other
    # poster finds them in the store.
    twin = lead("L2", first_name="Ana Maria", last_name="Quispe Mamani", plate="ABC123")
    second = b.post(twin, actor="b", now=NOW).decision
    assert (second["decision"], second["person_key"], second["rule"]) == (
        "link", D1, "plate_name")  # fmt: skip
    cids = {c["cid"] for c in second["candidates"]}
    assert first["record_id"] in cids
    # Both processes' matchers decide any lead the same way.
    probe = lead("L9", first_name="Ana Maria", last_name="Quispe Mamani", plate="ABC123")
    matchers = [OnlineMatcher(world, RULES_ONLY) for _ in range(2)]
    assert matchers[0].decide(probe) == matchers[1].decide(probe)
    assert a.loads == b.loads == 1


def test_a_batch_match_after_the_poster_loaded_is_seen_without_a_reload(
    world: Engine, tmp_path: Path
) -> None:
    poster = LeadPoster(world, RULES_ONLY)
    poster.post(lead("L1", **ANA), actor="a", now=NOW)
    assert poster.loads == 1
    load(world, tmp_path, "drivers", [driver("D3", **ROSA)])
    match(world, RULES_ONLY, now=NOW)  # links D3 behind the poster's back
    rosa = poster.post(lead("L3", **ROSA), actor="a", now=NOW).decision
    assert (rosa["decision"], rosa["person_key"]) == ("link", D3)
    assert poster.loads == 1  # nothing was reloaded


def test_a_linked_record_without_keys_is_keyed_when_the_matcher_loads(
    world: Engine, tmp_path: Path
) -> None:
    load(world, tmp_path, "drivers", [driver("D3", **ROSA)])
    match(world, RULES_ONLY, now=NOW)
    # D3's phone changes in a new file: ingest drops its keys, its link stays.
    load(world, tmp_path, "drivers", [driver("D3", **{**ROSA, "phone": "944333222"})])
    ((d3, active),) = rows(world, "SELECT s.id, l.active FROM source_record s JOIN link l ON "
                                  "l.record_id = s.id WHERE s.source_pk = 'D3'")  # fmt: skip
    assert active and _keys_of(world, d3) == (0, 0)
    new_phone = lead("L4", first_name="Rosa Elena", last_name="Condori Apaza", phone="944333222")
    # A matcher on its own cannot see D3: it has no keys to be found by.
    assert OnlineMatcher(world, RULES_ONLY).decide(new_phone)["person_key"] is None
    poster = LeadPoster(world, RULES_ONLY)
    got = poster.post(new_phone, actor="a", now=NOW).decision
    assert (got["decision"], got["person_key"], got["rule"]) == ("link", D3, "phone_exact")
    assert poster.keyed_at_load == 1
    assert _keys_of(world, d3)[0] > 0 and _keys_of(world, d3)[1] == 1


def test_a_new_model_reloads_the_model_and_term_frequencies_only(
    engine: Engine, tmp_path: Path
) -> None:
    people = [driver(f"D{i}", first_name=f"Nombre{i} Segundo", last_name=f"Apellido{i} Otro",
                     phone=f"9{i:08d}") for i in range(1, 41)]  # fmt: skip
    load(engine, tmp_path, "drivers", people)
    load(engine, tmp_path, "leads", [lead(f"L{i}", **_person(people[i - 1])) for i in range(1, 31)])
    settings = Settings(model_min_records=10)
    match(engine, settings, now=NOW)
    poster = LeadPoster(engine, settings)
    first = poster.post(lead("P1", **_person(people[30])), actor="a", now=NOW)
    assert first.decision["person_key"] == person_key_for("drivers", "D31")
    model_id = first.decision["model_id"]
    assert model_id is not None and poster.loads == 1
    retrained = train(engine, now=NOW, seed=7, min_records=10)
    again = poster.post(lead("P2", **_person(people[31])), actor="a", now=NOW)
    assert again.decision["model_id"] == retrained.id != model_id
    assert again.decision["person_key"] == person_key_for("drivers", "D32")
    assert poster.loads == 2
