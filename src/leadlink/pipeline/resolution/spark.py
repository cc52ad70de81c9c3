"""`leadlink match --engine spark`: the probabilistic tier's pairs scored by Splink on Spark.

The rules tier (its blocking, features and decisions) stays in DuckDB, in the matching core.
What moves to Spark is what grows with the data in the model tier: blocking the records the
rules left open against the whole registry with the model's blocking rules, comparing every
blocked pair (Jaro-Winkler, Damerau-Levenshtein... from Splink's Scala UDF jar), term
frequencies, and the match weights. The stored model, its blocking rules and the turning of
predictions into scored pairs are the DuckDB engine's own (``matching.model.predict`` and
``scored``), so the same pairs come back with the same probabilities and `match` writes the
same links (tests/pipeline/test_spark.py). How to run it on a cluster: docs/spark.md.

pyspark is an optional extra (``leadlink[spark]``), imported here only, and only when the Spark
engine is asked for.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa

from leadlink.errors import UsageError
from leadlink.matching import model as probabilistic
from leadlink.pipeline.resolution import workspace
from leadlink.pipeline.resolution.decider import Scorer
from leadlink.settings import Settings

SPARK_PREFIX = "leadlink-spark-"  # its scratch folder in the temporary folder

log = logging.getLogger(__name__)

# Spark's own log4j output on the driver: errors only (its INFO/WARN narrate every stage). The
# root stays at WARN, pyspark's shell default, or Spark announces that it changed the level.
LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = error
"""

# The model frame as Spark DDL, for pyspark 3.5, which cannot take an Arrow table directly.
SPARK_TYPES = {pa.int64(): "BIGINT", pa.string(): "STRING", pa.date32(): "DATE",
               pa.list_(pa.string()): "ARRAY<STRING>"}  # fmt: skip


class SparkUnavailable(UsageError):
    """The Spark engine cannot run here: no pyspark, no Java, or a session that will not start."""


@dataclass
class SparkStats:
    """What Spark scored in this run (the CLI reports it next to the match counts)."""

    batches: int = 0
    records: int = 0
    pairs: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "records": self.records, "pairs": self.pairs,
                "seconds": round(self.seconds, 2)}  # fmt: skip


def java_binary() -> str | None:
    """The java pyspark will launch: $JAVA_HOME/bin/java when JAVA_HOME is set, else PATH's."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        return candidate if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def require_spark() -> None:
    """Raise SparkUnavailable (exit 2) saying what to install, before any work starts."""
    try:
        import pyspark  # noqa: F401
        from splink.backends.spark import SparkAPI  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable(
            f"the Spark engine needs pyspark ({exc}): pip install 'leadlink[spark]'"
        ) from exc
    if java_binary() is None:
        raise SparkUnavailable(
            "Java is not installed (no java on PATH, or JAVA_HOME has no bin/java): the Spark "
            "engine needs a JVM (Java 17 or later for Spark 4)"
        )


class SparkEngine:
    """A ScorerFactory (``resolve.match(scorer=...)``) backed by one Spark session.

    Use it as a context manager: ``start`` on entry (so a missing JVM or an unreachable master
    fails the command at once, not record by record), ``stop`` on exit (the session, if this
    engine created it, and the checkpoint folder). A session already running in the process
    (a notebook's, a test's) is used as it is and left running.
    """

    def __init__(self, settings: Settings) -> None:
        require_spark()
        self.master = settings.spark_master
        self.conf = dict(settings.spark_conf)
        self.local = self.master.startswith("local")
        if not self.local and not settings.spark_checkpoint_dir:
            raise SparkUnavailable(
                f"LEADLINK_SPARK_CHECKPOINT_DIR must be set for master {self.master!r}: a folder "
                "every executor can write and the driver can read (hdfs://..., s3a://...)"
            )
        # Spark's log configuration, and the checkpoints when no folder is configured. Marked
        # with its owner: a killed run's folder is removed by the next one (workspace.sweep).
        workspace.sweep(SPARK_PREFIX)
        self._tmp: str | None = tempfile.mkdtemp(prefix=SPARK_PREFIX)
        workspace.mark(Path(self._tmp))
        base = settings.spark_checkpoint_dir or self._tmp
        # Our own folder under the configured one: stop() deletes exactly what we wrote.
        self.checkpoint_root = f"{base.rstrip('/')}/leadlink-{uuid.uuid4().hex[:12]}"
        self.session: Any = None
        self._owned = False
        self.stats = SparkStats()

    def __enter__(self) -> SparkEngine:
        try:
            self.start()
        except BaseException:
            self.stop()  # __exit__ will not run: remove the temporary folder here
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Any:
        """The Spark session (created once; see the class docstring)."""
        if self.session is not None:
            return self.session
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        try:
            self.session = active or self._builder(SparkSession).getOrCreate()
        except Exception as exc:  # Spark logged why (bad master, old Java) just above
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SparkUnavailable(f"Spark did not start at {self.master!r}: {first}") from exc
        self._owned = active is None
        if active is not None:
            _check_jar(active)
        return self.session

    def _builder(self, session_class: Any) -> Any:
        from splink.backends.spark import similarity_jar_location

        assert self._tmp is not None, "a stopped engine does not start again"
        log4j = os.path.join(self._tmp, "log4j2")
        with open(log4j + ".properties", "w", encoding="utf-8") as fh:
            fh.write(LOG4J)
        conf = {
            "spark.app.name": "leadlink match",
            "spark.ui.showConsoleProgress": "false",
            # Dates are compared in days; keep the JVM's zone out of date <-> timestamp casts.
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
        }
        if self.local:  # a laptop's data: a few partitions, not the cluster default of 200
            conf |= {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"}
        conf |= self.conf
        # The similarity UDFs (jaro_winkler, damerau_levenshtein) ship to every executor.
        conf["spark.jars"] = ",".join(
            j for j in (conf.get("spark.jars"), similarity_jar_location()) if j
        )
        java_opts = f"-Dlog4j2.configurationFile=file:{log4j}.properties"
        conf["spark.driver.extraJavaOptions"] = " ".join(
            o for o in (conf.get("spark.driver.extraJavaOptions"), java_opts) if o
        )
        builder = session_class.builder.master(self.master)
        for key, value in conf.items():
            builder = builder.config(key, value)
        return builder

    def stop(self) -> None:
        if self.session is not None:
            self._delete(self.checkpoint_root)
            if self._owned:
                self.session.stop()
            self.session = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __call__(self, model: dict[str, Any], tf: dict[str, pa.Table] | None = None) -> Scorer:
        """The scorer for a stored model and the registry's term frequencies (ScorerFactory)."""

        def scorer(query: pa.Table, registry: pa.Table) -> pa.Table:
            return self.score(model, query, registry, tf=tf)

        return scorer

    def score(
        self,
        model: dict[str, Any],
        query: pa.Table,
        registry: pa.Table,
        *,
        tf: dict[str, pa.Table] | None = None,
    ) -> pa.Table:
        """Blocked pairs of query x registry scored by the model: ``model.SCORED_SCHEMA``.

        ``tf``: term frequency lookups, as for ``model.score`` (match passes the whole
        registry's, so a pair scores the same in either engine whatever chunk it is in)."""
        if query.num_rows == 0 or registry.num_rows == 0:
            return probabilistic.SCORED_SCHEMA.empty_table()
        from splink.backends.spark import SparkAPI

        started = time.perf_counter()
        spark = self.start()
        qf, rf = probabilistic.model_frame(query), probabilistic.model_frame(registry)
        # A fresh checkpoint folder per batch (Spark adds a random subfolder), deleted after.
        spark.sparkContext.setCheckpointDir(self.checkpoint_root)
        db_api = SparkAPI(spark_session=spark, break_lineage_method="parquet")  # type: ignore[no-untyped-call]
        try:
            options: dict[str, Any] = {"inputs": (to_spark(spark, qf), to_spark(spark, rf))}
            if tf:  # Spark tables too (Spark 3 takes no Arrow)
                options["tf"] = {col: to_spark(spark, lookup) for col, lookup in tf.items()}
            predictions = probabilistic.predict(db_api, model, qf, rf, **options)
            table = probabilistic.scored(predictions.as_pyarrow_table(), model)
        finally:
            db_api.delete_tables_created_by_splink_from_db()  # type: ignore[no-untyped-call]
            # Registered by predict under fixed names (not Splink's own): free them.
            for name in ("q_left", "r_right", *(f"tf_lookup_{col}" for col in tf or {})):
                spark.catalog.dropTempView(name)
            self._delete(spark.sparkContext.getCheckpointDir())
        self.stats.batches += 1
        self.stats.records += query.num_rows
        self.stats.pairs += table.num_rows
        self.stats.seconds += time.perf_counter() - started
        return table

    def _delete(self, path: str | None) -> None:
        """Delete a folder through Hadoop's file system API (local, HDFS, S3 alike)."""
        if not path or self.session is None:
            return
        jvm = self.session.sparkContext._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        conf = self.session.sparkContext._jsc.hadoopConfiguration()
        try:
            hadoop_path.getFileSystem(conf).delete(hadoop_path, True)
        except Exception:  # cleanup only: a folder left behind is logged, never fatal
            log.warning("could not delete Spark checkpoint folder %s", path, exc_info=True)


def _check_jar(session: Any) -> None:
    """A session someone else started must carry Splink's UDF jar (Databricks adds its own)."""
    from splink.backends.spark import similarity_jar_location

    jar = os.path.basename(similarity_jar_location())
    if "DATABRICKS_RUNTIME_VERSION" not in os.environ and jar not in session.conf.get(
        "spark.jars", ""
    ):
        raise SparkUnavailable(
            f"the running Spark session has no {jar}: start it with "
            "spark.jars=splink.backends.spark.similarity_jar_location()"
        )


def to_spark(spark: Any, table: pa.Table) -> Any:
    """An Arrow table as a Spark DataFrame: directly on Spark 4, through pandas on Spark 3."""
    if int(spark.version.split(".")[0]) >= 4:
        return spark.createDataFrame(table)
    ddl = ", ".join(f"`{f.name}` {SPARK_TYPES[f.type]}" for f in table.schema)
    return spark.createDataFrame(table.to_pandas(), schema=ddl)
