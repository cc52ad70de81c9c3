"""Conditions written once, rendered as DuckDB SQL and evaluated in Python alike.

The batch engine decides in DuckDB, the online path in Python (``single``); both read the
same rules, guard and decision from expression objects, as Splink's comparison levels render
one definition per SQL dialect. ``expr.sql(prefix)`` gives DuckDB SQL (fields as
``prefix + name``, parameters as ``$name``); ``expr.eval(row, params)`` gives the value on a
dict with SQL's NULL semantics: None is NULL, a comparison with NULL is unknown (None),
AND/OR/NOT follow three-valued logic, and a CASE WHEN (or a rule, ``holds``) takes unknown
as false. Only code builds expressions (rules.py, decide.py): no data reaches the SQL.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

Row = Mapping[str, Any]
Params = Mapping[str, Any]
NO_PARAMS: Params = {}


class Expr:
    """An expression: SQL text and a Python value, from one definition."""

    def sql(self, prefix: str = "") -> str:
        raise NotImplementedError

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        raise NotImplementedError

    def holds(self, row: Row, params: Params = NO_PARAMS) -> bool:
        """True only when the condition is true: unknown does not hold (SQL's WHERE/WHEN)."""
        return self.eval(row, params) is True

    # Builders, so conditions read like the SQL they render.
    def __ge__(self, other: Any) -> Expr:
        return Compare(">=", self, lift(other))

    def __le__(self, other: Any) -> Expr:
        return Compare("<=", self, lift(other))

    def __gt__(self, other: Any) -> Expr:
        return Compare(">", self, lift(other))

    def __lt__(self, other: Any) -> Expr:
        return Compare("<", self, lift(other))

    def __sub__(self, other: Any) -> Expr:
        return Arithmetic("-", self, lift(other))

    def __add__(self, other: Any) -> Expr:
        return Arithmetic("+", self, lift(other))

    def __mul__(self, other: Any) -> Expr:
        return Arithmetic("*", self, lift(other))

    def __and__(self, other: Expr) -> Expr:
        # a & b & c is one AND of three, as written.
        return And(*(self.terms if isinstance(self, And) else (self,)), other)

    def eq(self, other: Any) -> Expr:
        return Compare("=", self, lift(other))

    def between(self, low: Any, high: Any) -> Expr:
        return Between(self, lift(low), lift(high))

    def is_null(self) -> Expr:
        return IsNull(self)

    def is_not_null(self) -> Expr:
        return Not(IsNull(self))


def lift(value: Any) -> Expr:
    return value if isinstance(value, Expr) else Const(value)


@dataclass(frozen=True, eq=False)
class Field(Expr):
    """A column of the row (``prefix + name`` in SQL, ``row[name]`` in Python)."""

    name: str

    def sql(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        return row[self.name]


@dataclass(frozen=True, eq=False)
class Param(Expr):
    """A value given with the query (``$name``; ``params[name]`` in Python): the bands."""

    name: str

    def sql(self, prefix: str = "") -> str:
        return f"${self.name}"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        return params[self.name]


@dataclass(frozen=True, eq=False)
class Const(Expr):
    """A literal of our code (a threshold, a rule name), never a data value."""

    value: bool | int | float | str | None

    def sql(self, prefix: str = "") -> str:
        v = self.value
        if v is None:
            return "NULL"
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return repr(v)

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        return self.value


TRUE = Const(True)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "=": operator.eq,
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr

    def sql(self, prefix: str = "") -> str:
        return f"({self.left.sql(prefix)} {self.op} {self.right.sql(prefix)})"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        a, b = self.left.eval(row, params), self.right.eval(row, params)
        return None if a is None or b is None else _COMPARE[self.op](a, b)


@dataclass(frozen=True, eq=False)
class Between(Expr):
    value: Expr
    low: Expr
    high: Expr

    def sql(self, prefix: str = "") -> str:
        value, low, high = (e.sql(prefix) for e in (self.value, self.low, self.high))
        return f"({value} BETWEEN {low} AND {high})"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        # x BETWEEN a AND b is x >= a AND x <= b, unknown included.
        v = self.value
        return And(Compare(">=", v, self.low), Compare("<=", v, self.high)).eval(row, params)


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul,
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class Arithmetic(Expr):
    op: str
    left: Expr
    right: Expr

    def sql(self, prefix: str = "") -> str:
        return f"({self.left.sql(prefix)} {self.op} {self.right.sql(prefix)})"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        a, b = self.left.eval(row, params), self.right.eval(row, params)
        return None if a is None or b is None else _ARITHMETIC[self.op](a, b)


@dataclass(frozen=True, eq=False, init=False)
class _Junction(Expr):
    """AND / OR over any number of terms, with SQL's three-valued logic: the dominant value
    (false for AND, true for OR) wins over unknown, and unknown over the other."""

    terms: tuple[Expr, ...]
    keyword: ClassVar[str]
    dominant: ClassVar[bool]

    def __init__(self, *terms: Expr) -> None:
        object.__setattr__(self, "terms", terms)

    def sql(self, prefix: str = "") -> str:
        return "(" + f" {self.keyword} ".join(t.sql(prefix) for t in self.terms) + ")"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        unknown = False
        for term in self.terms:
            v = term.eval(row, params)
            if v is None:
                unknown = True
            elif bool(v) is self.dominant:
                return self.dominant
        return None if unknown else not self.dominant


class And(_Junction):
    keyword = "AND"
    dominant = False


class Or(_Junction):
    keyword = "OR"
    dominant = True


@dataclass(frozen=True, eq=False)
class Not(Expr):
    term: Expr

    def sql(self, prefix: str = "") -> str:
        return f"(NOT {self.term.sql(prefix)})"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        v = self.term.eval(row, params)
        return None if v is None else not v


@dataclass(frozen=True, eq=False)
class IsNull(Expr):
    term: Expr

    def sql(self, prefix: str = "") -> str:
        return f"({self.term.sql(prefix)} IS NULL)"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        return self.term.eval(row, params) is None


@dataclass(frozen=True, eq=False)
class Len(Expr):
    """The length of a list (NULL for a NULL list)."""

    term: Expr

    def sql(self, prefix: str = "") -> str:
        return f"len({self.term.sql(prefix)})"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        v = self.term.eval(row, params)
        return None if v is None else len(v)


@dataclass(frozen=True, eq=False)
class Least(Expr):
    """The smaller value; like DuckDB's ``least``, NULLs are skipped."""

    left: Expr
    right: Expr

    def sql(self, prefix: str = "") -> str:
        return f"least({self.left.sql(prefix)}, {self.right.sql(prefix)})"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        values = [v for v in (self.left.eval(row, params), self.right.eval(row, params))
                  if v is not None]  # fmt: skip
        return min(values) if values else None


@dataclass(frozen=True, eq=False, init=False)
class CountTrue(Expr):
    """How many of the conditions are true (``(a::INT + b::INT ...)``; NULL if one is)."""

    terms: tuple[Expr, ...]

    def __init__(self, *terms: Expr) -> None:
        object.__setattr__(self, "terms", terms)

    def sql(self, prefix: str = "") -> str:
        return "(" + " + ".join(f"{t.sql(prefix)}::INT" for t in self.terms) + ")"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        values = [t.eval(row, params) for t in self.terms]
        return None if any(v is None for v in values) else sum(bool(v) for v in values)


@dataclass(frozen=True, eq=False)
class Case(Expr):
    """``CASE WHEN c1 THEN v1 ... ELSE e END``: the first condition that holds (unknown does
    not) gives the value."""

    whens: tuple[tuple[Expr, Expr], ...]
    otherwise: Expr = Const(None)

    def sql(self, prefix: str = "") -> str:
        whens = " ".join(f"WHEN {c.sql(prefix)} THEN {v.sql(prefix)}" for c, v in self.whens)
        return f"CASE {whens} ELSE {self.otherwise.sql(prefix)} END"

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        for condition, value in self.whens:
            if condition.holds(row, params):
                return value.eval(row, params)
        return self.otherwise.eval(row, params)


@dataclass(frozen=True, eq=False)
class WaterfallLevel(Expr):
    """A model comparison's level in a pair's waterfall JSON; -1 when it has none.

    SQL reads the JSON text (``json_extract``); Python reads the parsed dict, so a row holds
    ``waterfall`` as a dict there."""

    comparison: str

    def sql(self, prefix: str = "") -> str:
        # The comparison name is the model's own (our code), never data.
        return (f"coalesce(json_extract({prefix}waterfall, '$.{self.comparison}.level')::INT, "
                "-1)")  # fmt: skip

    def eval(self, row: Row, params: Params = NO_PARAMS) -> Any:
        level = (row["waterfall"].get(self.comparison) or {}).get("level")
        return -1 if level is None else int(level)
