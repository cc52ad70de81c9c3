"""Lists and text helpers for the synthetic Peruvian data set (see synth/__init__.py).

Names are written as a careful clerk would, with accents (MARÍA, NÚÑEZ); synth/__init__.py strips
them, re-cases them and misspells them to imitate what people type into a form. Weights are
rough relative frequencies: QUISPE and MAMANI are far more common than ÑAUPARI.
"""

from __future__ import annotations

import bisect
import functools
import random
import unicodedata
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """Weighted choice with precomputed cumulative weights (fast, deterministic)."""

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.items: list[T] = [item for item, _ in pairs]
        self.cum: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            self.cum.append(total)
        self.total = total

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def _pairs(spec: str) -> list[tuple[str, float]]:
    """'QUISPE 30, DE LA CRUZ 3' -> [('QUISPE', 30.0), ('DE LA CRUZ', 3.0)]."""
    out = []
    for item in spec.split(","):
        text, _, weight = item.strip().rpartition(" ")
        out.append((text, float(weight)))
    return out


def _split(spec: str, sep: str) -> Weighted[tuple[str, str]]:
    """'Toyota Yaris 14' (sep ' ') or 'Lima/Flota Lima Norte 34' (sep '/') -> pairs."""
    pairs = []
    for text, weight in _pairs(spec):
        left, _, right = text.partition(sep)
        pairs.append(((left, right), weight))
    return Weighted(pairs)


MALE_GIVEN = Weighted(
    _pairs(
        """JOSÉ 9, LUIS 8, JUAN 8, CARLOS 7, JORGE 6, MIGUEL 5, CÉSAR 4, VÍCTOR 4, JESÚS 3,
        RAÚL 3, ÁNGEL 3, MARTÍN 3, JULIO 3, PEDRO 3, MANUEL 4, FERNANDO 3, ALEXANDER 3,
        RICARDO 3, EDWIN 3, WILLIAM 2, JHON 2, JHONATAN 2, CHRISTIAN 2, DIEGO 2, ÓSCAR 2,
        HÉCTOR 2, RUBÉN 2, DAVID 3, DANIEL 3, FRANK 2, RONALD 2, ELMER 2, WILBER 1, YURI 1,
        RENZO 1, KEVIN 2, ANTHONY 2, ALBERTO 3, ANTONIO 3, FRANCISCO 2, JAVIER 2, EDGAR 2,
        HUGO 1, ROBERTO 2, SAÚL 1, EFRAÍN 1, NÉSTOR 1, ABRAHAM 1, ROLANDO 1, WALTER 2"""
    )
)
FEMALE_GIVEN = Weighted(
    _pairs(
        """MARÍA 10, ROSA 5, ANA 4, CARMEN 4, JULIA 2, LUZ 3, ELIZABETH 2, KATHERINE 2,
        MILAGROS 3, JESSICA 2, YESENIA 2, SONIA 2, GLADYS 2, PATRICIA 2, MÓNICA 2, VERÓNICA 2,
        ANGÉLICA 1, SOFÍA 1, LUCÍA 2, RUTH 1, NANCY 2, GABRIELA 1, DIANA 1, FIORELLA 1,
        ROCÍO 2, INÉS 1, ISABEL 2, TERESA 2"""
    )
)
FAMILY = Weighted(
    _pairs(
        """QUISPE 30, MAMANI 20, FLORES 18, HUAMÁN 14, RODRÍGUEZ 12, SÁNCHEZ 12, GARCÍA 12,
        ROJAS 11, CHÁVEZ 10, RAMOS 10, TORRES 10, DÍAZ 9, CONDORI 9, VÁSQUEZ 9, MENDOZA 9,
        GUTIÉRREZ 8, CRUZ 8, CASTILLO 8, PÉREZ 6, LÓPEZ 6, GONZÁLES 5, ESPINOZA 5, RAMÍREZ 5,
        ROMERO 4, SALAZAR 4, CASTRO 4, VARGAS 4, HUAMANÍ 3, TICONA 3, NÚÑEZ 3, CÁCERES 3,
        CHOQUE 3, APAZA 3, VILCA 3, PAREDES 3, MEDINA 3, AGUILAR 3, REYES 3, HERRERA 3,
        CÁRDENAS 3, DE LA CRUZ 3, CCAHUANA 2, PUMA 2, YUPANQUI 2, LAURA 2, HUANCA 2, TAIPE 2,
        INGA 2, ALIAGA 2, VILLANUEVA 2, PALOMINO 2, OCHOA 2, MUÑOZ 2, PEÑA 2, LEÓN 2, SOTO 2,
        CAMPOS 2, CÓRDOVA 2, ORTIZ 2, ÑAUPARI 1, CUSI 1, HUARCAYA 1, ZEVALLOS 1, BENDEZÚ 1,
        IBÁÑEZ 1, ARÉVALO 1, ZÚÑIGA 1, ACUÑA 1, CHIPANA 1, CCORI 1, ANCCO 1, SULCA 1,
        LLANOS 1, DEL CASTILLO 1, DE LOS SANTOS 1, DEL ÁGUILA 1, DE LA TORRE 1"""
    )
)
PARTICLES = frozenset({"DE", "DEL", "LA", "LOS", "LAS", "EL", "Y", "E"})

# (brand, model): the sedans and hatchbacks Lima's ride-hailing drivers use.
CARS = _split(
    """Toyota Yaris 14, Toyota Corolla 5, Toyota Etios 5, Toyota Agya 2, Kia Rio 10,
    Kia Picanto 4, Kia Soluto 3, Hyundai Accent 10, Hyundai Grand i10 4, Hyundai Elantra 2,
    Chevrolet Sail 7, Chevrolet Aveo 3, Chevrolet Spark 2, Nissan Versa 6, Nissan Sentra 3,
    Nissan Tiida 2, Suzuki Swift 5, Suzuki Dzire 4, Suzuki Celerio 2, Changan Alsvin 2,
    Volkswagen Gol 2, Renault Logan 2, Mitsubishi Mirage 1""",
    " ",
)
COLORS = Weighted(_pairs("BLANCO 8, PLATA 7, NEGRO 4, GRIS 5, PLOMO 3, ROJO 3, AZUL 3, GUINDA 1"))
# (city, park_name): the fleet partner runs a few parks, most of them in Lima.
CITIES = _split(
    """Lima/Flota Lima Norte 34, Lima/Flota Lima Sur 26, Lima/Flota Lima Centro 20,
    Callao/Flota Lima Norte 5, Arequipa/Flota Arequipa 6, Trujillo/Flota Trujillo 4,
    Chiclayo/Flota Trujillo 2, Piura/Flota Trujillo 2, Cusco/Flota Arequipa 1""",
    "/",
)
LEAD_STATUS_DRIVER = Weighted(_pairs("registrado 6, en_proceso 2, contactado 2"))
LEAD_STATUS_OTHER = Weighted(
    _pairs("nuevo 35, contactado 30, no_contesta 15, rechazado 10, en_proceso 10")
)
# Scouts S01..S40, five of them much busier than the rest.
SCOUTS = Weighted([(f"S{i:02d}", 6.0 if i <= 5 else 1.0) for i in range(1, 41)])
LICENCE_LETTERS = "ABCFHJKLMU"  # first letter of a licence that is not Q + DNI
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
PHONE_FORMATS = Weighted(
    _pairs("plain 40, +51_spaced 20, +51 10, 51 8, 0051 7, dashed 8, spaced 7")
)


def format_phone(digits: str, kind: str) -> str:
    """A 9-digit mobile number written the way `kind` (a PHONE_FORMATS item) writes it."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    spaced, dashed = f"{a} {b} {c}", f"{a}-{b}-{c}"
    forms = {"plain": digits, "+51_spaced": f"+51 {spaced}", "+51": f"+51{digits}"}
    forms |= {"51": f"51{digits}", "0051": f"0051{digits}", "dashed": dashed, "spaced": spaced}
    return forms[kind]


@functools.lru_cache(maxsize=1 << 16)
def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def typo(word: str, rng: random.Random) -> str:
    """One-letter typo: substitution, deletion, transposition or doubled letter."""
    spots = [i for i, ch in enumerate(word) if ch.isalpha()]
    if len(spots) < 3:
        return word + word[-1]
    i = rng.choice(spots[1:-1])
    op = rng.randrange(4)
    if op == 0:
        letter = rng.choice("ABCDEFGHIJLMNOPRSTUVY".replace(word[i], ""))
        return word[:i] + letter + word[i + 1 :]
    if op == 1:
        return word[:i] + word[i + 1 :]
    if op == 2 and word[i + 1].isalpha() and word[i + 1] != word[i]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]


def extra_spaces(text: str, how: int) -> str:
    """A leading space, a trailing space, or doubled inner spaces."""
    if how == 0:
        return f" {text}"
    if how == 1 or " " not in text:
        return f"{text} "
    return text.replace(" ", "  ")


def recase(text: str, how: str) -> str:
    return text.title() if how == "title" else text.lower() if how == "lower" else text
