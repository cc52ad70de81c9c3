"""The two-file person data set: deterministic, consistent with its truth, and hard in the
ways the module docstring promises (checked on the files, not only on the noise counter)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import Counter
from pathlib import Path

import pytest

from leadlink.dates import parse_date
from leadlink.synth.names import strip_accents
from leadlink.synth.people import COLUMNS, NICKNAMES, PeopleSet, build_people, generate_people

PEOPLE = 3000
Row = dict[str, str]


@pytest.fixture(scope="module")
def people() -> PeopleSet:
    return build_people(PEOPLE, seed=11)


@pytest.fixture(scope="module")
def pairs(people: PeopleSet) -> list[tuple[Row, Row]]:
    left = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in people.left}
    right = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in people.right}
    return [(left[a], right[b]) for a, b in people.truth]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = generate_people(tmp_path / "a", people=500, seed=3)
    generate_people(tmp_path / "b", people=500, seed=3)
    generate_people(tmp_path / "c", people=500, seed=4)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["left.csv"] != _digest(tmp_path / "c")["left.csv"]
    with (tmp_path / "a" / "left.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) - 1 == a["left"]
    with (tmp_path / "a" / "truth.csv").open(encoding="utf-8", newline="") as fh:
        truth = list(csv.reader(fh))
    assert truth[0] == ["left_id", "right_id"] and len(truth) - 1 == a["truth"]


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="people must be >= 0"):
        build_people(-1)


def test_truth_is_one_to_one_and_covers_the_overlap(people: PeopleSet) -> None:
    left_ids = [r[0] for r in people.left]
    right_ids = [r[0] for r in people.right]
    assert len(set(left_ids)) == len(left_ids) and len(set(right_ids)) == len(right_ids)
    lefts = [a for a, _ in people.truth]
    rights = [b for _, b in people.truth]
    assert len(set(lefts)) == len(lefts) and len(set(rights)) == len(rights)
    assert set(lefts) <= set(left_ids) and set(rights) <= set(right_ids)
    # 80% in both, 10% left only, 10% right only (a binomial draw: loose bounds).
    assert 0.77 * PEOPLE < len(people.truth) < 0.83 * PEOPLE
    assert 0.07 * PEOPLE < len(left_ids) - len(lefts) < 0.13 * PEOPLE
    assert 0.07 * PEOPLE < len(right_ids) - len(rights) < 0.13 * PEOPLE
    # The right file is shuffled: its order says nothing about the left file's.
    in_order = sum(1 for x, y in zip(rights, rights[1:], strict=False) if x < y)
    assert in_order < 0.7 * len(rights)


def test_dates_parse_and_use_each_files_format(people: PeopleSet) -> None:
    for row in people.left:
        assert dt.date.fromisoformat(row[3])
    right_dates = [row[3] for row in people.right if row[3]]
    assert all(len(d) == 10 and d[2] == "/" and d[5] == "/" for d in right_dates)
    assert all(parse_date(d) for d in right_dates)
    assert len(right_dates) < len(people.right)  # some are missing


def _right_birth(row: Row) -> dt.date | None:
    return parse_date(row["birth_date"]) if row["birth_date"] else None


def test_birth_dates_are_transposed_or_one_digit_off_sometimes(
    pairs: list[tuple[Row, Row]],
) -> None:
    kinds: Counter[str] = Counter()
    for left, right in pairs:
        a, b = dt.date.fromisoformat(left["birth_date"]), _right_birth(right)
        if b is None:
            kinds["missing"] += 1
        elif a == b:
            kinds["same"] += 1
        elif (a.day, a.month) == (b.month, b.day) and a.year == b.year:
            kinds["transposed"] += 1
        else:
            digits = zip(a.strftime("%Y%m%d"), b.strftime("%Y%m%d"), strict=True)
            differing = sum(x != y for x, y in digits)
            kinds["one_digit" if differing == 1 else "other"] += 1
    n = len(pairs)
    assert kinds["same"] > 0.8 * n
    assert kinds["transposed"] > 0.01 * n and kinds["one_digit"] > 0.02 * n
    assert kinds["missing"] > 0.01 * n
    assert kinds["other"] == 0, kinds


def test_names_have_typos_nicknames_initials_and_swaps(pairs: list[tuple[Row, Row]]) -> None:
    nick, initial, swapped, exact = 0, 0, 0, 0
    for left, right in pairs:
        lf, rf = strip_accents(left["first_name"]), strip_accents(right["first_name"]).upper()
        ll, rl = strip_accents(left["last_name"]), strip_accents(right["last_name"]).upper()
        given = left["first_name"].split()[0]
        if given in NICKNAMES and rf.split()[0] == strip_accents(NICKNAMES[given]):
            nick += 1
        if rf.endswith(".") and len(rf.split()[-1]) == 2:
            initial += 1
        if rf == ll and rl == lf:
            swapped += 1
        if (lf, ll) == (rf, rl):
            exact += 1
    n = len(pairs)
    assert nick > 0.01 * n and initial > 0.02 * n and swapped > 0.01 * n
    # Most right names differ from the register somehow (case aside): a real test.
    assert exact < 0.6 * n


def test_addresses_are_abbreviated_either_way_and_some_people_moved(
    pairs: list[tuple[Row, Row]],
) -> None:
    forms: Counter[str] = Counter()
    moved = 0
    for left, right in pairs:
        kind = right["address"].split()[0].upper()
        forms[kind] += 1
        assert left["address"].split()[0] in {"AVENIDA", "JIRON", "CALLE", "PASAJE"}
        if right["postcode"] and right["postcode"][:2] != left["postcode"][:2]:
            moved += 1  # a postcode of another region: the person moved cities
    assert {"AV.", "AVENIDA", "JR.", "JIRON", "CALLE", "CA."} <= set(forms)
    assert moved > 0.01 * len(pairs)


def test_households_and_twins_share_an_address(people: PeopleSet) -> None:
    by_home: dict[tuple[str, str, str], list[list[str]]] = {}
    for row in people.left:
        by_home.setdefault((row[5], row[4], row[7]), []).append(row)
    households = [rows for rows in by_home.values() if len(rows) > 1]
    same_family = [rows for rows in households if len({r[2].split()[0] for r in rows}) < len(rows)]
    twins = [rows for rows in same_family if len({r[3] for r in rows}) < len(rows)]
    assert len(same_family) > 0.03 * PEOPLE
    assert twins, "no twins (same family name, address and date of birth)"
    for rows in twins:  # twins are still told apart by their given names
        assert len({r[1].split()[0] for r in rows}) == len(rows)


def test_noise_counter_covers_every_kind(people: PeopleSet) -> None:
    expected = {
        "right_name_typo", "right_nickname", "right_given_initial", "right_first_last_swapped",
        "right_second_family_dropped", "right_birth_day_month", "right_birth_digit_off",
        "right_birth_missing", "right_moved", "right_street_typo", "right_postcode_digit_off",
        "right_email_other", "right_phone_other", "relatives", "twins", "left_name_typo",
    }  # fmt: skip
    assert expected <= {k for k, v in people.noise.items() if v > 0}


def test_generate_people_command(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from leadlink.cli import app

    result = CliRunner().invoke(
        app, ["generate-people", str(tmp_path / "p"), "--people", "200", "--seed", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["out_dir"] == str(tmp_path / "p")
    assert data["rows"] == generate_people(tmp_path / "q", people=200, seed=3)
    assert _digest(tmp_path / "p") == _digest(tmp_path / "q")
