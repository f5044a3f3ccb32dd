"""Boundaries of departments, provinces and districts as light SVG paths (drill-down map).

The shipped GeoJSON (``data/peru/peru_*_simple.geojson``, INEI codes) is projected into a view
that fits the selected features (all departments, the provinces of one department, or the
districts of one province), then simplified with Douglas-Peucker at half a pixel and rounded to
0.1 px, so each page carries a few tens of kB of geometry at most.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

from centinela.reference.ubigeo import data_path

FILES = {2: ("peru_departamental_simple.geojson", "FIRST_IDDP"),
         4: ("peru_provincial_simple.geojson", "FIRST_IDPR"),
         6: ("peru_distrital_simple.geojson", "IDDIST")}
WIDTH = 520
MAX_HEIGHT = 760
PAD = 5
TOLERANCE = 0.5  # px


@lru_cache(maxsize=3)
def _features(level: int) -> dict[str, list[list[list[float]]]]:
    """Return region code → outer and inner rings (lon, lat) at ``level`` (2, 4 or 6 digits)."""
    name, key = FILES[level]
    data = json.loads(data_path(name).read_text(encoding="utf-8"))
    out: dict[str, list[list[list[float]]]] = {}
    for feat in data["features"]:
        code = str(feat["properties"][key]).zfill(level)
        geom = feat["geometry"]
        if not geom:
            continue
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        for poly in polys:
            out.setdefault(code, []).extend([[p[0], p[1]] for p in ring] for ring in poly)
    return out


def codes(level: int, parent: str = "") -> list[str]:
    """Return the region codes with a boundary at ``level`` under ``parent`` (a prefix)."""
    return sorted(c for c in _features(level) if c.startswith(parent))


def _simplify(points: list[tuple[float, float]], tol: float) -> list[tuple[float, float]]:
    """Douglas-Peucker (iterative) on a ring's projected points."""
    if len(points) < 4:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (x1, y1), (x2, y2) = points[a], points[b]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        best, idx = -1.0, -1
        for i in range(a + 1, b):
            px, py = points[i]
            d = (abs(dy * px - dx * py + x2 * y1 - y2 * x1) / norm if norm
                 else math.hypot(px - x1, py - y1))
            if d > best:
                best, idx = d, i
        if idx > 0 and best > tol:
            keep[idx] = True
            stack += [(a, idx), (idx, b)]
    return [p for p, k in zip(points, keep, strict=True) if k]


class View:
    """A projection of lon/lat into an SVG box that fits the regions ``codes`` of ``level``."""

    def __init__(self, level: int, parent: str = ""):
        self.level, self.parent = level, parent
        feats = _features(level)
        self.codes = codes(level, parent)
        pts = [p for c in self.codes for ring in feats[c] for p in ring]
        if not pts:
            raise KeyError(parent)
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        self.x0, self.y1 = min(xs), max(ys)
        # Longitude shrinks with latitude: scale x by cos(mid latitude) so shapes keep their look.
        self.kx = math.cos(math.radians((min(ys) + max(ys)) / 2))
        w, h = (max(xs) - self.x0) * self.kx, self.y1 - min(ys)
        self.scale = min((WIDTH - 2 * PAD) / w if w else 1, (MAX_HEIGHT - 2 * PAD) / h if h else 1)
        self.width = WIDTH
        self.height = round(h * self.scale + 2 * PAD)

    @property
    def viewbox(self) -> str:
        return f"0 0 {self.width} {self.height}"

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        """Return the SVG position of a longitude/latitude."""
        return (round((lon - self.x0) * self.kx * self.scale + PAD, 1),
                round((self.y1 - lat) * self.scale + PAD, 1))

    def paths(self) -> dict[str, str]:
        """Return region code → simplified SVG path data."""
        return _paths(self.level, self.parent)


@lru_cache(maxsize=64)
def view(level: int, parent: str = "") -> View:
    """Return the (cached) view of the regions of ``level`` under ``parent``."""
    return View(level, parent)


@lru_cache(maxsize=64)
def _paths(level: int, parent: str) -> dict[str, str]:
    v = view(level, parent)
    feats = _features(level)
    out = {}
    for code in v.codes:
        parts = []
        for ring in feats[code]:
            pts = _simplify([v.project(x, y) for x, y in ring], TOLERANCE)
            if len(pts) < 3:
                continue
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
        if parts:
            out[code] = "".join(parts)
    return out
