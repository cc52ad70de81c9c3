"""`leadlink dedupe`: the duplicates inside one file, clustered by the matching engine.

The same steps as `leadlink link` (:mod:`leadlink.pipeline.resolution.linkage`), with the file
against itself, and no database:

1. read and validate the file with ``linkage.read_side`` (errors name file, line and column);
2. :func:`leadlink.matching.linkage.dedupe_frame` trains the model on the file alone and
   decides every record against the others with the rules, bands and margin of ``link``;
   each pair comes out once, never a record with itself;
3. clusters are the connected components of the ``match`` pairs: two records are one person
   when a chain of matches joins them. Every row gets a cluster (a record matching nobody
   is its own); the cluster id is its smallest member id in text order;
4. ``id,cluster_id`` is written sorted by id (text order) through a temporary file renamed
   into place: the same input gives a byte-identical file, an error leaves no partial output.
   ``--pairs`` also writes the pairs themselves (``left_id < right_id``), as ``link`` does.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from leadlink.errors import BadInputError, UsageError
from leadlink.matching.engine import Bands, Profile, components
from leadlink.pipeline.csv_cells import csv_writer, safe_cell
from leadlink.pipeline.ingest.readers import PARQUET_SUFFIXES, read_table
from leadlink.pipeline.resolution.linkage import (
    BadDates,
    Decided,
    Pair,
    Side,
    by_decision,
    by_rule,
    model_summary,
    read_side,
    write_pairs,
)

OUTPUT_COLUMNS = ("id", "cluster_id")


@dataclass(frozen=True)
class DedupeResult:
    rows: int
    clusters: int  # singletons included
    duplicate_clusters: int  # clusters of two records or more
    records_in_duplicates: int
    largest_cluster: int
    pairs: int
    by_decision: dict[str, int]
    by_rule: dict[str, int]
    out: str
    pairs_out: str | None = None
    quality: dict[str, float | int] | None = None  # with a truth file: see cluster_quality
    # Mapped date/phone field -> values that did not parse (counted, compared as text).
    unparsed: dict[str, int] = field(default_factory=dict)
    profile: Profile = "generic"
    untrained: str | None = None  # why no model was trained (the rules alone decided)

    def as_dict(self) -> dict[str, Any]:
        quality = {"quality": self.quality} if self.quality is not None else {}
        return quality | {
            "model": model_summary(self.untrained),
            "profile": self.profile,
            "unparsed": self.unparsed,
            "rows": self.rows,
            "clusters": self.clusters,
            "duplicate_clusters": self.duplicate_clusters,
            "records_in_duplicates": self.records_in_duplicates,
            "largest_cluster": self.largest_cluster,
            "pairs": self.pairs,
            "by_decision": self.by_decision,
            "by_rule": self.by_rule,
            "out": self.out,
            "pairs_out": self.pairs_out,
        }


def dedupe_side(
    side: Side, bands: Bands, *, seed: int = 42, profile: Profile = "generic"
) -> Decided:
    """The engine on one side: ``(left_id, right_id, score, decision, rule)`` rows with
    ``left_id < right_id`` (text order), sorted, score as text with 4 decimals.
    ``profile``: the model's guard (outcome.Guard), as for ``link``."""
    from leadlink.matching.linkage import dedupe_frame  # DuckDB/Splink only when deduping

    pairs, untrained = dedupe_frame(side.frame, bands, seed=seed, profile=profile)
    data = pairs.to_pydict()
    rows: list[Pair] = []
    for lr, rr, score, decision, rule in zip(
        data["left_rid"], data["right_rid"], data["score"], data["decision"], data["rule"],
        strict=True,
    ):  # fmt: skip
        a, b = sorted((side.ids[lr], side.ids[rr]))
        rows.append((a, b, f"{float(score):.4f}", str(decision), str(rule)))
    rows.sort(key=lambda row: (row[0], row[1]))
    return Decided(rows, untrained)


def cluster_ids(ids: Sequence[str], pairs: Sequence[Pair]) -> dict[str, str]:
    """Every id -> its cluster id: connected components of the ``match`` pairs, each named
    by its smallest member id in text order (a record matching nobody names its own)."""
    position = {rid: i for i, rid in enumerate(sorted(ids))}
    ordered = sorted(ids)
    edges = ((position[a], position[b]) for a, b, _s, decision, _r in pairs if decision == "match")
    roots = components(edges)  # by position in text order: the smallest root is the smallest id
    return {rid: ordered[roots.get(position[rid], position[rid])] for rid in ids}


def write_clusters(path: Path, clusters: Mapping[str, str]) -> None:
    """``id,cluster_id`` sorted by id: CSV (ids a spreadsheet would run as formulas written as
    text, ``csv_cells.safe_cell``) or Parquet for a .parquet/.pq name; via a temporary file
    renamed into place."""
    rows = sorted(clusters.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            os.close(fd)
            ids, cluster = [r[0] for r in rows], [r[1] for r in rows]
            table = pa.table({"id": pa.array(ids, pa.string()),
                              "cluster_id": pa.array(cluster, pa.string())})  # fmt: skip
            pq.write_table(table, tmp)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                writer = csv_writer(fh)
                writer.writerow(OUTPUT_COLUMNS)
                writer.writerows((safe_cell(rid), safe_cell(cluster)) for rid, cluster in rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dedupe_file(
    path: Path,
    out: Path,
    *,
    id_column: str,
    fields: Mapping[str, str],
    bands: Bands,
    encoding: str | None = None,
    strict: bool = False,
    bad_dates: BadDates | None = None,
    seed: int = 42,
    truth: Path | None = None,
    pairs_out: Path | None = None,
    profile: Profile = "generic",
) -> DedupeResult:
    """Read, validate, dedupe and write; nothing is written unless every step succeeds.
    With ``truth``, also measure the clusters against it (``cluster_quality``). ``strict``,
    ``bad_dates``: see ``linkage.read_side``; ``profile``: see ``dedupe_side``."""
    if not fields:
        raise UsageError("map at least one column: --field CANON=COLUMN (e.g. last_name=surname)")
    if pairs_out is not None and pairs_out.resolve() == out.resolve():
        raise UsageError("--pairs and --out name the same file")
    side = read_side(path, id_column, fields, encoding=encoding, strict=strict,
                     bad_dates=bad_dates)  # fmt: skip
    true = read_truth(truth) if truth is not None else None
    pairs, untrained = dedupe_side(side, bands, seed=seed, profile=profile)
    clusters = cluster_ids(side.ids, pairs)
    if pairs_out is not None:
        write_pairs(pairs_out, pairs)
    write_clusters(out, clusters)
    sizes = Counter(clusters.values())
    return DedupeResult(
        rows=len(side.ids),
        clusters=len(sizes),
        duplicate_clusters=sum(1 for n in sizes.values() if n > 1),
        records_in_duplicates=sum(n for n in sizes.values() if n > 1),
        largest_cluster=max(sizes.values(), default=0),
        pairs=len(pairs),
        by_decision=by_decision(pairs),
        by_rule=by_rule(pairs),
        out=str(out),
        pairs_out=str(pairs_out) if pairs_out is not None else None,
        quality=cluster_quality(clusters, true) if true is not None else None,
        unparsed=side.unparsed,
        profile=profile,
        untrained=untrained,
    )


Truth = set[tuple[str, str]] | dict[str, str]
"""True duplicates: pairs (each once, smaller id first) or id -> true cluster."""


def read_truth(path: Path) -> Truth:
    """A CSV of true pairs (``left_id,right_id``, either order) or of true clusters
    (``id,cluster_id``, what ``dedupe`` itself writes)."""
    table = read_table(path)
    index = {name: i for i, name in enumerate(table.columns)}
    if {"left_id", "right_id"} <= set(index):
        li, ri = index["left_id"], index["right_id"]
        pairs = (sorted((values[li], values[ri])) for _line, values in table.rows)
        return {(a, b) for a, b in pairs if a != b}
    if {"id", "cluster_id"} <= set(index):
        ii, ci = index["id"], index["cluster_id"]
        return {values[ii]: values[ci] for _line, values in table.rows}
    raise BadInputError(
        table.file, "expected columns left_id,right_id (pairs) or id,cluster_id (clusters)",
        line=1,
    )  # fmt: skip


def _pairs_in(sizes: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def cluster_quality(clusters: Mapping[str, str], truth: Truth) -> dict[str, float | int]:
    """Pairwise precision, recall and F1 of the pairs the clusters imply (every two records
    of one cluster) against the true pairs; counted, never listed (a cluster of n records
    implies n(n-1)/2 pairs)."""
    predicted = _pairs_in(Counter(clusters.values()))
    if isinstance(truth, dict):
        true = _pairs_in(Counter(truth.values()))
        both = Counter((c, truth[rid]) for rid, c in clusters.items() if rid in truth)
        correct = _pairs_in(both)
    else:
        true = len(truth)
        correct = sum(
            1 for a, b in truth if a in clusters and b in clusters and clusters[a] == clusters[b]
        )
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "true": true, "predicted": predicted, "correct": correct}  # fmt: skip
