"""Horizontal bar charts with one row per comparison level, grouped by comparison: the model's
m/u parameters and match weights drawn as Splink draws them (``m_u_parameters_chart``,
``match_weights_chart``), as self-contained SVG built from web/charts.py's pieces.

A chart is one or more panels side by side (Splink's m/u chart: m amongst matches, u amongst
non-matches), sharing the rows' labels on the left. Each panel has its own axis; a value
outside it (a match weight of -85 where EM drove m to ~0) is drawn clipped to the axis, with
an arrow, and its true value printed. Every text is escaped by ``charts._text``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from leadlink.web.charts import Axis, _open, _text, format_number, nice_ticks

ROW = 18
LABEL_WIDTH = 300
GAP = 24
TOP = 58
BOTTOM = 44
VALUE_ROOM = 56
POSITIVE, NEGATIVE, NEUTRAL = "#009E73", "#D55E00", "#0072B2"


@dataclass(frozen=True)
class Row:
    group: str  # the comparison (printed once, on its first row)
    label: str  # the level


@dataclass(frozen=True)
class Panel:
    title: str
    values: Sequence[float | None]  # one per row; None draws nothing
    lo: float
    hi: float
    fmt: Callable[[float], str] = format_number
    signed: bool = False  # colour by sign (weights) rather than one colour (probabilities)


def weight_axis(values: Sequence[float | None], limit: float = 20.0) -> tuple[float, float]:
    """Bounds of a match-weight axis: the values', 0 included, at most ``limit`` either side
    (what lies beyond is drawn clipped)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo = max(min([*finite, 0.0]), -limit)
    hi = min(max([*finite, 0.0]), limit)
    ticks = nice_ticks(lo, hi if hi > lo else lo + 1.0)
    return ticks[0], ticks[-1]


def level_chart(rows: Sequence[Row], panels: Sequence[Panel], *, title: str,
                width: int = 960) -> str:  # fmt: skip
    """One row per level, the comparison's name on its first row, a rule between groups."""
    height = TOP + ROW * max(len(rows), 1) + BOTTOM
    payload = repr(([(r.group, r.label) for r in rows],
                    [(p.title, list(p.values)) for p in panels]))  # fmt: skip
    parts = _open("levels", title, width, height, payload)
    inner = width - LABEL_WIDTH - GAP * len(panels)
    panel_width = inner / max(len(panels), 1)
    bottom = TOP + ROW * len(rows)
    previous = None
    parts.append('<g class="rows">')
    for i, row in enumerate(rows):
        y = TOP + ROW * i
        if row.group != previous:
            if previous is not None:
                parts.append(f'<line x1="8" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" '
                             'stroke="#bbbbbb"/>')  # fmt: skip
            parts.append(_text(8, y + 13, row.group, font_weight="600", class_="group"))
            previous = row.group
        parts.append(_text(LABEL_WIDTH - 6, y + 13, row.label, text_anchor="end",
                           class_="level"))  # fmt: skip
    parts.append("</g>")
    for j, panel in enumerate(panels):
        left = LABEL_WIDTH + GAP / 2 + j * (panel_width + GAP)
        parts += _panel(panel, rows, left, panel_width, bottom)
    parts.append("</svg>")
    return "\n".join(parts)


def _panel(panel: Panel, rows: Sequence[Row], left: float, width: float,
           bottom: float) -> list[str]:  # fmt: skip
    ticks = nice_ticks(panel.lo, panel.hi)
    # Room on the right for the value printed after the longest bar.
    width -= VALUE_ROOM
    axis = Axis(ticks[0], ticks[-1], left, left + width)
    parts = [f'<g class="panel" data-panel={quoteattr(panel.title)}>',
             _text(left + width / 2, TOP - 8, panel.title, text_anchor="middle",
                   font_weight="600")]  # fmt: skip
    for t in ticks:
        x = axis(t)
        colour = "#888888" if t == 0 else "#e4e4e4"
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP:.1f}" y2="{bottom + 4:.1f}" '
                     f'stroke="{colour}"/>')  # fmt: skip
        parts.append(_text(x, bottom + 16, panel.fmt(t), text_anchor="middle", class_="tick"))
    zero = axis(min(max(0.0, ticks[0]), ticks[-1]))
    for i, (row, value) in enumerate(zip(rows, panel.values, strict=True)):
        y = TOP + ROW * i
        if value is None or not math.isfinite(value):
            parts.append(_text(zero + 4, y + 13, "—", class_="no-value"))
            continue
        shown = min(max(value, ticks[0]), ticks[-1])
        clipped = shown != value
        x0, x1 = sorted((zero, axis(shown)))
        colour = (POSITIVE if value >= 0 else NEGATIVE) if panel.signed else NEUTRAL
        label = f"{row.group} · {row.label}: {panel.fmt(value)}"
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 3:.1f}" width="{max(x1 - x0, 1.0):.1f}" '
            f'height="{ROW - 6}" fill="{colour}"><title>{escape(label)}</title></rect>'
        )
        text = ("◀ " if value < shown else "") + panel.fmt(value) + (" ▶" if value > shown else "")
        if value >= 0 or not panel.signed:
            parts.append(_text(x1 + 3, y + 13, text, font_size=10,
                               class_="value clipped" if clipped else "value"))  # fmt: skip
        else:
            parts.append(_text(max(x0 - 3, left + 2), y + 13, text, font_size=10,
                               text_anchor="end" if x0 - 3 > left + 40 else "start",
                               class_="value clipped" if clipped else "value"))  # fmt: skip
    parts.append("</g>")
    return parts
