"""The message keys the dashboard builds at run time, for the catalogs.

``pybabel extract`` finds every literal ``t("group.key")`` in the templates and the code, but a
code from the data is labelled with a key built as it renders (``t.code("stage", s)``,
``t('stage_help.' ~ s)``). This module names, per group, the codes such a key can end in,
taken from where the codes are defined wherever one place does define them; ``extract`` is the
Babel extractor ``babel.cfg`` runs on this file, so the catalogs' template (``messages.pot``)
holds those keys too and ``pybabel update`` never marks them obsolete.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, get_args

from leadlink.matching.decision import Confidence
from leadlink.matching.model_frame import FIELDS as MODEL_FIELDS
from leadlink.matching.reasons import Reason
from leadlink.matching.rules import CONFLICT, RULES, WEAK
from leadlink.pipeline.money.activity import ANCHORS
from leadlink.pipeline.money.claim_facts import STATUSES as CLAIM_STATUSES
from leadlink.pipeline.money.funnel import STAGES
from leadlink.pipeline.operations.alerts import KINDS as ALERT_KINDS
from leadlink.pipeline.operations.tokens import ROLES
from leadlink.pipeline.resolution.search import KINDS as SEARCH_KINDS
from leadlink.store.gap import GAP_REASONS, RISKS
from leadlink.store.segments import EXPIRED, NOT_MATCHED, SEGMENTS
from leadlink.web.pages.common import NAV
from leadlink.web.pages.persons import MERGE_COUNTS, SPLIT_COUNTS, UNMERGE_COUNTS
from leadlink.web.pages.review import FIELDS
from leadlink.web.routes.api_alerts import Severity
from leadlink.web.routes.api_jobs import RunStatus
from leadlink.web.routes.api_leads import LeadStatus
from leadlink.web.routes.api_review import ReviewStatus

# Rules that are not matching rules but still label a link: the model's own decision, an
# analyst's acceptance, a lead that started a new person.
LINK_RULES = ("model", "review_accept", "new_person")
# The jobs the dashboard lists (the worker's and the ones a person starts).
JOB_KINDS = ("ingest", "match", "queue_seed", "recover", "claims", "alerts", "quarantine",
             "merge", "unmerge", "split", "backfill_origins")  # fmt: skip
# The counts of the recovery queue shown on /jobs, and of a recover run on its chart.
QUEUE_STATES = ("pending", "matched", "unmatched", "parked", "due")
RUN_COUNTS = ("matched", "unmatched", "failed")
# How a lead came to the partner (store.models.Origin.origin).
ORIGINS = ("cabinet_lead", "scout_registration", "migration", "legacy_external")
# The statuses the error page names (web/errors.py maps every error to one of them).
ERROR_STATUSES = (401, 403, 404, 409, 422, 500, 503)

CODE_GROUPS: dict[str, tuple[object, ...]] = {
    "stage": STAGES,
    "stage_help": STAGES,
    "gap_reason": GAP_REASONS,
    "gap_help": GAP_REASONS,
    "risk": RISKS,
    "reason": tuple(r.value for r in Reason),
    "segment": SEGMENTS,
    "segment_help": SEGMENTS,
    # Why a backlog lead is lost: the engine's reason, or one of the segments' own two.
    "loss": (*(r.value for r in Reason), EXPIRED, NOT_MATCHED),
    "rule": (*(r.name for r in RULES), WEAK.name, CONFLICT.name, *LINK_RULES),
    "confidence": get_args(Confidence),
    "field": FIELDS,
    "model_field": MODEL_FIELDS,
    "job": JOB_KINDS,
    "job_status": ("never", *get_args(RunStatus)),
    "queue": QUEUE_STATES,
    "backlog": RUN_COUNTS,
    "review_status": get_args(ReviewStatus),
    # One item's status, said inside a sentence (errors.Term in review_item_decided).
    "item_status": ("open", "accepted", "rejected", "superseded"),
    "claim_status": CLAIM_STATUSES,
    "alert": ALERT_KINDS,
    "anchor": ANCHORS,
    "severity": get_args(Severity),
    "origin": ORIGINS,
    "role": ROLES,
    "error": ERROR_STATUSES,
    "merge_count": tuple(dict.fromkeys((*MERGE_COUNTS, *UNMERGE_COUNTS, *SPLIT_COUNTS))),
    "conflict": ("identity_number", "family_name"),
    "lead_status": get_args(LeadStatus),
    "matched_on": SEARCH_KINDS,
}


def code_keys() -> list[str]:
    """Every key built at run time, ``group.code``, in a stable order; and the navigation's,
    which the page layout looks up from ``NAV``."""
    built = [f"{group}.{code}" for group, codes in CODE_GROUPS.items() for code in codes]
    return [*built, *(key for _, key, _ in NAV)]


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extraction method: the keys of ``CODE_GROUPS``, whatever the file holds."""
    for key in code_keys():
        yield 1, "t", key, []
