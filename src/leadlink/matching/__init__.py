"""The matching core: pure functions over frames. No database, no files, no clock.

prepared = prepare(canonical_frame)            # normalise
decisions = resolve(query, registry, Bands())  # block, apply rules, decide

Importing the package never imports Splink (the store reads ``reasons`` through it): only
``model`` and ``training`` do, and whoever scores with a model imports them.
"""

from leadlink.matching.engine import Bands, clusters, resolve
from leadlink.matching.frames import CANONICAL_FIELDS, canonical_from_rows, prepare
from leadlink.matching.reasons import Reason
from leadlink.matching.rules import DRIVER_RULES, RULES, Rule, rule_named

__all__ = [
    "CANONICAL_FIELDS",
    "DRIVER_RULES",
    "RULES",
    "Bands",
    "Reason",
    "Rule",
    "canonical_from_rows",
    "clusters",
    "prepare",
    "resolve",
    "rule_named",
]
