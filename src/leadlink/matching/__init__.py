"""The matching core: pure functions over frames. No database, no files, no clock.

prepared = prepare(canonical_frame)            # normalise
decisions = resolve(query, registry, Bands())  # block, apply rules, decide
"""

from leadlink.matching.engine import Bands, clusters, resolve
from leadlink.matching.frames import CANONICAL_FIELDS, canonical_from_rows, prepare
from leadlink.matching.reasons import Band, Reason
from leadlink.matching.rules import DRIVER_RULES, RULES, Rule, rule_named

__all__ = [
    "CANONICAL_FIELDS",
    "DRIVER_RULES",
    "RULES",
    "Band",
    "Bands",
    "Reason",
    "Rule",
    "canonical_from_rows",
    "clusters",
    "prepare",
    "resolve",
    "rule_named",
]
