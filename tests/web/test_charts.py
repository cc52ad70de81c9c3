"""The SVG charts: well-formed XML, marks inside the plot area, nice and log ticks, escaping."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadlink.web.charts import (
    bar_chart,
    format_number,
    line_chart,
    log_ticks,
    nice_ticks,
    stacked_bar_chart,
)

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def plot_area(root: ET.Element) -> tuple[float, float, float, float]:
    (rect,) = [
        r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "plot-area"
    ]
    x, y = float(rect.get("x", "")), float(rect.get("y", ""))
    return x, y, x + float(rect.get("width", "")), y + float(rect.get("height", ""))


def points(root: ET.Element) -> list[tuple[float, float]]:
    return [
        (float(c.get("cx", "")), float(c.get("cy", "")))
        for c in root.iter("{http://www.w3.org/2000/svg}circle")
    ]


def tick_labels(root: ET.Element, group: str) -> list[str]:
    g = root.find(f"svg:g[@class='{group}']", NS)
    assert g is not None
    return [t.text or "" for t in g.iter("{http://www.w3.org/2000/svg}text")]


def inside(p: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    eps = 0.051  # coordinates are printed with one decimal
    return box[0] - eps <= p[0] <= box[2] + eps and box[1] - eps <= p[1] <= box[3] + eps


def test_line_chart_is_an_accessible_svg_document_with_every_point_inside() -> None:
    svg = line_chart(
        {
            "sqlite": [(1000, 2.5), (5000, 9.0), (50000, 70.2)],
            "postgresql": [(1000, 3.1), (5000, 11.0), (50000, 45.0)],
        },
        title="Match time",
        x_label="drivers",
        y_label="seconds",
    )
    root = parse(svg)
    title = root.find("svg:title", NS)
    assert title is not None and title.text == "Match time"
    assert root.get("aria-labelledby") == title.get("id")
    assert root.get("role") == "img"
    box = plot_area(root)
    pts = points(root)
    assert len(pts) == 6
    assert all(inside(p, box) for p in pts)
    legend = root.find("svg:g[@class='legend']", NS)
    assert legend is not None
    assert {t.text for t in legend.iter("{http://www.w3.org/2000/svg}text")} == {
        "sqlite",
        "postgresql",
    }
    # Larger y is drawn higher (smaller svg y) within a series.
    (sqlite,) = root.findall("svg:g[@data-series='sqlite']", NS)
    ys = [float(c.get("cy", "")) for c in sqlite.iter("{http://www.w3.org/2000/svg}circle")]
    assert ys == sorted(ys, reverse=True)


def test_linear_ticks_are_nice_numbers_covering_the_data() -> None:
    ticks = nice_ticks(0.0, 73.0)
    assert ticks[0] <= 0.0 and ticks[-1] >= 73.0
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1
    (step,) = steps
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 9) in {1.0, 2.0, 5.0}
    assert nice_ticks(0.1, 0.3) == [0.1, 0.15, 0.2, 0.25, 0.3]


def test_a_single_value_still_gets_an_axis() -> None:
    ticks = nice_ticks(5.0, 5.0)
    assert ticks[0] < 5.0 < ticks[-1]
    root = parse(line_chart({"only": [(3.0, 5.0)]}, title="t", x_label="x", y_label="y"))
    assert all(inside(p, plot_area(root)) for p in points(root))


def test_log_axes_tick_on_powers_of_ten_and_stay_monotone() -> None:
    assert log_ticks(3.0, 4200.0) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    data = [(10.0**k, 2.0**k) for k in range(1, 7)]
    root = parse(
        line_chart({"s": data}, title="t", x_label="n", y_label="ms", log_x=True, log_y=True)
    )
    assert tick_labels(root, "x-ticks") == ["10", "100", "1,000", "10,000", "100,000", "1e6"]
    pts = points(root)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert ys == sorted(ys, reverse=True)
    # Equal ratios are equal distances on a log axis.
    gaps = {round(b - a, 0) for a, b in zip(xs, xs[1:], strict=False)}
    assert len(gaps) == 1
    assert all(inside(p, plot_area(root)) for p in pts)


def test_log_axis_drops_points_it_cannot_draw() -> None:
    root = parse(
        line_chart(
            {"s": [(0.0, 1.0), (-1.0, 2.0), (10.0, 3.0), (100.0, float("nan"))]},
            title="t",
            x_label="x",
            y_label="y",
            log_x=True,
        )
    )
    assert len(points(root)) == 1


def test_text_from_data_is_escaped_not_markup() -> None:
    evil = '<script>alert("x")</script> & "Q" <b>'
    svg = line_chart({evil: [(1.0, 2.0), (2.0, 3.0)]}, title=evil, x_label=evil, y_label="y")
    root = parse(svg)
    assert "<script>" not in svg and "<b>" not in svg
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
    title = root.find("svg:title", NS)
    assert title is not None and title.text == evil
    bars = bar_chart([(evil, 3.0)], title=evil, y_label=evil)
    assert "<script>" not in bars
    group = parse(bars).find("svg:g[@class='bar-group']", NS)
    assert group is not None and group.get("data-category") == evil


def test_empty_series_give_empty_axes_not_an_error() -> None:
    for svg in (
        line_chart({}, title="nothing", x_label="x", y_label="y"),
        line_chart({"a": []}, title="nothing", x_label="x", y_label="y", log_y=True),
        bar_chart([], title="nothing", y_label="y"),
        stacked_bar_chart([], {"a": []}, title="nothing", y_label="y"),
    ):
        root = parse(svg)
        assert plot_area(root)
        assert root.find("svg:text[@class='no-data']", NS) is not None
        assert not points(root)


def bar_rects(root: ET.Element) -> list[ET.Element]:
    return [
        r for g in root.findall("svg:g[@class='bar-group']", NS) for r in g.findall("svg:rect", NS)
    ]


def test_bar_chart_heights_are_proportional_and_values_formatted() -> None:
    root = parse(
        bar_chart(
            [("M1", 25.0), ("M5", 50.0), ("M25", 100.0)],
            title="Claims",
            y_label="S/",
            fmt=lambda v: f"S/ {v:,.2f}",
        )
    )
    rects = bar_rects(root)
    heights = [float(r.get("height", "")) for r in rects]
    assert heights[1] == pytest.approx(2 * heights[0], abs=0.2)
    assert heights[2] == pytest.approx(4 * heights[0], abs=0.2)
    values = [
        t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "value"
    ]
    assert values == ["S/ 25.00", "S/ 50.00", "S/ 100.00"]
    box = plot_area(root)
    for r in rects:
        x, y = float(r.get("x", "")), float(r.get("y", ""))
        assert inside((x, y), box)
        assert inside((x + float(r.get("width", "")), y + float(r.get("height", ""))), box)


def test_stacked_bars_add_up_and_grouped_bars_sit_side_by_side() -> None:
    cats = ["w1", "w2"]
    data = {"in": [3.0, 1.0], "out": [2.0, 4.0]}
    stacked = parse(stacked_bar_chart(cats, data, title="t", y_label="n"))
    groups = stacked.findall("svg:g[@class='bar-group']", NS)
    for g in groups:
        a, b = g.findall("svg:rect", NS)
        # The second segment sits right on top of the first.
        assert float(b.get("y", "")) + float(b.get("height", "")) == pytest.approx(
            float(a.get("y", "")), abs=0.2
        )
        assert a.get("x") == b.get("x")
    grouped = parse(stacked_bar_chart(cats, data, title="t", y_label="n", stacked=False))
    for g in grouped.findall("svg:g[@class='bar-group']", NS):
        a, b = g.findall("svg:rect", NS)
        assert float(a.get("x", "")) < float(b.get("x", ""))
        assert float(a.get("y", "")) + float(a.get("height", "")) == pytest.approx(
            float(b.get("y", "")) + float(b.get("height", "")), abs=0.2
        )


def test_tick_labels_print_cleanly() -> None:
    assert format_number(0.30000000000000004) == "0.3"
    assert format_number(12000.0) == "12,000"
    assert format_number(0.001) == "1e-03"
    assert format_number(1e6) == "1e6"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), max_size=30), st.booleans())
def test_any_finite_points_land_inside_the_plot(pts: list[tuple[float, float]], log: bool) -> None:
    if log:
        pts = [(abs(x) + 1e-3, abs(y) + 1e-3) for x, y in pts]
    root = parse(line_chart({"s": pts}, title="t", x_label="x", y_label="y", log_x=log, log_y=log))
    box = plot_area(root)
    assert len(points(root)) == len(pts)
    assert all(inside(p, box) for p in points(root))


def test_custom_colours_and_axis_formats() -> None:
    svg = stacked_bar_chart(
        ["a"], {"high": [2.0], "low": [1.0]}, title="t", y_label="n", colours=["#b3261e", "#9aa5b1"]
    )
    root = parse(svg)
    assert [r.get("fill") for r in bar_rects(root)] == ["#b3261e", "#9aa5b1"]
    legend = root.find("svg:g[@class='legend']", NS)
    assert legend is not None
    assert [r.get("fill") for r in legend.findall("svg:rect", NS)] == ["#b3261e", "#9aa5b1"]
    days = line_chart(
        {"s": [(739000.0, 1.0), (739004.0, 3.0)]},
        title="t",
        x_label="d",
        y_label="n",
        x_format=lambda v: f"day {v:.0f}",
        y_format=lambda v: f"{v:.0f} u",
    )
    root = parse(days)
    assert tick_labels(root, "x-ticks")[0] == "day 739000"
    assert all(label.endswith(" u") for label in tick_labels(root, "y-ticks"))


def test_one_large_x_value_gets_a_narrow_axis() -> None:
    # A day ordinal alone must not stretch the axis over centuries.
    ticks = nice_ticks(739000.0, 739000.0)
    assert ticks[0] >= 738998 and ticks[-1] <= 739002
