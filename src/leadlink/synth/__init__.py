"""Deterministic synthetic Peruvian data set for a ride-hailing fleet partner.

`generate` writes the six sources (leads, scouting, migrations, drivers, trips, payments) as
CSV plus `truth.csv` (`source,source_pk,entity_id`), which ties every row of every file to
the person (entity) behind it. Only `random.Random(seed)` is used, never the clock: the same
(leads, seed, anchor) gives byte-identical files.

About 70% of the people behind leads become drivers (hired 60 days before to 30 days after
the lead, never after the anchor); 13% of drivers never had a lead (orphans). Hard cases on
purpose: duplicate leads, homonyms, relatives sharing a phone, fleet cars shared by two
drivers, drivers who changed phone. Leads are typed by people (every phone format, missing
and wrong digits, accents or not, mixed case, typos, folded middle names, plates with or
without dash); driver rows come from the platform and are cleaner.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from leadlink.sources import SOURCES
from leadlink.synth import names
from leadlink.synth.names import Weighted, strip_accents

DAY, SECOND = dt.timedelta(days=1), dt.timedelta(seconds=1)
FILES = ("leads", "scouting", "migrations", "drivers", "trips", "payments")
# (milestone, trips needed within 14 days of the lead, amount).
MILESTONES = (("M1", 1, "25.00"), ("M5", 5, "35.00"), ("M25", 25, "100.00"))
# Hire date minus lead date, in days: mostly soon after, some already drivers, some late.
HIRE_OFFSETS = Weighted([((0, 20), 84), ((-60, -1), 8), ((21, 30), 8)])
# (probability of being active on a day, min trips, max trips) per activity profile.
PROFILES = Weighted([((0.15, 1, 2), 30), ((0.45, 1, 4), 40), ((0.8, 2, 9), 30)])

Row = tuple[str, ...]
Record = tuple[Row, str]  # (values in column order, entity_id)
Truth = tuple[str, str, str]  # (source, source_pk, entity_id)


@dataclass
class Person:
    eid: str
    given: list[str]
    fam1: str
    fam2: str
    phone: str
    dni: str
    licence: str
    plate: str
    car: tuple[str, str]
    color: str
    place: tuple[str, str]  # (city, park_name)
    orphan: bool = False  # a driver who never had a lead
    lead_date: dt.date | None = None  # date of the person's first lead
    hire: dt.date | None = None  # set for drivers only
    driver_id: str = ""
    driver_phone: str = ""
    days: dict[dt.date, int] = field(default_factory=dict)  # completed trips per active day


class _Gen:
    def __init__(self, seed: int, anchor: dt.date) -> None:
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.noise: Counter[str] = Counter()  # how many times each kind of noise was applied
        self.persons: list[Person] = []
        self.used: set[str] = set()  # phones, DNIs, plates and ids already issued
        self.parks: dict[str, str] = {}
        for _city, park in names.CITIES.items:
            self.parks.setdefault(park, f"{self.rng.getrandbits(128):032x}")

    # -- people ---------------------------------------------------------------------------
    def unique(self, make: Callable[[], str]) -> str:
        while (value := make()) in self.used:
            pass
        self.used.add(value)
        return value

    def new_phone(self) -> str:
        return self.unique(lambda: f"9{self.rng.randrange(10**8):08d}")

    def new_plate(self) -> str:
        rng, abc = self.rng, names.PLATE_LETTERS
        if rng.random() < 0.6:  # ABC-123
            return self.unique(
                lambda: "".join(rng.choices(abc, k=3)) + f"-{rng.randrange(1000):03d}"
            )
        a, b = rng.choice(abc), rng.choice(abc)  # A1B-234
        return self.unique(lambda: f"{a}{rng.randrange(10)}{b}-{rng.randrange(1000):03d}")

    def given_names(self) -> list[str]:
        pool = names.FEMALE_GIVEN if self.rng.random() < 0.15 else names.MALE_GIVEN
        given = [pool.pick(self.rng)]
        if self.rng.random() < 0.55 and (second := pool.pick(self.rng)) != given[0]:
            given.append(second)
        return given

    def person(self, orphan: bool = False) -> Person:
        """A new person; 2% a homonym of someone, 2% a relative sharing their phone."""
        rng = self.rng
        given, fam1, fam2 = self.given_names(), names.FAMILY.pick(rng), names.FAMILY.pick(rng)
        phone, roll = self.new_phone(), rng.random()
        if self.persons and roll < 0.02:
            twin = rng.choice(self.persons)
            given, fam1, fam2 = list(twin.given), twin.fam1, twin.fam2
            self.noise["homonym_persons"] += 1
        elif self.persons and roll < 0.04:
            kin = rng.choice(self.persons)
            fam1, fam2, phone = kin.fam1, kin.fam2, kin.phone
            while given[0] in kin.given:
                given = self.given_names()
            self.noise["shared_phone_persons"] += 1
        dni = self.unique(lambda: str(rng.randrange(10_000_000, 80_000_000)))
        licence = ("Q" if rng.random() < 0.88 else rng.choice(names.LICENCE_LETTERS)) + dni
        car, color, place = names.CARS.pick(rng), names.COLORS.pick(rng), names.CITIES.pick(rng)
        eid = f"E{len(self.persons) + 1:06d}"
        p = Person(eid, given, fam1, fam2, phone, dni, licence, self.new_plate(), car, color, place)
        p.orphan = orphan
        self.persons.append(p)
        return p

    def share_car(self, p: Person, drivers: list[Person]) -> None:
        """3% of drivers drive a fleet car someone else drives too: same plate, car, colour."""
        if drivers and self.rng.random() < 0.03:
            owner = self.rng.choice(drivers)
            p.plate, p.car, p.color = owner.plate, owner.car, owner.color
            self.noise["shared_plate_drivers"] += 1

    def people(self, n_leads: int) -> tuple[list[tuple[Person, dt.datetime]], list[Person]]:
        """Exactly n_leads (person, created_at) lead events, and every driver by hire date."""
        rng, anchor = self.rng, self.anchor
        leads: list[tuple[Person, dt.datetime]] = []
        drivers: list[Person] = []
        while len(leads) < n_leads:
            p = self.person()
            p.lead_date = day = anchor - rng.randint(1, 90) * DAY
            when = dt.datetime.combine(day, dt.time(7)) + rng.randrange(15 * 3600) * SECOND
            hire = day + rng.randint(*HIRE_OFFSETS.pick(rng)) * DAY
            if rng.random() < 0.76 and hire <= anchor:  # later hires have no driver row yet
                p.hire = hire
                self.share_car(p, drivers)
                drivers.append(p)
            leads.append((p, when))
            if len(leads) < n_leads and rng.random() < 0.05:  # typed in again, days later
                again = when + rng.randint(1, 6) * DAY + rng.randrange(9000) * SECOND
                if again.date() >= anchor:
                    again = when + rng.randint(300, 5400) * SECOND
                leads.append((p, again))
                self.noise["duplicate_leads"] += 1
        for _ in range(round(len(drivers) * 0.13 / 0.87)):
            p = self.person(orphan=True)
            p.hire = anchor - rng.randint(1, 365) * DAY
            self.share_car(p, drivers)
            drivers.append(p)
        drivers.sort(key=lambda d: d.hire or anchor)
        return leads, drivers

    # -- rows -----------------------------------------------------------------------------
    def lead_names(self, p: Person) -> list[str]:
        """[first_name, middle_name, last_name] as a person types them into a form."""
        rng, noise = self.rng, self.noise
        given, fams = list(p.given), [p.fam1, p.fam2]
        if rng.random() < 0.3 and any(" " in f for f in fams):
            fams = [" ".join(w for w in f.split() if w not in names.PARTICLES) for f in fams]
            noise["name_particles_dropped"] += 1
        if rng.random() < 0.18:
            fams = fams[:1]
            noise["name_last_single_family"] += 1
        if rng.random() < 0.05:
            tokens = given + fams
            i = rng.randrange(len(tokens))
            tokens[i] = names.typo(tokens[i], rng)
            given, fams = tokens[: len(given)], tokens[len(given) :]
            noise["name_typo"] += 1
        first, middle, roll = given[0], "", rng.random()
        if len(given) == 2 and roll < 0.45:
            first = " ".join(given)
            noise["name_middle_folded"] += 1
        elif len(given) == 2 and roll < 0.8:
            middle = given[1]
        elif len(given) == 2:
            noise["name_middle_dropped"] += 1
        parts = [first, middle, " ".join(fams)]
        if rng.random() < 0.35:
            parts = [strip_accents(x) for x in parts]
            noise["name_accents_stripped"] += 1
        how = "upper" if rng.random() < 0.6 else "title" if rng.random() < 0.75 else "lower"
        noise[f"name_case_{how}"] += 1
        parts = [names.recase(x, how) for x in parts]
        if rng.random() < 0.08:
            i = rng.choice((0, 2))
            parts[i] = names.extra_spaces(parts[i], rng.randrange(3))
            noise["name_extra_spaces"] += 1
        return parts

    def lead_phone(self, p: Person) -> str:
        rng = self.rng
        if rng.random() < 0.08:
            self.noise["phone_missing"] += 1
            return ""
        digits = p.phone
        if rng.random() < 0.033:
            i = rng.randrange(1, 9)
            digits = digits[:i] + rng.choice("0123456789".replace(digits[i], "")) + digits[i + 1 :]
            self.noise["phone_wrong_digit"] += 1
        kind = names.PHONE_FORMATS.pick(rng)
        self.noise[f"phone_format_{kind}"] += 1
        return names.format_phone(digits, kind)

    def lead_plate(self, p: Person) -> str:
        rng, roll = self.rng, self.rng.random()
        if roll < 0.2:
            self.noise["plate_missing"] += 1
            return ""
        plate = p.plate if roll < 0.64 else p.plate.replace("-", "" if roll < 0.96 else " ")
        if rng.random() < 0.2:
            plate = plate.lower()
            self.noise["plate_lower"] += 1
        self.noise["plate_no_dash"] += "-" not in plate
        return plate

    def lead_row(self, p: Person, when: dt.datetime) -> Row:
        """A lead without its lead_id (issued once all leads are in date order)."""
        rng = self.rng
        phone = plate = brand = model = color = ""
        if rng.random() < 0.01:  # nothing to match on: no phone, no plate, no usable name
            parts = [rng.choice(("", ".", "X", "-", "SN")), "", ""]
            self.noise["lead_no_identifiers"] += 1
        else:
            parts, phone, plate = self.lead_names(p), self.lead_phone(p), self.lead_plate(p)
            if rng.random() < 0.75:
                brand, model = p.car if rng.random() < 0.7 else (p.car[0].upper(), p.car[1].upper())
                model = model if rng.random() < 0.9 else ""
            color = p.color.title() if rng.random() < 0.6 else ""
        dmy = rng.random() < 0.15
        self.noise["lead_date_dmy" if dmy else "lead_date_iso"] += 1
        at = when.strftime("%d/%m/%Y" if dmy else "%Y-%m-%d %H:%M:%S")
        ext = str(rng.randrange(10**14, 10**15)) if rng.random() < 0.25 else ""
        status = (names.LEAD_STATUS_DRIVER if p.hire else names.LEAD_STATUS_OTHER).pick(rng)
        car = (brand, model, color)
        return (ext, *parts, phone, plate, *car, at, status, p.place[1], p.place[0])

    def driver_row(self, p: Person) -> Row:
        rng, hired = self.rng, p.hire or self.anchor
        p.driver_id = self.unique(lambda: f"{rng.getrandbits(128):032x}")
        p.driver_phone = p.phone
        if not p.orphan and rng.random() < 0.08:
            p.driver_phone = self.new_phone()
            self.noise["driver_changed_phone"] += 1
        roll = rng.random()
        phone = p.driver_phone if roll < 0.8 else f"+51{p.driver_phone}" if roll < 0.97 else ""
        first = " ".join(p.given if rng.random() < 0.9 else p.given[:1])
        last = f"{p.fam1} {p.fam2}"
        if rng.random() < 0.5:
            first, last = strip_accents(first), strip_accents(last)
        if rng.random() < 0.1:
            first, last = first.title(), last.title()
        roll = rng.random()
        plate = p.plate if roll < 0.8 else p.plate.replace("-", "") if roll < 0.97 else ""
        fire, status = "", "working"
        if rng.random() < 0.08 and (fired := hired + rng.randint(10, 200) * DAY) <= self.anchor:
            fire, status = fired.isoformat(), "fired"
        hire = hired.strftime("%Y%m%d") if rng.random() < 0.05 else hired.isoformat()
        lic = p.licence if rng.random() < 0.85 else ""
        doc = p.dni if rng.random() < 0.9 else ""
        park = self.parks[p.place[1]]
        return (p.driver_id, park, first, last, phone, lic, doc, plate, *p.car, hire, fire, status)

    def trips(self, p: Person, fire: str) -> None:
        """Active days (completed_trips >= 1) over the first 30 days after hire."""
        rng, hired = self.rng, p.hire or self.anchor
        if rng.random() < (0.3 if p.orphan else 0.12):
            return
        active, low, high = PROFILES.pick(rng)
        start = hired + (rng.randint(0, 3) if rng.random() < 0.7 else rng.randint(4, 12)) * DAY
        end = min(self.anchor, dt.date.fromisoformat(fire)) if fire else self.anchor
        for i in range(30):
            day = hired + i * DAY
            if day > end:
                break
            if day >= start and rng.random() < active:
                p.days[day] = rng.randint(low, high)

    def payments(self, p: Person) -> list[tuple[dt.date, str, Person]]:
        """Milestones reached within 14 days of the first lead; 60% of them paid by now."""
        if p.lead_date is None:
            return []
        total, reached = 0, dict[str, dt.date]()
        for day in sorted(p.days):
            if p.lead_date <= day < p.lead_date + 14 * DAY:
                total += p.days[day]
                for name, need, _amount in MILESTONES:
                    if total >= need:
                        reached.setdefault(name, day)
        out: list[tuple[dt.date, str, Person]] = []
        for name, _need, _amount in MILESTONES:
            if name in reached and self.rng.random() < 0.6:
                paid = reached[name] + self.rng.randint(3, 21) * DAY
                if paid <= self.anchor:
                    out.append((paid, name, p))
        return out

    def spoken_name(self, p: Person) -> str:
        """One string: 'GIVEN FAMILY FAMILY' or 'FAMILY FAMILY GIVEN', accents or not."""
        given, family = " ".join(p.given), f"{p.fam1} {p.fam2}"
        text = f"{given} {family}" if self.rng.random() < 0.6 else f"{family} {given}"
        return strip_accents(text) if self.rng.random() < 0.5 else text

    def scouting(self, drivers: list[Person]) -> list[Record]:
        """15% of drivers, registered by a scout near their hire date; rows are unique."""
        rng, seen = self.rng, set[Row]()
        out: list[tuple[dt.date, Row, str]] = []
        for p in drivers:
            if rng.random() >= 0.15 or p.hire is None:
                continue
            roll = rng.random()
            phone = p.driver_phone if roll < 0.85 else p.phone if roll < 0.9 else ""
            phone = f"+51 {phone}" if phone and rng.random() < 0.1 else phone
            day = min(p.hire + rng.randint(-7, 2) * DAY, self.anchor)
            text = day.strftime("%d/%m/%Y") if rng.random() < 0.2 else day.isoformat()
            lic = p.licence if rng.random() < 0.8 else ""
            row = (names.SCOUTS.pick(rng), self.spoken_name(p), phone, lic, text)
            if row not in seen:
                seen.add(row)
                out.append((day, row, p.eid))
        out.sort(key=lambda item: item[0])
        return [(row, eid) for _day, row, eid in out]

    def migration(self, p: Person) -> Row | None:
        """5% of drivers (orphans more often) came over from another park."""
        if p.hire is None or self.rng.random() >= (0.15 if p.orphan else 0.035):
            return None
        scout = names.SCOUTS.pick(self.rng) if self.rng.random() < 0.5 else ""
        return (p.driver_id, self.spoken_name(p).upper(), scout, p.hire.isoformat())


def build(leads: int, seed: int, anchor: dt.date) -> tuple[dict[str, list[Record]], Counter[str]]:
    """Every source's records in file order, and how often each kind of noise was applied."""
    gen = _Gen(seed, anchor)
    lead_events, drivers = gen.people(leads)
    lead_events.sort(key=lambda item: item[1])
    lead_rows = [
        ((f"L{n:07d}", *gen.lead_row(p, when)), p.eid)
        for n, (p, when) in enumerate(lead_events, start=1)
    ]
    driver_rows: list[Record] = []
    trip_rows: list[Record] = []
    iso: dict[dt.date, str] = {}
    for p in drivers:
        row = gen.driver_row(p)
        driver_rows.append((row, p.eid))
        gen.trips(p, row[11])
        for day, n_trips in p.days.items():
            if (text := iso.get(day)) is None:
                text = iso[day] = day.isoformat()
            trip_rows.append(((p.driver_id, text, str(n_trips)), p.eid))
    paid = sorted((item for p in drivers for item in gen.payments(p)), key=lambda item: item[0])
    pay_rows: list[Record] = []
    amounts = {name: amount for name, _need, amount in MILESTONES}
    for n, (day, milestone, p) in enumerate(paid, start=1):
        anonymous = gen.rng.random() < 0.2  # no driver_id: the name is all there is
        gen.noise["payment_without_driver_id" if anonymous else "payment_with_driver_id"] += 1
        name = gen.spoken_name(p).upper() if anonymous or gen.rng.random() < 0.3 else ""
        values = ("" if anonymous else p.driver_id, name, milestone, amounts[milestone])
        pay_rows.append(((f"P{n:07d}", *values, day.isoformat()), p.eid))
    migrations = [(mig, p.eid) for p in drivers if (mig := gen.migration(p)) is not None]
    gen.noise["drivers_orphan"] = sum(p.orphan for p in drivers)
    gen.noise["drivers_orphan_no_trips"] = sum(p.orphan and not p.days for p in drivers)
    gen.noise["drivers_from_leads"] = sum(not p.orphan for p in drivers)
    gen.noise["lead_persons"] = len({p.eid for p, _when in lead_events})
    records = {"leads": lead_rows, "scouting": gen.scouting(drivers), "migrations": migrations}
    records |= {"drivers": driver_rows, "trips": trip_rows, "payments": pay_rows}
    return records, gen.noise


def _write(
    out_dir: Path, source: str, records: Iterable[Record], truth: Callable[[Truth], object]
) -> int:
    spec, count = SOURCES[source], 0
    with (out_dir / f"{source}.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(spec.columns)
        for values, eid in records:
            writer.writerow(values)
            truth((source, spec.source_pk(dict(zip(spec.columns, values, strict=True))), eid))
            count += 1
    return count


def generate(
    out_dir: Path, leads: int = 2000, seed: int = 7, *, anchor: dt.date = dt.date(2026, 11, 1)
) -> dict[str, int]:
    """Write leads.csv, scouting.csv, migrations.csv, drivers.csv, trips.csv, payments.csv
    and truth.csv into out_dir (created if missing). Return row counts per file name stem
    (including 'truth')."""
    if leads < 0:
        raise ValueError(f"leads must be >= 0, got {leads}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records, _noise = build(leads, seed, anchor)
    counts: dict[str, int] = {}
    with (out_dir / "truth.csv").open("w", encoding="utf-8", newline="") as fh:
        truth = csv.writer(fh, lineterminator="\n")
        truth.writerow(("source", "source_pk", "entity_id"))
        for source in FILES:
            counts[source] = _write(out_dir, source, records[source], truth.writerow)
    counts["truth"] = sum(counts.values())
    return counts
