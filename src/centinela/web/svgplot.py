"""Server-side SVG of an alert chart spec: bars/lines over time, or a subject-vs-peers strip.

Every text element is placed from an estimate of its rendered width (a conservative average
glyph width), so nothing is clipped: y labels use compact numbers and set the left margin, date
ticks are thinned until they fit, reference levels are named in a legend that wraps instead of
on the lines. Each spec is drawn twice, wide (720) and narrow (360); CSS shows the one that
fits the screen so phone text stays readable.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from centinela.web.chartspec import ChartSpec
from centinela.web.fmt import format_compact, format_number

FONT = 11
GLYPH = 0.66  # average glyph width / font size for DejaVu Sans / Arial digits and letters
SUBJECT = "#b3261e"
SECOND = "#1f6f8b"
PEER = "#5b6b7a"
BAND = "#c9d6e3"
WINDOW = "#fde7c4"
REF = "#7a1712"
MARKER = "#4a3c00"


def text_width(text: str, size: float = FONT) -> float:
    """Return the estimated rendered width of ``text`` in px."""
    return len(text) * size * GLYPH + 2


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Return 0 and round steps (1, 2, 2.5, 5 × 10^k) covering ``top``."""
    top = max(top, 1e-9)
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(top / step - 1e-9)
    return [step * i for i in range(n + 1)]


def _t(x: float, y: float, text: str, anchor: str = "start", size: float = FONT,
       fill: str = "#222", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}"{c}>{escape(text)}</text>')


def _wrap_words(text: str, width: float) -> list[str]:
    """Split ``text`` at spaces into lines no wider than ``width`` (a long word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _legend(entries: list[tuple[str, str]], x0: float, y0: float, width: float) -> tuple[list[str], float]:
    """Lay out (swatch markup, text) entries in wrapped rows; return markup and height used.

    An entry wider than the chart is itself wrapped onto several lines, so no legend text runs
    past the drawing's right edge on a phone.
    """
    out, x, y, row_h = [], x0, y0, 16
    for swatch, text in entries:
        lines = _wrap_words(text, width - 16)
        w = 16 + max(text_width(line) for line in lines)
        if x > x0 and (x + w > x0 + width or len(lines) > 1):
            x, y = x0, y + row_h
        out.append(f'<g transform="translate({x:.1f},{y:.1f})">{swatch}</g>')
        for i, line in enumerate(lines):
            out.append(_t(x + 16, y + 10 + i * row_h, line, cls="legend"))
        if len(lines) > 1:
            x, y = x0, y + row_h * len(lines)
        else:
            x += w + 12
    if x == x0 and y > y0:
        y -= row_h  # the last entry ended a row of its own
    return out, (y - y0) + row_h


def _swatch(kind: str, color: str) -> str:
    if kind == "bar":
        return f'<rect x="0" y="1" width="11" height="10" fill="{color}"/>'
    if kind == "partial":
        return (f'<rect x="0.5" y="1.5" width="10" height="9" fill="url(#hatch)" '
                f'stroke="{color}"/>')
    if kind == "band":
        return f'<rect x="0" y="1" width="11" height="10" fill="{BAND}"/>'
    if kind == "window":
        return f'<rect x="0" y="1" width="11" height="10" fill="{WINDOW}" stroke="#e0b060"/>'
    if kind == "ref":
        return f'<line x1="0" x2="12" y1="6" y2="6" stroke="{color}" stroke-width="2" stroke-dasharray="4 2"/>'
    if kind == "marker":
        return f'<line x1="6" x2="6" y1="0" y2="12" stroke="{color}" stroke-width="2"/>'
    return f'<line x1="0" x2="12" y1="6" y2="6" stroke="{color}" stroke-width="2"/>'


def render(spec: ChartSpec, width: int = 720) -> Markup:
    """Return the SVG of ``spec`` at ``width`` px (height follows the content)."""
    if spec.kind == "compare":
        return _compare(spec, width)
    return _time(spec, width)


def render_pair(spec: ChartSpec) -> Markup:
    """Return the wide and the narrow drawing of ``spec`` (CSS shows one)."""
    return Markup(f'<div class="chart-pair" data-chart="{escape(spec.key)}">'
                  f"{_wrap(render(spec, 720), 'wide')}{_wrap(render(spec, 360), 'narrow')}</div>")


def _wrap(svg: Markup, cls: str) -> str:
    return str(svg).replace('class="chart alert-chart"', f'class="chart alert-chart chart-{cls}"', 1)


def _open(spec: ChartSpec, width: int, height: float) -> list[str]:
    return [f'<svg class="chart alert-chart" viewBox="0 0 {width} {height:.0f}" '
            f'width="{width}" height="{height:.0f}" role="img" aria-label="{escape(spec.title)}" '
            f'data-unit="{escape(spec.unit_label)}" xmlns="http://www.w3.org/2000/svg">',
            f"<title>{escape(spec.title)}</title>",
            '<defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="5" height="5" fill="#fff"/>'
            f'<line x1="0" y1="0" x2="0" y2="5" stroke="{SUBJECT}" stroke-width="2"/>'
            "</pattern></defs>"]


def _time(spec: ChartSpec, width: int) -> Markup:
    keys = spec.keys
    n = max(len(keys), 1)
    values = [p.value for s in spec.series for p in s.points if p.value is not None]
    values += [r.value for r in spec.refs]
    if spec.band:
        values.append(spec.band.high)
    ticks = nice_ticks(max(values + [0.0]) * 1.05 or 1.0)
    top = ticks[-1] or 1.0
    labels = [format_compact(v, spec.lang) for v in ticks]
    left = 8 + max(text_width(s) for s in labels) + 6
    right, up = 10, 22
    plot_h = 150 if width < 500 else 190
    plot_w = width - left - right
    band_w = plot_w / n
    # Date ticks: thin until the widest label fits its slot with a gap.
    tick_texts = [spec.tick_label(k, short=width < 500) for k in keys]
    widest = max((text_width(t) for t in tick_texts), default=0) + 8
    every = max(1, math.ceil(widest / band_w))
    x_axis_y = up + plot_h
    legend_entries = _time_legend(spec)
    legend, legend_h = _legend(legend_entries, 8, 0, width - 16)
    height = x_axis_y + 22 + (16 if spec.x_label else 0) + 6 + legend_h + 6

    def x_of(i: float) -> float:
        return left + band_w * i

    def y_of(v: float) -> float:
        return up + plot_h - plot_h * min(v, top) / top

    out = _open(spec, width, height)
    # The unit, above the y labels (never rotated, never clipped: it is measured too).
    unit = spec.unit_label
    out.append(_t(8, 13, unit if text_width(unit) < width - 16 else unit[:40], cls="y-unit",
                  fill="#444"))
    if spec.window:
        lo, hi = spec.window
        i0 = keys.index(lo) if lo in keys else 0
        i1 = keys.index(hi) if hi in keys else n - 1
        out.append(f'<rect class="window" x="{x_of(i0):.1f}" y="{up}" '
                   f'width="{band_w * (i1 - i0 + 1):.1f}" height="{plot_h}" fill="{WINDOW}"/>')
    if spec.band:
        y_hi, y_lo = y_of(spec.band.high), y_of(spec.band.low)
        out.append(f'<rect class="band" x="{left:.1f}" y="{y_hi:.1f}" width="{plot_w:.1f}" '
                   f'height="{max(y_lo - y_hi, 1.5):.1f}" fill="{BAND}" opacity="0.8"/>')
    for v, s in zip(ticks, labels, strict=True):
        y = y_of(v)
        out.append(f'<line x1="{left:.1f}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#e2e2e2"/>')
        out.append(_t(left - 6, y + 4, s, "end", cls="y-tick"))
    last_right = -1.0
    for i in range(0, n, every):
        half = text_width(tick_texts[i]) / 2
        # Keep the label inside the drawing; drop it rather than overlap its neighbour.
        x = min(max(x_of(i + 0.5), half + 2), width - half - 2)
        if x - half < last_right + 4:
            continue
        out.append(_t(x, x_axis_y + 15, tick_texts[i], "middle", cls="x-tick"))
        last_right = x + half
    if spec.x_label:
        out.append(_t(left + plot_w / 2, x_axis_y + 31, spec.x_label, "middle", fill="#444",
                      cls="x-unit"))
    bars = [s for s in spec.series if s.mark == "bar"]
    slot = band_w * 0.8 / max(len(bars), 1)
    for b, s in enumerate(bars):
        color = s.color or (SUBJECT if b == 0 else SECOND)
        for i, p in enumerate(s.points):
            if p.value is None:
                continue
            x = x_of(i) + band_w * 0.1 + slot * b
            y = y_of(p.value)
            fill = "url(#hatch)" if p.partial else color
            stroke = f' stroke="{color}"' if p.partial else ""
            out.append(f'<rect class="bar{" partial" if p.partial else ""}" x="{x:.1f}" '
                       f'y="{y:.1f}" width="{max(slot - 1, 1):.1f}" '
                       f'height="{max(x_axis_y - y, 0.5):.1f}" fill="{fill}"{stroke}>'
                       f"<title>{escape(s.name)} · {escape(spec.tick_label(keys[i], False))}: "
                       f"{escape(format_number(p.value, spec.lang))} {escape(unit)}"
                       f"{escape(spec.partial_note) if p.partial else ''}</title></rect>")
    for j, s in enumerate(x for x in spec.series if x.mark == "line"):
        color = s.color or (PEER if j else SECOND)
        pts = [(x_of(i + 0.5), y_of(p.value), p) for i, p in enumerate(s.points)
               if p.value is not None]
        whole = [f"{x:.1f},{y:.1f}" for x, y, p in pts if not p.partial]
        dash = ' stroke-dasharray="6 3"' if s.dashed else ""
        if len(whole) > 1:
            out.append(f'<polyline class="line" fill="none" stroke="{color}" stroke-width="2"'
                       f'{dash} points="{" ".join(whole)}"/>')
        for x, y, p in pts:
            if len(pts) <= 62 or p.partial:
                fill = "#fff" if p.partial else color
                out.append(f'<circle class="pt{" partial" if p.partial else ""}" cx="{x:.1f}" '
                           f'cy="{y:.1f}" r="3" fill="{fill}" stroke="{color}"><title>'
                           f"{escape(s.name)} · {escape(spec.tick_label(p.key, False))}: "
                           f"{escape(format_number(p.value, spec.lang))} {escape(unit)}"
                           f"</title></circle>")
    for r in spec.refs:
        y = y_of(r.value)
        out.append(f'<line class="ref" x1="{left:.1f}" x2="{width - right}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="{r.color or REF}" stroke-width="1.5" '
                   f'stroke-dasharray="5 3"><title>{escape(r.label)}</title></line>')
    for m in spec.markers:
        if m.key in keys:
            x = x_of(keys.index(m.key))
            out.append(f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{up}" '
                       f'y2="{x_axis_y}" stroke="{MARKER}" stroke-width="2"><title>'
                       f"{escape(m.label)}</title></line>")
    out.append(f'<line x1="{left:.1f}" x2="{width - right}" y1="{x_axis_y}" y2="{x_axis_y}" '
               f'stroke="#888"/>')
    out.append(f'<g transform="translate(0,{height - legend_h - 6:.1f})">')
    out.extend(legend)
    out.append("</g></svg>")
    return Markup("".join(out))


def _time_legend(spec: ChartSpec) -> list[tuple[str, str]]:
    entries = []
    bars = 0
    lines = 0
    for s in spec.series:
        if s.mark == "bar":
            entries.append((_swatch("bar", s.color or (SUBJECT if bars == 0 else SECOND)), s.name))
            bars += 1
        else:
            entries.append((_swatch("line", s.color or (PEER if lines else SECOND)), s.name))
            lines += 1
    if any(p.partial for s in spec.series for p in s.points):
        entries.append((_swatch("partial", SUBJECT), spec.partial_note.strip(" ()")))
    if spec.band:
        entries.append((_swatch("band", BAND), spec.band.label))
    for r in spec.refs:
        entries.append((_swatch("ref", r.color or REF), r.label))
    for m in spec.markers:
        entries.append((_swatch("marker", MARKER), m.label))
    if spec.window:
        entries.append((_swatch("window", WINDOW), spec.window_label))
    return entries


def _compare(spec: ChartSpec, width: int) -> Markup:
    """Horizontal bars (subject, expected, peers' median…) over the peers' range."""
    rows = spec.bars
    values = [r.value for r in rows] + ([spec.band.high] if spec.band else [])
    ticks = nice_ticks(max(values + [0.0]) * 1.05 or 1.0)
    top = ticks[-1] or 1.0
    left, right, up = 8, 12, 22
    plot_w = width - left - right
    row_h = 38
    plot_h = row_h * len(rows)
    axis_y = up + plot_h + 4
    legend_entries = []
    if spec.band:
        legend_entries.append((_swatch("band", BAND), spec.band.label))
    legend, legend_h = _legend(legend_entries, 8, 0, width - 16)
    height = axis_y + 22 + legend_h + 6

    def x_of(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), top) / top

    out = _open(spec, width, height)
    out.append(_t(8, 13, spec.unit_label, fill="#444", cls="y-unit"))
    if spec.band:  # behind each bar only, so the row labels stay on white
        x0, x1 = x_of(spec.band.low), x_of(spec.band.high)
        for i in range(len(rows)):
            out.append(f'<rect class="band" x="{x0:.1f}" y="{up + row_h * i + 15}" '
                       f'width="{max(x1 - x0, 2):.1f}" height="18" fill="{BAND}"/>')
    for v in ticks:
        x = x_of(v)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{up}" y2="{axis_y}" stroke="#e2e2e2"/>')
    # Tick labels: thin until they fit; the last one is right-anchored so it stays inside.
    texts = [format_compact(v, spec.lang) for v in ticks]
    slot = plot_w / max(len(ticks) - 1, 1)
    every = max(1, math.ceil((max(text_width(s) for s in texts) + 8) / slot))
    for i in range(0, len(ticks), every):
        anchor = "start" if i == 0 else "end" if i == len(ticks) - 1 else "middle"
        out.append(_t(x_of(ticks[i]), axis_y + 15, texts[i], anchor, cls="x-tick"))
    for i, r in enumerate(rows):
        y = up + row_h * i
        color = SUBJECT if r.role == "subject" else PEER
        value = f"{format_number(r.value, spec.lang)} {spec.unit_short}".strip()
        label = f"{r.label}: {value}"
        size = FONT if text_width(label) <= plot_w else FONT - 1
        if text_width(label, size) > plot_w:  # a very long name: keep the value whole
            keep = max(int((plot_w - text_width(": " + value, size)) / (size * GLYPH)) - 1, 3)
            label = f"{r.label[:keep]}…: {value}"
        out.append(_t(left, y + 12, label, size=size, cls="bar-label"))
        bx = x_of(r.value)
        out.append(f'<rect class="bar {r.role}" x="{left}" y="{y + 17}" '
                   f'width="{max(bx - left, 1.5):.1f}" height="14" fill="{color}"/>')
    out.append(f'<g transform="translate(0,{height - legend_h - 6:.1f})">')
    out.extend(legend)
    out.append("</g></svg>")
    return Markup("".join(out))
