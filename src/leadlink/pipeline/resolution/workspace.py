"""A scratch DuckDB file for one `match` run: what does not need to sit in Python memory.

It holds the prepared pending records of the source being decided (and their candidate keys),
the registry rows loaded so far (and theirs), and the decisions staged before they are written.
DuckDB keeps it on disk under a private temporary directory, within ``memory_limit``, spilling
joins to ``temp_directory``; the directory is removed when the run ends.

It holds plain names and phones, so a run killed before it could remove it must not leave it
for good: the directory carries an ``owner`` marker (host:pid:uuid of the run), and every new
workspace first removes the ``leadlink-match-*`` directories of the temporary folder whose
marker names a dead process of this host (``sweep``). A live run's directory, another host's,
another user's, or a directory without our marker is never touched.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from leadlink.matching.decision import DECISION_SCHEMA
from leadlink.matching.frames import PREPARED_SCHEMA
from leadlink.store import locks
from leadlink.store.keys import TERM_COLUMNS

log = logging.getLogger(__name__)

PREFIX = "leadlink-match-"
MARKER = "owner"  # the file naming the process that made the directory
KEY_SCHEMA = pa.schema([("rid", pa.int64()), ("key", pa.int64())])
_COLUMNS = ", ".join(PREPARED_SCHEMA.names)


class Workspace:
    def __init__(self, *, memory_limit: str = "1GB", threads: int = 2) -> None:
        sweep(PREFIX)
        self._dir = tempfile.TemporaryDirectory(prefix=PREFIX)
        root = Path(self._dir.name)
        mark(root)
        self.con = duckdb.connect(str(root / "workspace.duckdb"))
        # Settings are our constants, not data (DuckDB's SET takes no parameters).
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET temp_directory = '{root / 'spill'}'")
        self.con.execute(f"SET threads TO {int(threads)}")
        self.con.execute("SET preserve_insertion_order = false")
        for table in ("pending", "reg"):
            self._create(table, PREPARED_SCHEMA.empty_table())
        for table in ("pending_key", "reg_key", "fresh_key"):
            self._create(table, KEY_SCHEMA.empty_table())
        hashes = pa.schema([("rid", pa.int64()), ("content_hash", pa.string())])
        self._create("fresh_hash", hashes.empty_table())
        terms = pa.schema([("rid", pa.int64()), *((c, pa.string()) for c in TERM_COLUMNS)])
        self._create("fresh_term", terms.empty_table())
        self._create("decided", DECISION_SCHEMA.empty_table())
        self.con.execute("ALTER TABLE pending ADD COLUMN source_pk VARCHAR")

    @property
    def root(self) -> Path:
        return Path(self._dir.name)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        self._dir.cleanup()

    def _create(self, table: str, empty: pa.Table) -> None:
        self.con.register("empty", empty)
        self.con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM empty")  # noqa: S608
        self.con.unregister("empty")

    def _arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        table = self.con.sql(sql, params=params or None).to_arrow_table()
        assert table is not None
        return table

    def _append(self, table: str, frame: pa.Table) -> None:
        self.con.register("frame", frame)
        self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")  # noqa: S608
        self.con.unregister("frame")

    # -- the source being decided ---------------------------------------------------------

    def reset_pending(self) -> None:
        self.con.execute("DELETE FROM pending")
        self.con.execute("DELETE FROM pending_key")
        self.con.execute("DELETE FROM decided")

    def add_pending(self, frame: pa.Table, source_pks: list[str], keys: pa.Table) -> None:
        self._append("pending", frame.append_column("source_pk", pa.array(source_pks, pa.string())))
        self._append("pending_key", keys)

    def pending_chunks(self, size: int) -> Iterator[tuple[pa.Table, pa.Table]]:
        """(prepared frame, its keys) of the pending records, ``size`` at a time, by rid."""
        after = -1
        while True:
            frame = self._arrow(
                f"SELECT {_COLUMNS} FROM pending WHERE rid > $after ORDER BY rid LIMIT $n",  # noqa: S608
                {"after": after, "n": size},
            )
            if frame.num_rows == 0:
                return
            last = frame.column("rid")[-1].as_py()
            keys = self._arrow(
                "SELECT rid, key FROM pending_key WHERE rid > $after AND rid <= $last",
                {"after": after, "last": last},
            )
            yield frame.cast(PREPARED_SCHEMA), keys.cast(KEY_SCHEMA)
            after = last

    def all_pending(self) -> pa.Table:
        sql = f"SELECT {_COLUMNS} FROM pending ORDER BY rid"  # noqa: S608
        return self._arrow(sql).cast(PREPARED_SCHEMA)

    def pending_pks(self) -> dict[int, str]:
        return dict(self.con.execute("SELECT rid, source_pk FROM pending").fetchall())

    # -- the registry -----------------------------------------------------------------------

    def missing(self, rids: list[int]) -> list[int]:
        """Which of these registry ids are not loaded yet."""
        self.con.register("wanted", pa.table({"rid": pa.array(rids, pa.int64())}))
        try:
            rows = self.con.execute(
                "SELECT rid FROM wanted ANTI JOIN reg USING (rid) ORDER BY rid"
            ).fetchall()
        finally:
            self.con.unregister("wanted")
        return [r[0] for r in rows]

    def add_registry(self, frame: pa.Table, keys: pa.Table) -> None:
        self._append("reg", frame)
        self._append("reg_key", keys)

    def registry_for(self, keys: pa.Table) -> pa.Table:
        """The loaded registry rows sharing one of ``keys`` (rid, key), by rid."""
        self.con.register("qkeys", keys)
        try:
            frame = self._arrow(
                f"SELECT {_COLUMNS} FROM reg WHERE rid IN "  # noqa: S608
                "(SELECT rk.rid FROM reg_key rk SEMI JOIN qkeys q ON q.key = rk.key) ORDER BY rid"
            )
        finally:
            self.con.unregister("qkeys")
        return frame.cast(PREPARED_SCHEMA)

    def registry_size(self) -> int:
        row = self.con.execute("SELECT count(*) FROM reg").fetchone()
        return int(row[0]) if row else 0

    def grow(self, new_links: dict[int, str]) -> None:
        """Pending records just linked join the registry under their person key."""
        if not new_links:
            return
        linked = pa.table(
            {
                "rid": pa.array(list(new_links), pa.int64()),
                "person_key": pa.array(list(new_links.values()), pa.string()),
            }
        )
        names = PREPARED_SCHEMA.names
        cols = ", ".join("l.person_key" if c == "person_key" else f"p.{c}" for c in names)
        self.con.register("linked", linked)
        try:
            self.con.execute(
                f"INSERT INTO reg SELECT {cols} FROM pending p JOIN linked l USING (rid)"  # noqa: S608
            )
            self.con.execute(
                "INSERT INTO reg_key SELECT k.* FROM pending_key k SEMI JOIN linked USING (rid)"
            )
        finally:
            self.con.unregister("linked")

    def reset_registry(self) -> None:
        self.con.execute("DELETE FROM reg")
        self.con.execute("DELETE FROM reg_key")

    # -- blocking keys and terms to store, gathered so they are written in key order ----------

    def add_fresh(self, keys: pa.Table, terms: pa.Table, hashes: pa.Table) -> None:
        """Keys ``(rid, key)`` and model terms of records the store has no keys for yet, and
        ``(rid, content_hash)`` of the content they were derived from."""
        self._append("fresh_key", keys)
        self._append("fresh_hash", hashes)
        self._append("fresh_term", terms)

    def _batches(self, sql: str, size: int) -> Iterator[pa.Table]:
        """The result of ``sql`` streamed ``size`` rows at a time (never all in memory)."""
        reader = self.con.sql(sql).to_arrow_reader(size)
        assert reader is not None
        for batch in reader:
            yield pa.Table.from_batches([batch])

    def fresh_hash_parts(self, size: int) -> Iterator[pa.Table]:
        yield from self._batches("SELECT rid, content_hash FROM fresh_hash ORDER BY rid", size)

    def drop_fresh(self, rids: list[int]) -> None:
        """Forget the gathered keys and terms of these records."""
        if not rids:
            return
        self.con.register("dropped", pa.table({"rid": pa.array(rids, pa.int64())}))
        try:
            for table in ("fresh_key", "fresh_hash", "fresh_term"):
                self.con.execute(f"DELETE FROM {table} WHERE rid IN (SELECT rid FROM dropped)")  # noqa: S608
        finally:
            self.con.unregister("dropped")

    def fresh_parts(self, size: int) -> Iterator[tuple[str, pa.Table]]:
        """("key", rows in key order) parts, then ("term", rows in rid order) parts."""
        queries = [("key", "SELECT rid, key FROM fresh_key ORDER BY key, rid"),
                   ("term", "SELECT * FROM fresh_term ORDER BY rid")]  # fmt: skip
        for kind, sql in queries:
            for part in self._batches(sql, size):
                yield kind, part

    def reset_fresh(self) -> None:
        self.con.execute("DELETE FROM fresh_key")
        self.con.execute("DELETE FROM fresh_hash")
        self.con.execute("DELETE FROM fresh_term")

    # -- decisions --------------------------------------------------------------------------

    def add_decided(self, decisions: pa.Table) -> None:
        """A chunk's decisions (``DECISION_SCHEMA``), staged until the source is written."""
        self._append("decided", decisions)

    def decided_chunks(self, size: int) -> Iterator[pa.Table]:
        after = -1
        while True:
            part = self._arrow(
                "SELECT * FROM decided WHERE rid > $after ORDER BY rid LIMIT $n",
                {"after": after, "n": size},
            )
            if part.num_rows == 0:
                return
            yield part
            after = part.column("rid")[-1].as_py()


def mark(root: Path) -> None:
    """Write the owner marker of a scratch directory this process made."""
    (root / MARKER).write_text(locks.new_owner(), encoding="utf-8")


def sweep(prefix: str, folder: Path | None = None) -> list[Path]:
    """Remove the scratch directories ``prefix*`` of dead processes of this host.

    Only a real directory (not a link) of this user whose marker names a process of this host
    that no longer exists: never a live run's, never anything we did not make. Failures are
    logged, never fatal (the run goes on; the next one tries again)."""
    removed: list[Path] = []
    base = folder or Path(tempfile.gettempdir())
    try:
        candidates = sorted(base.glob(f"{prefix}*"))
    except OSError:
        return removed
    for path in candidates:
        try:
            info = path.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            owner = (path / MARKER).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeError):
            continue  # no marker (not ours, or one being made this instant), unreadable
        if owner and locks.dead_local_owner(owner):
            shutil.rmtree(path, ignore_errors=True)
            if path.exists():
                log.warning("could not remove the stale scratch directory %s", path)
            else:
                log.info("removed the scratch directory %s of a dead run (%s)", path, owner)
                removed.append(path)
    return removed
