"""What the probabilistic tier compares, without Splink: the model frame and its constants.

Everything here is plain Arrow, so the store, the blocking keys and the online path can use
the model's columns without importing Splink (matching/model.py trains and scores with it).

- ``model_frame(prepared)``: a prepared frame (``frames.prepare``) -> the model's columns
  (``MODEL_FRAME_SCHEMA``), computed column-wise with ``pyarrow.compute``: one definition,
  fast for one row (the online path) and for a million (a batch).
- ``FIELDS``, ``TF_COLUMNS``, ``PREDICT_BLOCKS``: the comparisons' fields, those weighed by
  their frequency, the blocking rules of predictions.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# Bumped when the model frame or the comparisons change: a stored model of another version is
# retrained rather than applied to columns it was not trained on.
MODEL_VERSION = "leadlink-fs-1"

FIELDS = (
    "given", "family1", "family2", "name_bag", "phone", "doc", "plate", "brand_model", "date",
    "birth_date", "postcode", "city", "state", "address", "street_number", "email",
)  # fmt: skip

TF_COLUMNS = ("given", "family1", "family2", "brand_model", "city")

MODEL_FRAME_SCHEMA = pa.schema(
    [("unique_id", pa.int64()), ("given", pa.string()), ("family1", pa.string()),
     ("family2", pa.string()), ("name_bag", pa.list_(pa.string())), ("phone", pa.string()),
     ("phone7", pa.string()), ("doc", pa.string()), ("plate", pa.string()),
     ("brand_model", pa.string()), ("date", pa.date32()),
     *((name, pa.string()) for name in ("birth_date", "postcode", "city", "state", "address",
                                        "street_number", "email"))]
)  # fmt: skip

# Columns the model takes from the prepared frame as they are.
_KEPT = ("given", "phone", "plate", "brand_model", "date", "birth_date", "postcode", "city",
         "state", "address", "street_number", "email")  # fmt: skip

# Blocking rules for predictions: each holds only if its columns exist (model.present_fields).
# Names alone never block: common surnames make two-name blocks explode (at 1 M leads x 500 k
# drivers, family1 + given is 84 M pairs and family1 + family2 274 M; the whole name is 2.2 M,
# a given and a family name with the car 3-4 M). What the model may link alone needs a strong
# key or the car anyway (outcome.Guard); a name-only pair could at most be proposed for review.
PREDICT_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("phone",),
    ("phone7",),
    ("doc",),
    ("plate",),
    ("email",),
    ("family1", "family2", "given"),
    ("family1", "given", "brand_model"),
    ("given", "family2", "brand_model"),
    ("birth_date", "family1"),
    ("birth_date", "given"),
    ("postcode", "family1"),
    # Only `leadlink link`/`dedupe` data has these fields (our sources have no birth date or
    # postcode), so `match` never blocks on them. On FEBRL they are where the true pairs with a
    # mistyped name were never compared (benchmarks/RESULTS.md "FEBRL"): a date of birth alone
    # has ~36,500 values a century, a postcode with the street number is one address.
    ("birth_date",),
    ("postcode", "street_number"),
)

SCORED_SCHEMA = pa.schema(
    [("rid", pa.int64()), ("cid", pa.int64()), ("probability", pa.float64()),
     ("weight", pa.float64()), ("waterfall", pa.string())]
)  # fmt: skip

# Pairs under this match probability are dropped by every scorer: never a candidate worth keeping.
SCORE_THRESHOLD = 0.05

_STRINGS = pa.list_(pa.string())
_NO_STRINGS = pa.scalar([], _STRINGS)


def _element(lists: pa.ChunkedArray, index: int) -> pa.ChunkedArray:
    """Item ``index`` (0-based) of each list, NULL past its end or for a NULL list (as SQL's
    ``lists[index + 1]``)."""
    whole = pc.fill_null(lists.cast(_STRINGS), _NO_STRINGS)
    # A fixed-size slice pads short lists with NULL, so flattening keeps one value per row.
    return pc.list_flatten(pc.list_slice(whole, index, index + 1, return_fixed_size_list=True))


def model_frame(prepared: pa.Table) -> pa.Table:
    """The model's columns of a prepared frame (``MODEL_FRAME_SCHEMA``).

    family1, family2: the first two family names; name_bag: the name tokens of a record whose
    family names are unknown (a full name in one field), NULL otherwise; phone7: the phone's
    last 7 digits; doc: the first document number. A frame prepared with ``dirty=True``
    (frames.DIRTY_SCHEMA) gives the model the digits of a phone that is no phone where the
    phone is missing: compared by the phone's own levels, never seen by the rules."""
    family, tokens = prepared.column("family"), prepared.column("tokens")
    phone = prepared.column("phone").cast(pa.string())
    if "phone_text" in prepared.column_names:
        phone = pc.coalesce(phone, prepared.column("phone_text").cast(pa.string()))
    full_name_only = pc.and_kleene(pc.equal(pc.list_value_length(family), 0),
                                   pc.greater(pc.list_value_length(tokens), 0))  # fmt: skip
    columns = {
        "unique_id": prepared.column("rid"),
        "family1": _element(family, 0),
        "family2": _element(family, 1),
        "name_bag": pc.if_else(full_name_only, tokens.cast(_STRINGS), pa.nulls(1, _STRINGS)[0]),
        "phone7": pc.utf8_slice_codeunits(phone, -7),
        "doc": _element(prepared.column("ids"), 0),
        **{name: prepared.column(name) for name in _KEPT},
        "phone": phone,
    }
    return pa.table(
        [columns[name] for name in MODEL_FRAME_SCHEMA.names], names=MODEL_FRAME_SCHEMA.names
    ).cast(MODEL_FRAME_SCHEMA)
