"""Vector charts of the report as inline SVG strings: choropleths of Peru (departments, and Lima
and Callao districts) from the shipped INEI GeoJSON, bar charts and a quarterly trend chart.

Pure functions of their inputs (no clock, no randomness): the same figures give the same bytes.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from html import escape

from centinela.reference.ubigeo import data_path

# Sequential palette (ColorBrewer YlOrRd, 5 classes) and a neutral grey for "no use recorded".
PALETTE = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
EMPTY = "#eeeeee"
FENT, OTHER = "#b2182b", "#2166ac"


def _num(x: float, digits: int = 1) -> str:
    """es-PE number as the web app writes it: a (non-breaking) space between thousands and a
    decimal comma (``1 943 159,4``)."""
    from centinela.quarterly.words import web

    return web().fmt.format_number(x, "es", digits)


@lru_cache(maxsize=4)
def _rings(kind: str) -> dict[str, list[list[tuple[float, float]]]]:
    """Return code → rings (lon, lat) of the department or Lima/Callao district polygons."""
    if kind == "departments":
        data = json.loads(data_path("peru_departamental_simple.geojson").read_text(encoding="utf-8"))
        key = lambda p: str(p["FIRST_IDDP"]).zfill(2)  # noqa: E731
        keep = lambda code: True  # noqa: E731
    else:
        data = json.loads(data_path("peru_distrital_simple.geojson").read_text(encoding="utf-8"))
        key = lambda p: str(p["IDDIST"]).zfill(6)  # noqa: E731
        keep = lambda code: code.startswith(("1501", "0701"))  # noqa: E731
    out: dict[str, list] = {}
    for feat in data["features"]:
        code = key(feat["properties"])
        if not keep(code):
            continue
        geom = feat.get("geometry")
        if not geom:
            continue
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        for poly in polys:
            out.setdefault(code, []).extend([[(float(x), float(y)) for x, y, *_ in r] for r in poly])
    return out


@lru_cache(maxsize=4)
def _paths(kind: str, width: int, height: int) -> tuple[dict[str, str], int, int]:
    rings = _rings(kind)
    xs = [x for rs in rings.values() for r in rs for x, _ in r]
    ys = [y for rs in rings.values() for r in rs for _, y in r]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    kx = math.cos(math.radians((y0 + y1) / 2))  # equirectangular, true scale at mid-latitude
    scale = min((width - 10) / ((x1 - x0) * kx), (height - 10) / (y1 - y0))
    w = int((x1 - x0) * kx * scale + 10)
    h = int((y1 - y0) * scale + 10)
    out = {}
    for code, rs in rings.items():
        out[code] = "".join(
            "M" + "L".join(f"{(x - x0) * kx * scale + 5:.1f},{(y1 - y) * scale + 5:.1f}" for x, y in r) + "Z"
            for r in rs)
    return out, w, h


def breaks(values: list[float], n: int = 5) -> list[float]:
    """Return ``n - 1`` class limits (quantiles of the positive values, distinct, ascending)."""
    pos = sorted(v for v in values if v and v > 0)
    if not pos:
        return []
    out = []
    for i in range(1, n):
        b = pos[min(len(pos) - 1, int(len(pos) * i / n))]
        if not out or b > out[-1]:
            out.append(b)
    return out


def _klass(v: float | None, lim: list[float]) -> int:
    if not v or v <= 0:
        return -1
    return sum(1 for b in lim if v >= b)


def choropleth(values: dict[str, float | None], names: dict[str, str], title: str, unit: str,
               kind: str = "departments", width: int = 420, height: int = 560,
               empty: str = "sin consumo registrado") -> str:
    """Return an SVG choropleth of ``values`` (code → value) with a quantile legend; ``empty``
    names the grey class (no value)."""
    paths, w, h = _paths(kind, width, height)
    lim = breaks([v for v in values.values() if v is not None])
    legend_h = 22 + 16 * (len(lim) + 2)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w + 170} {max(h, legend_h) + 30}" '
           f'role="img" aria-label="{escape(title)}" class="chart map">',
           f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
           '<g transform="translate(0,24)">']
    for code in sorted(paths):
        v = values.get(code)
        k = _klass(v, lim)
        fill = PALETTE[min(k, len(PALETTE) - 1)] if k >= 0 else EMPTY
        label = f"{names.get(code, code)}: " + (empty if v is None else f"{_num(v, 2)} {unit}")
        out.append(f'<path d="{paths[code]}" fill="{fill}" stroke="#555" stroke-width="0.4">'
                   f'<title>{escape(label)}</title></path>')
    out.append("</g>")
    lx, ly = w + 10, 40
    out.append(f'<text x="{lx}" y="{ly}" font-size="11" font-weight="bold">{escape(unit)}</text>')
    edges = [0.0, *lim] if lim else []  # no value above zero: the grey class alone
    for i, lo in enumerate(edges):
        hi = edges[i + 1] if i + 1 < len(edges) else None
        y = ly + 10 + 16 * i
        text = f"≥ {_num(lo, 1)}" if hi is None else f"{_num(lo, 1)} – {_num(hi, 1)}"
        out.append(f'<rect x="{lx}" y="{y}" width="14" height="12" fill="{PALETTE[i]}" stroke="#555" '
                   'stroke-width="0.4"/>'
                   f'<text x="{lx + 20}" y="{y + 10}" font-size="10">{escape(text)}</text>')
    y = ly + 10 + 16 * len(edges)
    out.append(f'<rect x="{lx}" y="{y}" width="14" height="12" fill="{EMPTY}" stroke="#555" '
               'stroke-width="0.4"/>'
               f'<text x="{lx + 20}" y="{y + 10}" font-size="10">{escape(empty)}</text>')
    out.append("</svg>")
    return "".join(out)


def bars(items: list[tuple[str, float]], title: str, unit: str, width: int = 640,
         color: str = FENT, digits: int = 1, left: int = 190, empty: str = "sin datos") -> str:
    """Return a horizontal SVG bar chart of (label, value), in the order given; labels longer
    than the ``left`` margin end in an ellipsis (the full label is the bar's tooltip)."""
    row, top = 18, 26
    fit = max(10, (left - 10) // 6)  # characters of a 10-px label that fit the margin
    h = top + row * max(len(items), 1) + 10
    top_v = max([v for _, v in items] + [0.0]) or 1.0
    span = width - left - 90
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" role="img" '
           f'aria-label="{escape(title)}" class="chart bars">',
           f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i, (label, v) in enumerate(items):
        y = top + i * row
        bw = span * (v or 0) / top_v
        short = label if len(label) <= fit else label[:fit - 1].rstrip() + "…"
        out.append(f'<text x="{left - 6}" y="{y + 12}" font-size="10" text-anchor="end">'
                   f'{escape(short)}</text>'
                   f'<rect x="{left}" y="{y + 2}" width="{bw:.1f}" height="{row - 6}" fill="{color}">'
                   f'<title>{escape(label)}</title></rect>'
                   f'<text x="{left + bw + 4:.1f}" y="{y + 12}" font-size="10">{_num(v or 0, digits)} '
                   f'{escape(unit)}</text>')
    if not items:
        out.append(f'<text x="{left}" y="{top + 12}" font-size="10">{escape(empty)}</text>')
    out.append("</svg>")
    return "".join(out)


def trend(points: list[dict], series: list[tuple[str, str, str]], title: str, unit: str,
          width: int = 640, height: int = 230, empty: str = "sin datos") -> str:
    """Return an SVG line chart over quarters; ``series`` = (key, label, colour); ``empty`` is
    written across a chart without any point."""
    left, right, top, bottom = 70, 20, 30, 40
    vals = [float(p.get(k) or 0) for p in points for k, _, _ in series]
    top_v = max(vals + [0.0]) or 1.0
    n = max(len(points) - 1, 1)
    pw, ph = width - left - right, height - top - bottom

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + pw * i / n, top + ph * (1 - v / top_v)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}" class="chart trend">',
           f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    digits = 0 if top_v >= 20 else 1 if top_v >= 2 else 2  # ticks that differ from each other
    for j in range(5):
        v = top_v * j / 4
        _, y = xy(0, v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="9" text-anchor="end">'
                   f'{_num(v, digits)}</text>')
    if all(p.get(k) is None for p in points for k, _, _ in series):
        out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" font-size="11" '
                   f'text-anchor="middle">{escape(empty)}</text>')
    for i, p in enumerate(points):
        x, _ = xy(i, 0)
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" font-size="10" '
                   f'text-anchor="middle">{escape(p["quarter"])}</text>')
    for si, (key, label, color) in enumerate(series):
        # A quarter without data (None) breaks the line instead of dropping it to zero.
        runs: list[list[tuple[float, float]]] = [[]]
        for i, p in enumerate(points):
            if p.get(key) is None:
                runs.append([])
                continue
            runs[-1].append(xy(i, float(p[key])))
        for pts in runs:
            if len(pts) > 1:
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                           + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in pts)
        lx = left + 10 + si * 220
        out.append(f'<rect x="{lx}" y="{height - 14}" width="12" height="4" fill="{color}"/>'
                   f'<text x="{lx + 16}" y="{height - 9}" font-size="10">{escape(label)} ({escape(unit)})</text>')
    out.append("</svg>")
    return "".join(out)
