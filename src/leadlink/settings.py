"""All settings in one validated object (env prefix ``LEADLINK_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadlink.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADLINK_", extra="ignore")

    db: str = Field(default="sqlite:///leadlink.db", description="SQLAlchemy database URL")

    # Decision bands on a 0-1 score: >= accept links, >= review goes to review, else reject.
    accept_threshold: float = Field(default=0.75, ge=0.0, le=1.0)
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # The probabilistic tier (a trained Fellegi-Sunter model) scores what the rules leave open.
    probabilistic: bool = True
    # Under this many records on either side (attaching sources / drivers) no model is trained:
    # EM on a handful of pairs estimates nothing, and the rules alone decide.
    model_min_records: int = Field(default=500, ge=1)

    # If the best two candidate persons score closer than this, never guess.
    margin: float = Field(default=0.05, ge=0.0, le=1.0)

    # Claim amounts in soles, per milestone.
    claim_m1: float = Field(default=25.0, ge=0)
    claim_m5: float = Field(default=35.0, ge=0)
    claim_m25: float = Field(default=100.0, ge=0)
    claim_window_days: int = Field(default=14, ge=1)
    # A generated claim still unpaid this many days after its window closed is expired
    # (past the >30-day aging bucket: long enough to chase, short enough to write off).
    claim_expiry_days: int = Field(default=60, ge=1)
    # A payment without a driver id goes to the person whose name scores at least this
    # (matching/payees.py); the runner-up within `margin` makes it MULTIPLE_CANDIDATES.
    payee_threshold: float = Field(default=0.85, ge=0.0, le=1.0)

    # A lead with no person older than this many days is KPI red (the backlog to drain).
    kpi_grace_days: int = Field(default=1, ge=0)

    # How many processed leads sampling checks (`check drain --n`) look at.
    check_sample: int = Field(default=100, ge=1)

    # Records handled per transaction by services.
    chunk_size: int = Field(default=5000, ge=1)

    # Gap analysis risk (docs/operations.md): an unresolved lead at least this many days old is
    # medium risk; with no identity at least gap_high_days old it is high risk (and it feeds
    # the over_7d_unresolved alert).
    gap_medium_days: int = Field(default=2, ge=0)
    gap_high_days: int = Field(default=7, ge=0)
    # A job kind with no successful job_run for this long raises job_stale.
    job_stale_hours: float = Field(default=24.0, gt=0)
    # backlog_growing fires when recovery_daily's backlog rose day after day over this window.
    backlog_growing_days: int = Field(default=3, ge=2)
    # recoverable_expiring fires for recoverable backlog leads whose deadline (when their
    # claims would expire) is this many days away or less.
    recoverable_expiring_days: int = Field(default=7, ge=1)
    # Worker: folder watched for new source files (None: no ingest job), and how long a file
    # must sit unmodified before it is taken (so a half-copied file is not read).
    watch_dir: str | None = None
    watch_settle_seconds: float = Field(default=5.0, ge=0)
    # Worker: a TOML file naming the partner's databases to read, per source, each on its own
    # schedule (pipeline/operations/db_sources.py, docs/operations.md). None: no such job.
    sources_file: str | None = None

    # Recovery queue: a failed attempt is retried after backoff * 4^(failures-1) seconds;
    # after this many consecutive failures the item is parked with its last error.
    recover_max_failures: int = Field(default=5, ge=1)
    recover_backoff_seconds: int = Field(default=60, ge=1)
    # A job lock whose holder has not heartbeaten for this long may be taken over.
    lock_stale_seconds: int = Field(default=900, ge=1)

    # `match --engine spark` (docs/spark.md): where Spark runs (local[N], spark://host:7077,
    # yarn, k8s://...), extra Spark conf as JSON (LEADLINK_SPARK_CONF='{"spark.driver.memory":
    # "4g"}'), and where Splink checkpoints intermediate tables: a local temporary folder when
    # unset, which only a local master can use (a cluster needs hdfs://, s3a://... here).
    spark_master: str = "local[2]"
    spark_conf: dict[str, str] = Field(default_factory=dict)
    spark_checkpoint_dir: str | None = None

    # The console (`leadlink serve`). The dashboard's session cookie is signed with secret_key;
    # unset, each server process makes a random one (sessions end when it restarts).
    secret_key: str | None = Field(default=None, min_length=16)
    # The session cookie is Secure: browsers send it over HTTPS only (and to http://localhost
    # or 127.0.0.1, which they trust). Set false only to serve plain HTTP to other hosts.
    session_https_only: bool = True
    session_max_age_hours: float = Field(default=12.0, gt=0)
    # Hardening (docs/security.md). A request body larger than this is refused with 413 before it
    # is parsed or its token checked; a client that sends its body slower than
    # body_timeout_seconds in all is cut off with 408.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    # Failed dashboard logins allowed per client address (the `limits` library's syntax).
    login_rate_limit: str = "5/minute"

    @field_validator("db")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; spare users the dialect suffix.
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @model_validator(mode="after")
    def _bands_ordered(self) -> Settings:
        if self.review_threshold > self.accept_threshold:
            raise ValueError("review_threshold must not exceed accept_threshold")
        return self

    def claim_amounts(self) -> dict[str, float]:
        return {"M1": self.claim_m1, "M5": self.claim_m5, "M25": self.claim_m25}


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus explicit overrides; raise ConfigError if invalid."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"LEADLINK_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    return load_settings()
