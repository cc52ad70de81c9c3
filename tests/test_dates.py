from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadlink.dates import (
    ACCEPTED_FORMATS,
    DateParseError,
    normalise_date,
    parse_date,
    parse_timestamp,
    to_iso,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", dt.date(2024, 3, 5)),
        ("  2024-03-05 ", dt.date(2024, 3, 5)),
        ("2024-03-05 14:30", dt.datetime(2024, 3, 5, 14, 30)),
        ("2024-03-05T14:30:59", dt.datetime(2024, 3, 5, 14, 30, 59)),
        ("05/03/2024", dt.date(2024, 3, 5)),
        ("5/3/2024", dt.date(2024, 3, 5)),
        ("29/02/2024", dt.date(2024, 2, 29)),
        ("20240305", dt.date(2024, 3, 5)),
    ],
)
def test_accepted(text: str, expected: dt.date) -> None:
    assert parse_timestamp(text) == expected
    assert type(parse_timestamp(text)) is type(expected)
    assert parse_date(text) == dt.date(expected.year, expected.month, expected.day)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "2024-02-30",
        "29/02/2023",
        "31/04/2024",
        "03/13/2024",  # US month first: month 13
        "2024-3-5",
        "2024/03/05",
        "05-03-2024",
        "2024-03-05T25:00",
        "2024-03-05 10:00:00.123",
        "2024-03-05T10:00:00Z",
        "2024-03-05 10:00+05:00",
        "0000-01-01",
        "202403051",
        "٢٠٢٤٠٣٠٥",  # Arabic-Indic digits are not accepted
        "March 5, 2024",
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(DateParseError) as info:
        parse_timestamp(text)
    assert ACCEPTED_FORMATS in str(info.value)
    assert repr(text) in str(info.value)


def test_long_values_are_cut_in_the_message() -> None:
    with pytest.raises(DateParseError) as info:
        parse_date("9" * 10_000)
    assert len(str(info.value)) < 300


def test_to_iso() -> None:
    assert to_iso(dt.date(1, 2, 3)) == "0001-02-03"
    assert to_iso(dt.datetime(2024, 3, 5, 7, 8)) == "2024-03-05T07:08:00"
    assert normalise_date("05/03/2024") == "2024-03-05"
    assert normalise_date("2024-03-05 07:08") == "2024-03-05T07:08:00"


@given(st.dates())
def test_round_trip_in_every_date_format(day: dt.date) -> None:
    y, m, d = f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}"
    for text in (f"{y}-{m}-{d}", f"{d}/{m}/{y}", f"{y}{m}{d}"):
        assert parse_timestamp(text) == day
        assert normalise_date(text) == f"{y}-{m}-{d}"


@given(st.datetimes().map(lambda t: t.replace(microsecond=0)), st.sampled_from([" ", "T"]))
def test_round_trip_with_a_time(stamp: dt.datetime, sep: str) -> None:
    text = f"{stamp.year:04d}-{stamp.month:02d}-{stamp.day:02d}{sep}{stamp:%H:%M:%S}"
    assert parse_timestamp(text) == stamp
    assert parse_timestamp(to_iso(stamp)) == stamp
    if stamp.second == 0:
        assert parse_timestamp(text[:-3]) == stamp


@given(st.text(max_size=40) | st.from_regex(r"[0-9/:T -]{0,20}", fullmatch=True))
def test_arbitrary_text_parses_or_raises_the_designated_error(text: str) -> None:
    try:
        value = parse_timestamp(text)
    except DateParseError:
        return
    assert normalise_date(to_iso(value)) == to_iso(value)
