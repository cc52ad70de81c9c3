"""Charts as self-contained SVG documents: no JavaScript, no CDN, no dependencies.

The dashboard inlines them in its pages and the benchmarks write them to files, so each
function returns a complete ``<svg xmlns=...>`` string with an accessible ``<title>``, axes,
ticks on "nice" numbers (powers of ten on log axes) and a legend. Every piece of text is
XML-escaped: labels come from data (names, reasons) and must not become markup.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

# Colour-blind-safe (Okabe-Ito), in the order series are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 36, 34, 48
LEGEND_ROW = 16


@dataclass(frozen=True)
class Box:
    """The plot area inside the svg, in pixels."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Axis:
    """Maps data values on [lo, hi] (linear or log10) to pixels on [start, end]."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def _t(self, v: float) -> float:
        return math.log10(v) if self.log else v

    def __call__(self, v: float) -> float:
        lo, hi = self._t(self.lo), self._t(self.hi)
        frac = 0.5 if hi == lo else (self._t(v) - lo) / (hi - lo)
        return self.start + frac * (self.end - self.start)


def nice_number(x: float, *, round_: bool) -> float:
    """Heckbert's nice numbers: 1, 2, 5 (or 10) times a power of ten."""
    if x <= 0:
        return 1.0
    exp = math.floor(math.log10(x))
    frac = x / 10**exp
    if round_:
        nice = 1 if frac < 1.5 else 2 if frac < 3 else 5 if frac < 7 else 10
    else:
        nice = 1 if frac <= 1 else 2 if frac <= 2 else 5 if frac <= 5 else 10
    return float(nice * 10**exp)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Ticks on nice numbers covering [lo, hi]; the first and last are the axis bounds."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        # One value: a unit either side (half the value for a small one), so large values
        # such as day ordinals do not get an axis spanning centuries.
        pad = abs(lo) * 0.5 if 0 < abs(lo) < 1 else 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_number(nice_number(hi - lo, round_=False) / max(count - 1, 1), round_=True)
    first, last = math.floor(lo / step) * step, math.ceil(hi / step) * step
    n = round((last - first) / step)
    # Round away float noise (0.30000000000000004) so labels print cleanly.
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return [round(first + i * step, digits) + 0.0 for i in range(n + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten covering [lo, hi] (both > 0); at least two."""
    a = math.floor(math.log10(lo))
    b = math.ceil(math.log10(hi))
    if b == a:
        b = a + 1
    return [10.0**e for e in range(a, b + 1)]


def format_number(v: float) -> str:
    """A tick label: integers without decimals, thousands with a comma, small values short."""
    if v == 0:
        return "0"
    if abs(v) >= 1e6 and abs(v) == 10 ** round(math.log10(abs(v))):
        return f"1e{round(math.log10(abs(v)))}" if v > 0 else f"-1e{round(math.log10(-v))}"
    if float(v).is_integer():
        return f"{int(v):,}"
    if abs(v) < 0.01:
        return f"{v:.0e}"
    return f"{v:,.6g}"


def _id(kind: str, title: str, payload: str) -> str:
    digest = hashlib.sha1(f"{kind}|{title}|{payload}".encode()).hexdigest()[:10]
    return f"chart-{digest}"


def _text(x: float, y: float, body: str, **attrs: str | float) -> str:
    extra = "".join(
        f" {k.rstrip('_').replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items()
    )
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(body)}</text>'


def _open(kind: str, title: str, width: int, height: int, payload: str) -> list[str]:
    ident = _id(kind, title, payload)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{ident}-title" '
        f'class="chart chart-{kind}" font-family={quoteattr(FONT)} font-size="11">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        _text(width / 2, 18, title, text_anchor="middle", font_size=13, font_weight="600"),
    ]


def _legend(
    names: Sequence[str], x: float, y: float, width: float, colours: Sequence[str] = PALETTE
) -> tuple[list[str], int]:
    """Legend entries laid out left to right, wrapping; returns (svg parts, rows used)."""
    parts, col, row = ['<g class="legend">'], x, 0
    for i, name in enumerate(names):
        w = 22 + 6.5 * len(name)
        if col + w > x + width and col > x:
            col, row = x, row + 1
        cy = y + row * LEGEND_ROW
        parts.append(
            f'<rect x="{col:.1f}" y="{cy - 8:.1f}" width="12" height="8" '
            f"fill={quoteattr(colours[i % len(colours)])}/>"
        )
        parts.append(_text(col + 16, cy, name))
        col += w
    parts.append("</g>")
    return parts, row + 1 if names else 0


def _layout(
    names: Sequence[str], width: int, height: int, colours: Sequence[str] = PALETTE
) -> tuple[Box, list[str]]:
    """The plot area under the title and the legend (which wraps), and the legend."""
    inner = width - MARGIN_LEFT - MARGIN_RIGHT
    legend, rows = _legend(names, MARGIN_LEFT, MARGIN_TOP + 6, inner, colours)
    top = MARGIN_TOP + rows * LEGEND_ROW + (6 if rows else 0)
    return Box(MARGIN_LEFT, top, inner, height - top - MARGIN_BOTTOM), legend


def _fits(text: str, room: float) -> bool:
    """A value label (10 px font, about 5.6 px a character) fits in ``room`` pixels."""
    return len(text) * 5.6 <= room + 2


def _frame(box: Box, x_label: str, y_label: str) -> list[str]:
    return [
        f'<rect class="plot-area" x="{box.left:.1f}" y="{box.top:.1f}" '
        f'width="{box.width:.1f}" height="{box.height:.1f}" fill="none" stroke="#888"/>',
        _text(box.left + box.width / 2, box.bottom + 36, x_label, text_anchor="middle"),
        _text(
            14,
            box.top + box.height / 2,
            y_label,
            text_anchor="middle",
            transform=f"rotate(-90 14 {box.top + box.height / 2:.1f})",
        ),
    ]


def _y_ticks(
    box: Box, axis: Axis, ticks: Sequence[float], fmt: Callable[[float], str]
) -> list[str]:
    parts = ['<g class="y-ticks">']
    for t in ticks:
        y = axis(t)
        parts.append(
            f'<line x1="{box.left:.1f}" x2="{box.right:.1f}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#e4e4e4"/>'
        )
        parts.append(_text(box.left - 6, y + 4, fmt(t), text_anchor="end", class_="tick"))
    parts.append("</g>")
    return parts


def _no_data(box: Box) -> str:
    return _text(
        box.left + box.width / 2,
        box.top + box.height / 2,
        "—",
        text_anchor="middle",
        class_="no-data",
        font_size=16,
    )


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    log_y: bool = False,
    width: int = 640,
    height: int = 320,
    x_format: Callable[[float], str] = format_number,
    y_format: Callable[[float], str] = format_number,
) -> str:
    """Lines with point markers, one per series. Points that cannot be drawn (not finite,
    or ≤ 0 on a log axis) are dropped; no drawable point at all gives empty axes.

    ``x_format``/``y_format`` label the ticks and points (e.g. day ordinals as dates).
    """

    def drawable(p: tuple[float, float]) -> bool:
        x, y = p
        return (
            math.isfinite(x) and math.isfinite(y) and (not log_x or x > 0) and (not log_y or y > 0)
        )

    clean = {name: sorted(p for p in pts if drawable(p)) for name, pts in series.items()}
    names = list(clean)
    box, legend = _layout(names, width, height)
    parts = _open("line", title, width, height, repr(sorted(clean.items())))
    parts += legend + _frame(box, x_label, y_label)
    xs = [x for pts in clean.values() for x, _ in pts]
    ys = [y for pts in clean.values() for _, y in pts]
    if not xs:
        parts += [_no_data(box), "</svg>"]
        return "\n".join(parts)
    xt = log_ticks(min(xs), max(xs)) if log_x else nice_ticks(min(xs), max(xs))
    yt = (
        log_ticks(min(ys), max(ys))
        if log_y
        else nice_ticks(min(min(ys), 0.0), max(max(ys), 0.0) or 1.0)
    )
    x_axis = Axis(xt[0], xt[-1], box.left, box.right, log_x)
    y_axis = Axis(yt[0], yt[-1], box.bottom, box.top, log_y)
    parts += _y_ticks(box, y_axis, yt, y_format)
    parts.append('<g class="x-ticks">')
    for t in xt:
        x = x_axis(t)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{box.top:.1f}" '
            f'y2="{box.bottom + 4:.1f}" stroke="#e4e4e4"/>'
        )
        parts.append(_text(x, box.bottom + 16, x_format(t), text_anchor="middle", class_="tick"))
    parts.append("</g>")
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(x_axis(x), y_axis(y), x, y) for x, y in clean[name]]
        parts.append(f'<g class="series" data-series={quoteattr(name)}>')
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in pts)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for px, py, x, y in pts:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}: {x_format(x)}, {y_format(y)}"
                "</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    y_label: str,
    width: int = 640,
    height: int = 320,
    fmt: Callable[[float], str] = format_number,
) -> str:
    """One bar per (label, value), the value printed on each bar with ``fmt``."""
    return stacked_bar_chart(
        [label for label, _ in bars],
        {"": [value for _, value in bars]},
        title=title,
        y_label=y_label,
        width=width,
        height=height,
        fmt=fmt,
    )


def stacked_bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    y_label: str,
    stacked: bool = True,
    width: int = 640,
    height: int = 320,
    fmt: Callable[[float], str] = format_number,
    colours: Sequence[str] | None = None,
) -> str:
    """Bars per category, one segment per series: stacked (totals) or grouped side by side.

    ``series[name][i]`` is that series' value for ``categories[i]``; missing values count as
    0. Negative values are not drawn (counts and money here are never negative). A series
    named ``""`` (a plain bar chart) gets no legend entry. ``colours`` (CSS colours, in the
    series' order) replace the default palette, e.g. red for high risk.
    """
    legend_names = [n for n in series if n != ""]
    values = {
        n: [max(0.0, float(v)) if math.isfinite(v) else 0.0 for v in vs] for n, vs in series.items()
    }

    def value(name: str, i: int) -> float:
        vs = values[name]
        return vs[i] if i < len(vs) else 0.0

    palette = tuple(colours) if colours else PALETTE
    box, legend = _layout(legend_names, width, height, palette)
    payload = repr((list(categories), sorted(values.items()), stacked))
    parts = _open("bar", title, width, height, payload)
    parts += legend + _frame(box, "", y_label)
    if not categories:
        parts += [_no_data(box), "</svg>"]
        return "\n".join(parts)
    n_series = max(len(values), 1)
    tops = [
        sum(value(n, i) for n in values)
        if stacked
        else max((value(n, i) for n in values), default=0.0)
        for i in range(len(categories))
    ]
    yt = nice_ticks(0.0, max(max(tops), 1e-9))
    y_axis = Axis(yt[0], yt[-1], box.bottom, box.top)
    parts += _y_ticks(box, y_axis, yt, format_number)
    slot = box.width / len(categories)
    bar_w = slot * 0.7 / (1 if stacked else n_series)
    label_every = max(1, math.ceil(len(categories) * 60 / box.width))
    for i, category in enumerate(categories):
        x0 = box.left + slot * i + slot * 0.15
        parts.append(f'<g class="bar-group" data-category={quoteattr(category)}>')
        base = 0.0
        for j, name in enumerate(values):
            v = value(name, i)
            lo, hi = (base, base + v) if stacked else (0.0, v)
            x = x0 if stacked else x0 + j * bar_w
            y_top, y_bottom = y_axis(hi), y_axis(lo)
            label = f"{category}{' · ' + name if name else ''}: {fmt(v)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{bar_w:.1f}" '
                f'height="{max(y_bottom - y_top, 0):.1f}" '
                f"fill={quoteattr(palette[j % len(palette)])}><title>{escape(label)}</title>"
                "</rect>"
            )
            if not stacked and v > 0 and _fits(fmt(v), slot / n_series):
                parts.append(
                    _text(
                        x + bar_w / 2,
                        y_top - 3,
                        fmt(v),
                        text_anchor="middle",
                        class_="value",
                        font_size=10,
                    )
                )
            base += v if stacked else 0.0
        if stacked and tops[i] > 0 and _fits(fmt(tops[i]), slot):
            parts.append(
                _text(
                    x0 + bar_w / 2,
                    y_axis(tops[i]) - 3,
                    fmt(tops[i]),
                    text_anchor="middle",
                    class_="value",
                    font_size=10,
                )
            )
        if i % label_every == 0:
            parts.append(
                _text(
                    box.left + slot * (i + 0.5),
                    box.bottom + 16,
                    category,
                    text_anchor="middle",
                    class_="tick",
                )
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
