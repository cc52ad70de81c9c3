"""The error codes raised in the code, found by reading it: a Babel extraction method (so
``make catalogs`` puts every ``error.<code>`` message in each catalog) and the facts the
tests check (each code's params fill its message in every language).

A coded raise is ``SomeError("template {x}", code="name", x=...)`` (leadlink.errors), and a
part of one is ``Phrase("template {x}", code="name", x=...)``: the code is a keyword given as
a literal, so it can be found without running anything.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PACKAGE = Path(__file__).parents[1]


@dataclass(frozen=True)
class CodedRaise:
    code: str
    template: str | None
    params: frozenset[str]
    where: str  # path:line, for a test's message


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not any(k.arg == "code" for k in node.keywords):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name.endswith(("Error", "Failed")) or name == "Phrase":
            yield node


def coded_raises(package: Path = PACKAGE) -> list[CodedRaise]:
    return list(_coded_raises(package))


@functools.lru_cache(maxsize=4)
def _coded_raises(package: Path) -> tuple[CodedRaise, ...]:
    found: list[CodedRaise] = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree):
            code = next(k.value for k in call.keywords if k.arg == "code")
            if not (isinstance(code, ast.Constant) and isinstance(code.value, str)):
                continue
            first = call.args[0] if call.args else None
            template = None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                template = first.value
            params = frozenset(k.arg for k in call.keywords if k.arg not in (None, "code"))
            where = f"{path.relative_to(package.parent)}:{call.lineno}"
            found.append(CodedRaise(code.value, template, params, where))
    return tuple(found)


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extraction method: ``error.<code>`` for every coded raise in the package."""
    for code in sorted({r.code for r in coded_raises()}):
        yield 1, "t", f"error.{code}", []
