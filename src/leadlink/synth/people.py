"""A generic two-file person data set with typos, for measuring `leadlink link`.

`generate_people` writes ``left.csv``, ``right.csv`` and ``truth.csv`` (``left_id,right_id``:
every pair of rows that are the same person). It is shaped like the public record-linkage
benchmarks (FEBRL, the Splink "fake 1000" set): no phone or document that settles a pair,
so names, dates of birth, addresses, postcodes and emails have to carry the decision.

Of ``people`` persons, 80% are in both files, 10% only in the left one and 10% only in the
right one. The left file is a careful register (ISO dates, upper case, a few typos); the
right one is typed by people (``DD/MM/YYYY``, mixed case, no accents, typos, nicknames,
initials, swapped first/last names, dates with day and month transposed or one digit off,
AV./AVENIDA and JR./JIRON written either way, people who moved, missing values). Hard cases
on purpose: relatives living at the same address (same surname, postcode and phone), twins
(same surname, address and date of birth), and the homonyms common surnames give for free.

Only ``random.Random(seed)`` is used: the same (people, seed) gives byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from leadlink.synth import names
from leadlink.synth.names import Weighted, strip_accents

COLUMNS = (
    "rec_id", "first_name", "last_name", "birth_date", "street_number", "address", "city",
    "postcode", "email", "phone",
)  # fmt: skip
"""Both files have these columns; ``rec_id`` is the id (``L000001`` left, ``R000001`` right)."""

# Street types: the long form and the abbreviations people write for it.
STREET_TYPES = Weighted([(("AVENIDA", "AV."), 40), (("JIRON", "JR."), 25),
                         (("CALLE", "CA."), 25), (("PASAJE", "PSJE."), 10)])  # fmt: skip
STREETS = Weighted(
    names._pairs(
        """AREQUIPA 5, JAVIER PRADO 5, BRASIL 4, LA MARINA 4, ABANCAY 3, TACNA 3, GRAU 4,
        BOLOGNESI 4, SAN MARTIN 5, LOS OLIVOS 3, TUPAC AMARU 4, PETIT THOUARS 2, IQUITOS 3,
        HUANUCO 2, LAS BEGONIAS 2, LOS JAZMINES 3, LAS GARDENIAS 2, ANGAMOS 3, BENAVIDES 3,
        PROCERES 2, UNIVERSITARIA 4, CANTA CALLAO 2, NARANJAL 2, PANAMERICANA NORTE 2,
        SANTA ROSA 4, MIRAFLORES 2, LIMA 2, CUZCO 2, AYACUCHO 3, JUNIN 3, PUNO 2, ICA 2,
        TRUJILLO 2, HUASCAR 2, MANCO CAPAC 2, ATAHUALPA 2, PACHACUTEC 3, LOS INCAS 2,
        LAS FLORES 3, LOS PINOS 3, EL SOL 2, LA PAZ 2, INDEPENDENCIA 3, LIBERTAD 3,
        28 DE JULIO 3, 2 DE MAYO 2, LEONCIO PRADO 2, MARISCAL CASTILLA 2, ALFONSO UGARTE 2"""
    )
)
# (district or city, first postcode): a person's postcode is that plus 0..39.
CITIES = Weighted(
    [
        (("LIMA", 15001), 14), (("SAN JUAN DE LURIGANCHO", 15401), 10), (("COMAS", 15311), 6),
        (("LOS OLIVOS", 15301), 6), (("SAN MARTIN DE PORRES", 15102), 7), (("ATE", 15022), 6),
        (("MIRAFLORES", 15074), 3), (("SANTIAGO DE SURCO", 15038), 5), (("CALLAO", 7001), 6),
        (("VILLA EL SALVADOR", 15842), 5), (("AREQUIPA", 4001), 8), (("TRUJILLO", 13001), 6),
        (("CHICLAYO", 14001), 4), (("PIURA", 20001), 4), (("CUSCO", 8001), 4),
        (("HUANCAYO", 12001), 3), (("IQUITOS", 16001), 2),
    ]
)  # fmt: skip
NICKNAMES = {
    "JOSÉ": "PEPE", "FRANCISCO": "PANCHO", "ALEXANDER": "ALEX", "CHRISTIAN": "CHRIS",
    "ROBERTO": "BETO", "ALBERTO": "BETO", "MANUEL": "MANOLO", "ANTONIO": "TOÑO",
    "JESÚS": "CHUCHO", "ELIZABETH": "ELI", "KATHERINE": "KATY", "PATRICIA": "PATY",
    "GABRIELA": "GABY", "VERÓNICA": "VERO", "MÓNICA": "MONI", "DANIEL": "DANI",
    "FERNANDO": "FERNAN", "JHONATAN": "JHONNY", "WILLIAM": "WILLY", "RICARDO": "RICHI",
    "EDUARDO": "LALO", "GUADALUPE": "LUPE", "ISABEL": "CHABELA", "TERESA": "TERE",
}  # fmt: skip
DOMAINS = Weighted(names._pairs("gmail.com 60, hotmail.com 25, yahoo.com 8, outlook.com 7"))


@dataclass(frozen=True)
class Person:
    eid: int
    given: tuple[str, ...]  # one or two given names, with accents
    family: tuple[str, str]  # two family names (Peruvian style), with accents
    birth: dt.date
    street: tuple[tuple[str, str], str]  # ((long type, short type), street name)
    number: str
    city: str
    postcode: str
    email: str
    phone: str


def _ascii(text: str) -> str:
    return strip_accents(text).replace("Ñ", "N").replace("ñ", "n")


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.noise: Counter[str] = Counter()  # how many times each kind of noise was applied

    # -- persons --------------------------------------------------------------------------
    def given(self) -> tuple[str, ...]:
        rng = self.rng
        pool = names.FEMALE_GIVEN if rng.random() < 0.45 else names.MALE_GIVEN
        first = pool.pick(rng)
        second = pool.pick(rng)
        return (first, second) if rng.random() < 0.5 and second != first else (first,)

    def email(self, given: tuple[str, ...], family: tuple[str, str]) -> str:
        rng = self.rng
        user = _ascii(given[0]).lower()
        fam = _ascii(family[0]).lower().replace(" ", "")
        style = rng.randrange(3)
        local = f"{user}.{fam}" if style == 0 else f"{user[0]}{fam}" if style == 1 else user + fam
        return f"{local}{rng.randrange(100) if rng.random() < 0.6 else ''}@{DOMAINS.pick(rng)}"

    def address(self) -> tuple[tuple[tuple[str, str], str], str, str, str]:
        rng = self.rng
        city, base = CITIES.pick(rng)
        return (
            (STREET_TYPES.pick(rng), STREETS.pick(rng)),
            str(rng.randint(1, 2999) if rng.random() < 0.8 else rng.randint(1, 99)),
            city,
            f"{base + rng.randrange(40):05d}",
        )

    def person(self, eid: int) -> Person:
        rng = self.rng
        given, family = self.given(), (names.FAMILY.pick(rng), names.FAMILY.pick(rng))
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
        street, number, city, postcode = self.address()
        phone = f"9{rng.randrange(10**8):08d}"
        return Person(eid, given, family, birth, street, number, city, postcode,
                      self.email(given, family), phone)  # fmt: skip

    def relative(self, eid: int, of: Person, twin: bool) -> Person:
        """Same family names, address and phone; a twin also shares the date of birth."""
        other = self.person(eid)
        while other.given[0] in of.given:
            other = replace(other, given=self.given())
        birth = of.birth if twin else other.birth
        fam = (of.family[0], other.family[1]) if not twin and self.rng.random() < 0.3 else of.family
        self.noise["twins" if twin else "relatives"] += 1
        return replace(other, family=fam, birth=birth, street=of.street, number=of.number,
                       city=of.city, postcode=of.postcode, phone=of.phone,
                       email=self.email(other.given, fam))  # fmt: skip

    def persons(self, n: int) -> list[Person]:
        out: list[Person] = []
        for eid in range(1, n + 1):
            roll = self.rng.random()
            if out and roll < 0.08:
                out.append(self.relative(eid, self.rng.choice(out), twin=roll < 0.01))
            else:
                out.append(self.person(eid))
        return out

    # -- rows -----------------------------------------------------------------------------
    def maybe(self, p: float, kind: str) -> bool:
        if self.rng.random() < p:
            self.noise[kind] += 1
            return True
        return False

    def left_row(self, p: Person, rec_id: str) -> list[str]:
        """The register: upper case with accents, ISO dates; a typo or a blank now and then."""
        first, last = " ".join(p.given), " ".join(p.family)
        if self.maybe(0.03, "left_name_typo"):
            last = names.typo(last, self.rng)
        (long, _short), street = p.street
        email = "" if self.maybe(0.05, "left_email_missing") else p.email
        phone = "" if self.maybe(0.3, "left_phone_missing") else p.phone
        return [rec_id, first, last, p.birth.isoformat(), p.number, f"{long} {street}",
                p.city, p.postcode, email, phone]  # fmt: skip

    def right_names(self, p: Person) -> tuple[str, str]:
        rng, maybe = self.rng, self.maybe
        given, family = list(p.given), list(p.family)
        if len(given) == 2 and maybe(0.3, "right_second_given_dropped"):
            given = given[:1]
        elif len(given) == 2 and maybe(0.15, "right_second_given_initial"):
            given[1] = given[1][0] + "."
        if given[0] in NICKNAMES and maybe(0.35, "right_nickname"):
            given[0] = NICKNAMES[given[0]]
        elif maybe(0.02, "right_given_initial"):
            given[0] = given[0][0] + "."
        if maybe(0.2, "right_second_family_dropped"):
            family = family[:1]
        tokens = given + family
        for _ in range(2):
            if maybe(0.1, "right_name_typo"):
                i = rng.randrange(len(tokens))
                tokens[i] = names.typo(tokens[i], rng) if len(tokens[i]) > 2 else tokens[i]
        first, last = " ".join(tokens[: len(given)]), " ".join(tokens[len(given) :])
        if maybe(0.04, "right_first_last_swapped"):
            first, last = last, first
        return first, last

    def right_birth(self, birth: dt.date) -> str:
        rng, maybe = self.rng, self.maybe
        if maybe(0.03, "right_birth_missing"):
            return ""
        if birth.day <= 12 and birth.day != birth.month and maybe(0.05, "right_birth_day_month"):
            birth = birth.replace(day=birth.month, month=birth.day)
        elif maybe(0.05, "right_birth_digit_off"):
            text = birth.strftime("%Y%m%d")
            while True:
                i = rng.randrange(2, 8)  # never the century: 19xx stays 19xx
                digit = str((int(text[i]) + rng.choice((-1, 1))) % 10)
                try:
                    changed = dt.datetime.strptime(text[:i] + digit + text[i + 1 :], "%Y%m%d")
                except ValueError:
                    continue
                birth = changed.date()
                break
        return birth.strftime("%d/%m/%Y")

    def right_address(self, p: Person) -> tuple[str, str, str, str]:
        rng, maybe = self.rng, self.maybe
        street, number, city, postcode = p.street, p.number, p.city, p.postcode
        if maybe(0.05, "right_moved"):
            street, number, city, postcode = self.address()
        (long, short), name = street
        kind = short if rng.random() < 0.6 else long
        if maybe(0.06, "right_street_typo"):
            name = names.typo(name, rng)
        address = f"{kind} {name}"
        if maybe(0.05, "right_number_missing"):
            number = ""
        elif maybe(0.03, "right_number_typo"):
            number = str(max(1, int(number) + rng.choice((-10, -1, 1, 10))))
        if maybe(0.05, "right_city_missing"):
            city = ""
        if maybe(0.05, "right_postcode_missing"):
            postcode = ""
        elif maybe(0.04, "right_postcode_digit_off"):
            i = rng.randrange(2, 5)
            postcode = postcode[:i] + str((int(postcode[i]) + 1) % 10) + postcode[i + 1 :]
        return number, address, city, postcode

    def right_row(self, p: Person, rec_id: str) -> list[str]:
        """Typed by people: mixed case, no accents, typos, nicknames, Peruvian dates."""
        rng, maybe = self.rng, self.maybe
        first, last = self.right_names(p)
        number, address, city, postcode = self.right_address(p)
        email = p.email
        if maybe(0.2, "right_email_missing"):
            email = ""
        elif maybe(0.08, "right_email_other"):
            email = self.email(p.given, p.family)
        phone = p.phone
        if maybe(0.35, "right_phone_missing"):
            phone = ""
        elif maybe(0.1, "right_phone_other"):
            phone = f"9{rng.randrange(10**8):08d}"
        else:
            phone = names.format_phone(phone, names.PHONE_FORMATS.pick(rng))
        text = [first, last, address, city]
        if maybe(0.7, "right_accents_stripped"):
            text = [_ascii(x) for x in text]
        how = "upper" if rng.random() < 0.5 else "title" if rng.random() < 0.8 else "lower"
        text = [names.recase(x, how) for x in text]
        first, last, address, city = text
        return [rec_id, first, last, self.right_birth(p.birth), number, address, city,
                postcode, email, phone]  # fmt: skip


@dataclass(frozen=True)
class PeopleSet:
    left: list[list[str]]
    right: list[list[str]]
    truth: list[tuple[str, str]]  # (left_id, right_id), sorted
    noise: Counter[str]


def build_people(people: int, seed: int = 7) -> PeopleSet:
    """The two files' rows (in file order) and the true pairs, without writing anything."""
    if people < 0:
        raise ValueError(f"people must be >= 0, got {people}")
    gen = _Gen(seed)
    persons = gen.persons(people)
    roles = [gen.rng.random() for _ in persons]  # < 0.8 both, < 0.9 left only, else right only
    left_people = [p for p, r in zip(persons, roles, strict=True) if r < 0.9]
    right_people = [p for p, r in zip(persons, roles, strict=True) if r < 0.8 or r >= 0.9]
    gen.rng.shuffle(right_people)  # the right file is in no particular order
    left_ids = {p.eid: f"L{i:06d}" for i, p in enumerate(left_people, start=1)}
    right_ids = {p.eid: f"R{i:06d}" for i, p in enumerate(right_people, start=1)}
    left = [gen.left_row(p, left_ids[p.eid]) for p in left_people]
    right = [gen.right_row(p, right_ids[p.eid]) for p in right_people]
    truth = sorted((left_ids[e], right_ids[e]) for e in left_ids.keys() & right_ids.keys())
    return PeopleSet(left, right, truth, gen.noise)


def generate_people(out_dir: Path, people: int = 5000, seed: int = 7) -> dict[str, int]:
    """Write left.csv, right.csv and truth.csv into out_dir (created if missing); return the
    row count of each file stem."""
    data = build_people(people, seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Sequence[str], Sequence[Sequence[str]]]] = {
        "left": (COLUMNS, data.left),
        "right": (COLUMNS, data.right),
        "truth": (("left_id", "right_id"), data.truth),
    }
    for stem, (header, rows) in files.items():
        with (out_dir / f"{stem}.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    return {stem: len(rows) for stem, (_h, rows) in files.items()}
