"""Server-side SVG: line charts of monthly or daily series, and the map of Peru."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from markupsafe import Markup, escape

from centinela.geo.shapes import view as shape_view
from centinela.web.fmt import (
    format_compact,
    format_date,
    format_decimal,
    format_month,
    format_number,
)
from centinela.web.i18n import translate
from centinela.web.svgplot import text_width
from centinela.web.views.common import Series
from centinela.web.views.geo import MapContext

COLORS = ("#b3261e", "#5b6b7a", "#1f6f8b", "#7a5c00")


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_MONTH = re.compile(r"\d{4}-\d{2}")
TICK_GAP = 8  # px between two x labels at least


def point_label(label: str, lang: str) -> str:
    """A point's label in ``lang``: an ISO day as "5 dic 2026", a month as "dic 2026"."""
    if ISO_DAY.fullmatch(label):
        return format_date(label, lang)
    if ISO_MONTH.fullmatch(label):
        return format_month(label, lang)
    return label


def tick_candidates(labels: list[str], lang: str) -> list[tuple[int, str]]:
    """Return (index, text) of the x labels worth showing: the first day of each month of a
    daily series ("oct 26"), every month of a monthly one, else every label."""
    if labels and all(ISO_DAY.fullmatch(x) for x in labels):
        firsts = [(i, format_month(x[:7], lang, "short")) for i, x in enumerate(labels)
                  if x.endswith("-01")]
        if len(firsts) >= 2:
            return firsts
        return [(i, format_date(x, lang, "d MMM")) for i, x in enumerate(labels)]
    if labels and all(ISO_MONTH.fullmatch(x) for x in labels):
        return [(i, format_month(x, lang, "short")) for i, x in enumerate(labels)]
    return list(enumerate(labels))


def x_ticks(labels: list[str], lang: str, x_of: Callable[[int], float],
            width: int) -> list[tuple[float, str]]:
    """Return (x, text) of the x labels, thinned so that no two overlap and none is clipped."""
    cands = tick_candidates(labels, lang)
    if not cands:
        return []
    widest = max(text_width(t) for _, t in cands) + TICK_GAP
    slot = min((x_of(b) - x_of(a) for (a, _), (b, _) in zip(cands, cands[1:], strict=False)),
               default=widest)
    step = max(1, math.ceil(widest / max(slot, 1e-9)))
    out: list[tuple[float, float, str]] = []  # (x, half width, text)
    chosen = cands[::step]
    for n, (i, text) in enumerate(chosen):
        half = text_width(text) / 2
        x = min(max(x_of(i), half + 2), width - half - 2)  # inside the drawing, never clipped
        if out and x - half < out[-1][0] + out[-1][1] + TICK_GAP:
            # Pushed onto its neighbour by the clamp: the newest label wins at the right end.
            if n != len(chosen) - 1 or len(out) < 2:
                continue
            out.pop()
        out.append((x, half, text))
    return [(x, text) for x, _, text in out]


def line_chart(series: list[Series | None], title: str, width: int = 720, height: int = 240,
               threshold: float | None = None,
               lines: list[tuple[float, str]] | None = None, lang: str = "es") -> Markup:
    """Return an inline SVG line chart of ``series`` sharing the same labels.

    ``lines`` are labelled reference levels (e.g. 50 and 90 MME/day); dates on the x axis and
    numbers are written in ``lang``.
    """
    drawn = [s for s in series if s is not None and s.points]
    if not drawn:
        return Markup("")
    labels = [p.label for p in drawn[0].points]
    lines = lines or []
    top = max([p.value for s in drawn for p in s.points] + [threshold or 0, 1e-9]
              + [v * 1.1 for v, _ in lines])
    # The left margin fits the widest y label (compact numbers: "1.4 M", never ",374,848").
    y_labels = [format_compact(top * k / 4, lang) for k in range(5)]
    left, right, up, down = 12 + max(text_width(t) for t in y_labels), 12, 14, 40
    w, h = width - left - right, height - up - down
    n = max(len(labels) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + w * i / n, up + h - h * v / top

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>"]
    for k in range(5):
        v = top * k / 4
        _, y = xy(0, v)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                   f'text-anchor="end">{escape(y_labels[k])}</text>')
    # Date ticks in words (month starts of a daily series), thinned so they never overlap.
    for x, text in x_ticks(labels, lang, lambda i: xy(i, 0)[0], width):
        out.append(f'<text x="{x:.1f}" y="{height - down + 16}" font-size="11" '
                   f'text-anchor="middle" class="x-tick">{escape(text)}</text>')
    if threshold:
        _, y = xy(0, threshold)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#b3261e" stroke-dasharray="4 3"/>')
    for value, label in lines:
        _, y = xy(0, value)
        out.append(f'<line class="ref" x1="{left}" x2="{width - right}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="#b3261e" stroke-dasharray="4 3"/>'
                   f'<text x="{width - right - 4}" y="{y - 4:.1f}" font-size="11" '
                   f'text-anchor="end" fill="#8c1d18">{escape(label)}</text>')
    for idx, s in enumerate(drawn):
        color = COLORS[idx % len(COLORS)]
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, p.value)
                                                      for i, p in enumerate(s.points)))
        dash = ' stroke-dasharray="6 4"' if idx else ""
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} '
                   f'points="{pts}"><title>{escape(s.name)}</title></polyline>')
        if len(s.points) <= 31:
            for i, p in enumerate(s.points):
                x, y = xy(i, p.value)
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                           f"<title>{escape(s.name)} {escape(point_label(p.label, lang))}: "
                           f"{escape(format_number(p.value, lang))}</title>"
                           "</circle>")
        out.append(f'<text x="{left + 8 + 170 * idx}" y="{height - 6}" font-size="12" '
                   f'fill="{color}">■ {escape(s.name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def layer_value(ctx: MapContext, value: float | None, lng: str) -> str:
    """Return a layer's figure as the page writes it (2 decimals for rates, counts whole)."""
    if value is None:
        return ""
    return format_decimal(value, lng) if ctx.layer == "rate" else format_number(value, lng)


def region_map_svg(ctx: MapContext, lng: str) -> Markup:
    """Return the SVG of the regions of ``ctx``: each links one level down (department →
    provinces → districts); the tooltip gives the layer's figure with its unit."""
    geo = shape_view({"department": 2, "province": 4, "district": 6}[ctx.level], ctx.region)
    paths = geo.paths()
    title = translate("map.title", lng)
    unit = translate(f"map.unit_{ctx.layer}", lng)
    out = [f'<svg class="map" viewBox="{ctx.viewbox}" role="img" aria-label="{escape(title)}" '
           'xmlns="http://www.w3.org/2000/svg">']
    for r in ctx.regions:
        d = paths.get(r.code)
        if not d:
            continue
        tip = r.name
        if r.visible:
            tip += f" — {layer_value(ctx, r.value, lng)} {unit}"
        shape = (f'<path d="{d}" class="shade-{r.shade}" data-code="{r.code}">'
                 f"<title>{escape(tip)}</title></path>")
        if r.visible and r.drill:
            shape = (f'<a href="/map?region={r.code}&amp;layer={ctx.layer}" '
                     f'aria-label="{escape(r.name)}">{shape}</a>')
        out.append(shape)
    if ctx.outliers:
        out.append('<g class="outlier-layer">')
        for o in ctx.outliers:
            if o.x is None:
                continue
            radius = 6 + 2 * min(max((o.ratio or 1) - 1, 0), 8)
            tip = f"{o.name} — ×{format_decimal(o.ratio or 0, lng, 1)} — {', '.join(o.drivers)}"
            out.append(f'<a href="/alerts/{escape(o.alert_id)}"><circle cx="{o.x}" cy="{o.y}" '
                       f'r="{radius:.1f}" class="outlier outlier-{escape(o.channel)}" '
                       f'data-code="{escape(o.code)}"><title>{escape(tip)}</title></circle></a>')
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))
