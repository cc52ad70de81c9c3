"""The synthetic data set: deterministic, shaped like DESIGN.md says, and hard in the right ways."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from leadlink.sources import SOURCES
from leadlink.synth import FILES, generate

ANCHOR = dt.date(2026, 11, 1)
N_LEADS = 2000
Rows = dict[str, list[dict[str, str]]]


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synth") / "nested" / "dir"  # created by generate
    generate(path, N_LEADS, seed=7, anchor=ANCHOR)
    return path


@pytest.fixture(scope="module")
def data(out: Path) -> Rows:
    return {name: read(out / f"{name}.csv")[1] for name in (*FILES, "truth")}


@pytest.fixture(scope="module")
def entity(data: Rows) -> dict[tuple[str, str], str]:
    return {(r["source"], r["source_pk"]): r["entity_id"] for r in data["truth"]}


def parse(text: str, *formats: str) -> dt.date:
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise AssertionError(f"{text!r} matches none of {formats}")


def plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).upper().split())


def digits9(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[-9:] if len(digits) >= 9 else ""


def expected_pk(source: str, row: dict[str, str]) -> str:
    """source_pk computed from DESIGN.md "Source keys", independently of the code under test."""
    if source == "scouting":
        raw = "|".join(row[c] for c in SOURCES["scouting"].columns)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
    key = {"leads": "lead_id", "drivers": "driver_id", "migrations": "driver_id"}
    key |= {"payments": "payment_id"}
    return f"{row['driver_id']}|{row['date']}" if source == "trips" else row[key[source]]


def test_same_inputs_give_identical_bytes_and_other_seeds_differ(out: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    other = tmp_path / "other"
    later = tmp_path / "later"
    generate(again, N_LEADS, seed=7, anchor=ANCHOR)
    generate(other, N_LEADS, seed=8, anchor=ANCHOR)
    generate(later, N_LEADS, seed=7, anchor=ANCHOR + dt.timedelta(days=1))
    for name in (*FILES, "truth"):
        assert (out / f"{name}.csv").read_bytes() == (again / f"{name}.csv").read_bytes(), name
    for name in ("leads", "drivers", "trips", "truth"):
        assert (out / f"{name}.csv").read_bytes() != (other / f"{name}.csv").read_bytes(), name
        assert (out / f"{name}.csv").read_bytes() != (later / f"{name}.csv").read_bytes(), name


@pytest.mark.parametrize("n", [0, 1, 2, 37, 500])
def test_exact_lead_count_and_returned_counts(tmp_path: Path, n: int) -> None:
    counts = generate(tmp_path, n, seed=n)
    assert counts["leads"] == n
    assert set(counts) == {*FILES, "truth"}
    for name in (*FILES, "truth"):
        assert len(read(tmp_path / f"{name}.csv")[1]) == counts[name], name
    assert counts["truth"] == sum(counts[name] for name in FILES)


def test_defaults_and_bad_count(tmp_path: Path, data: Rows) -> None:
    assert len(data["leads"]) == N_LEADS
    assert generate(tmp_path) == {k: len(v) for k, v in data.items()}  # leads=2000, seed=7
    with pytest.raises(ValueError, match="leads"):
        generate(tmp_path, -1)


def test_headers_are_the_design_columns(out: Path) -> None:
    for name in FILES:
        header, _rows = read(out / f"{name}.csv")
        assert tuple(header) == SOURCES[name].columns, name
    assert "record_id" not in read(out / "scouting.csv")[0]
    assert read(out / "truth.csv")[0] == ["source", "source_pk", "entity_id"]
    raw = (out / "leads.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("utf-8")  # strict UTF-8
    assert "Í".encode() in raw or "É".encode() in raw  # accents are really there


def test_truth_covers_every_row_exactly_once(data: Rows) -> None:
    truth = Counter((r["source"], r["source_pk"]) for r in data["truth"])
    assert max(truth.values()) == 1  # source_pk unique per source
    expected = Counter((name, expected_pk(name, row)) for name in FILES for row in data[name])
    assert max(expected.values()) == 1
    assert truth == expected
    for name in FILES:  # and the code's own key function agrees with the contract
        assert all(SOURCES[name].source_pk(r) == expected_pk(name, r) for r in data[name])
    assert all(re.fullmatch(r"E\d{6}", r["entity_id"]) for r in data["truth"])
    assert {r["source"] for r in data["truth"]} == set(FILES)


def test_ids_are_unique_and_well_formed(data: Rows) -> None:
    assert len({r["lead_id"] for r in data["leads"]}) == N_LEADS
    assert all(re.fullmatch(r"L\d{7}", r["lead_id"]) for r in data["leads"])
    ids = [r["driver_id"] for r in data["drivers"]]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert 0.1 < sum(bool(r["external_id"]) for r in data["leads"]) / N_LEADS < 0.4
    known = set(ids)
    assert {r["driver_id"] for r in data["trips"]} <= known
    assert {r["driver_id"] for r in data["migrations"]} <= known
    assert {r["driver_id"] for r in data["payments"]} - {""} <= known


def test_lead_phones_come_in_every_format(data: Rows) -> None:
    patterns = {
        "plain": r"9\d{8}",
        "+51 spaced": r"\+51 9\d\d \d{3} \d{3}",
        "+51": r"\+519\d{8}",
        "51": r"519\d{8}",
        "0051": r"00519\d{8}",
        "dashed": r"9\d\d-\d{3}-\d{3}",
        "spaced": r"9\d\d \d{3} \d{3}",
        "missing": r"",
    }
    seen: Counter[str] = Counter()
    for row in data["leads"]:
        kinds = [k for k, pattern in patterns.items() if re.fullmatch(pattern, row["phone"])]
        assert len(kinds) == 1, row["phone"]
        seen[kinds[0]] += 1
    assert set(seen) == set(patterns)
    assert 0.05 < seen["missing"] / N_LEADS < 0.13
    assert all(re.fullmatch(r"(\+51)?9\d{8}|", r["phone"]) for r in data["drivers"])


def test_hard_cases_are_present(data: Rows, entity: dict[tuple[str, str], str]) -> None:
    lead_entities = Counter(entity["leads", r["lead_id"]] for r in data["leads"])
    duplicated = sum(1 for n in lead_entities.values() if n > 1)
    assert 0.03 * N_LEADS < duplicated < 0.08 * N_LEADS

    by_name: defaultdict[str, set[str]] = defaultdict(set)
    by_phone: defaultdict[str, set[str]] = defaultdict(set)
    by_plate: defaultdict[str, set[str]] = defaultdict(set)
    for r in data["drivers"]:
        eid = entity["drivers", r["driver_id"]]
        by_name[plain(f"{r['first_name']} {r['last_name']}")].add(eid)
        by_plate[r["plate"].replace("-", "")].add(eid)
    for source, column in (("leads", "phone"), ("drivers", "phone")):
        pk = SOURCES[source].key_columns[0]
        for r in data[source]:
            if digits9(r[column]):
                by_phone[digits9(r[column])].add(entity[source, r[pk]])
    assert sum(len(v) > 1 for v in by_name.values()) >= 5  # homonyms
    assert sum(len(v) > 1 for v in by_phone.values()) >= 10  # relatives sharing a phone
    assert sum(len(v) > 1 for k, v in by_plate.items() if k) >= 10  # shared fleet cars

    drivers = {entity["drivers", r["driver_id"]] for r in data["drivers"]}
    orphans = drivers - set(lead_entities)
    assert 0.10 < len(orphans) / len(drivers) < 0.16
    active = {entity["trips", f"{r['driver_id']}|{r['date']}"] for r in data["trips"]}
    assert orphans - active  # some orphans never drove: quarantine material
    assert 0.6 < len(drivers & set(lead_entities)) / len(lead_entities) < 0.72
    assert 0.7 < len(active) / len(drivers) < 0.9


def test_lead_noise_is_realistic(data: Rows) -> None:
    leads = data["leads"]
    share = {
        "plate missing": sum(not r["plate"] for r in leads) / N_LEADS,
        "plate lower": sum(r["plate"] != r["plate"].upper() for r in leads) / N_LEADS,
        "plate no dash": sum(bool(r["plate"]) and "-" not in r["plate"] for r in leads) / N_LEADS,
        "lower-case name": sum(r["last_name"].islower() for r in leads) / N_LEADS,
        "extra spaces": sum(
            r["first_name"] != " ".join(r["first_name"].split())
            or r["last_name"] != " ".join(r["last_name"].split())
            for r in leads
        )
        / N_LEADS,
        "single family name": sum(len(r["last_name"].split()) == 1 for r in leads) / N_LEADS,
        "middle name column": sum(bool(r["middle_name"]) for r in leads) / N_LEADS,
    }
    bounds = {"plate missing": (0.15, 0.26), "plate lower": (0.08, 0.25)}
    bounds |= {"plate no dash": (0.2, 0.5), "lower-case name": (0.05, 0.2)}
    bounds |= {"extra spaces": (0.04, 0.12), "single family name": (0.1, 0.3)}
    bounds |= {"middle name column": (0.1, 0.3)}
    for kind, (low, high) in bounds.items():
        assert low < share[kind] < high, (kind, share[kind])
    nameless = [r for r in leads if not r["phone"] and not r["plate"] and not r["last_name"]]
    assert 0.002 * N_LEADS < len(nameless) < 0.03 * N_LEADS


def test_dates_use_the_allowed_formats(data: Rows) -> None:
    window = (ANCHOR - dt.timedelta(days=90), ANCHOR)
    lead_days = [parse(r["created_at"], "%Y-%m-%d %H:%M:%S", "%d/%m/%Y") for r in data["leads"]]
    assert all(window[0] <= d < window[1] for d in lead_days)
    assert any("/" in r["created_at"] for r in data["leads"])
    hires = [parse(r["hire_date"], "%Y-%m-%d", "%Y%m%d") for r in data["drivers"]]
    assert all(d <= ANCHOR for d in hires)
    assert any(re.fullmatch(r"\d{8}", r["hire_date"]) for r in data["drivers"])
    for r in data["drivers"]:
        if r["fire_date"]:
            assert parse(r["hire_date"], "%Y-%m-%d", "%Y%m%d") < parse(r["fire_date"], "%Y-%m-%d")
        assert r["work_status"] == ("fired" if r["fire_date"] else "working")
    for source, column in (("migrations", "hire_date"), ("payments", "paid_at")):
        assert all(parse(r[column], "%Y-%m-%d") <= ANCHOR for r in data[source])
    scouted = [r["registration_date"] for r in data["scouting"]]
    assert all(parse(d, "%Y-%m-%d", "%d/%m/%Y") <= ANCHOR for d in scouted)
    assert any("/" in d for d in scouted) and any("-" in d for d in scouted)


def test_trips_are_daily_and_unique(data: Rows, entity: dict[tuple[str, str], str]) -> None:
    keys = [(r["driver_id"], r["date"]) for r in data["trips"]]
    assert len(set(keys)) == len(keys)
    hire = {r["driver_id"]: parse(r["hire_date"], "%Y-%m-%d", "%Y%m%d") for r in data["drivers"]}
    for r in data["trips"]:
        day = parse(r["date"], "%Y-%m-%d")
        assert r["date"] == day.isoformat() and int(r["completed_trips"]) >= 1
        assert hire[r["driver_id"]] <= day <= min(ANCHOR, hire[r["driver_id"]] + dt.timedelta(29))

    # Trips in the 14 days after the person's first lead: some reach each milestone, some don't.
    first_lead: dict[str, dt.date] = {}
    for r in data["leads"]:
        day = parse(r["created_at"], "%Y-%m-%d %H:%M:%S", "%d/%m/%Y")
        first_lead.setdefault(entity["leads", r["lead_id"]], day)
    totals: Counter[str] = Counter()
    for r in data["trips"]:
        eid = entity["trips", f"{r['driver_id']}|{r['date']}"]
        if eid in first_lead and 0 <= (parse(r["date"], "%Y-%m-%d") - first_lead[eid]).days < 14:
            totals[eid] += int(r["completed_trips"])
    drivers_with_lead = {entity["drivers", r["driver_id"]] for r in data["drivers"]} & set(
        first_lead
    )
    for need in (1, 5, 25):
        reached = sum(totals[e] >= need for e in drivers_with_lead)
        assert 0.05 * len(drivers_with_lead) < reached < 0.95 * len(drivers_with_lead), need


def test_payments_scouting_and_migrations(data: Rows) -> None:
    amounts = {"M1": "25.00", "M5": "35.00", "M25": "100.00"}
    payments = data["payments"]
    assert payments and all(amounts[r["milestone"]] == r["amount"] for r in payments)
    assert len({r["payment_id"] for r in payments}) == len(payments)
    anonymous = [r for r in payments if not r["driver_id"]]
    assert 0.1 < len(anonymous) / len(payments) < 0.3
    assert all(r["driver_name"].strip() for r in anonymous)
    assert {r["milestone"] for r in payments} == set(amounts)

    scouting = data["scouting"]
    n_drivers = len(data["drivers"])
    assert 0.1 < len(scouting) / n_drivers < 0.2
    rows = [tuple(r.values()) for r in scouting]
    assert len(set(rows)) == len(rows)
    assert all(re.fullmatch(r"S(0[1-9]|[1-3]\d|40)", r["scout_id"]) for r in scouting)
    assert all(len(r["driver_name"].split()) >= 3 for r in scouting)
    assert 0.02 < len(data["migrations"]) / n_drivers < 0.08
