"""Blocking keys of a registry held in hash maps, so one record finds its candidates at once.

Batch matching joins whole frames in DuckDB; one lead at a time that join would scan the
registry on every call. ``BlockIndex`` maps every blocking key the rules and the model use
(``blocking.PAIRS_SQL`` and ``model.PREDICT_BLOCKS``) to the registry rows carrying it, and
returns the few rows a query shares a key with: the same candidates the batch would find.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import pyarrow as pa

from leadlink.matching import model as probabilistic

Key = tuple[str, str]


def _keys(prepared: pa.Table, frame: pa.Table) -> list[set[Key]]:
    """Per row: (kind, value) keys of the rules' blocking and of the model's blocking rules."""
    cols = {name: prepared.column(name).to_pylist()
            for name in ("phone", "plate", "driver_id", "ids", "blocks")}  # fmt: skip
    used = {c for rule in probabilistic.PREDICT_BLOCKS for c in rule}
    model_cols = {name: frame.column(name).to_pylist() for name in used}
    out: list[set[Key]] = []
    for i in range(prepared.num_rows):
        keys: set[Key] = set()
        for name in ("phone", "plate", "driver_id"):
            if cols[name][i]:
                keys.add((name, cols[name][i]))
        keys.update(("id", v) for v in cols["ids"][i] or ())
        keys.update(("block", v) for v in cols["blocks"][i] or ())
        for rule in probabilistic.PREDICT_BLOCKS:
            values = [model_cols[c][i] for c in rule]
            if all(v is not None for v in values):
                keys.add(("|".join(rule), "|".join(str(v) for v in values)))
        out.append(keys)
    return out


class BlockIndex:
    def __init__(self, registry: pa.Table) -> None:
        self.registry = registry
        self._rows: dict[Key, list[int]] = defaultdict(list)
        # The model's columns of every registry row, kept: scoring takes the candidates' rows.
        self.frame = frame = probabilistic.model_frame(registry)
        for row, keys in enumerate(_keys(registry, frame)):
            for key in keys:
                self._rows[key].append(row)

    def add(self, rows: pa.Table) -> None:
        """Index more registry rows (prepared, with their person_key): records linked since."""
        start = self.registry.num_rows
        frame = probabilistic.model_frame(rows)
        for offset, keys in enumerate(_keys(rows, frame)):
            for key in keys:
                self._rows[key].append(start + offset)
        self.registry = _append(self.registry, rows)
        self.frame = _append(self.frame, frame)

    def candidates(self, query: pa.Table) -> tuple[pa.Table, pa.Table]:
        """Registry rows sharing a blocking key with any query record: prepared, model frame."""
        rows: set[int] = set()
        for keys in _keys(query, probabilistic.model_frame(query)):
            rows.update(self._lookup(keys))
        take = pa.array(sorted(rows), pa.int64())
        return self.registry.take(take), self.frame.take(take)

    def _lookup(self, keys: Iterable[Key]) -> Iterable[int]:
        for key in keys:
            yield from self._rows.get(key, ())


def _append(table: pa.Table, rows: pa.Table) -> pa.Table:
    if table.num_rows == 0:  # an empty registry's frame may lack the columns: take the rows'
        return rows
    grown = pa.concat_tables([table, rows.select(table.column_names).cast(table.schema)])
    # Each append adds a chunk; `take` over hundreds of small chunks is slow: compact at times.
    return grown.combine_chunks() if grown.column(0).num_chunks > 32 else grown
