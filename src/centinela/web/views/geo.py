"""Map of Peru: departments shaded by per-capita fentanyl use, with open alerts.

Use = mg of fentanyl dispensed or administered in the last 365 days per 100,000 inhabitants
(INEI 2025 projection). The heavy aggregate is cached for a few minutes per database.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import department_scope
from centinela.alerts.models import Alert
from centinela.ledger.records import Movement
from centinela.reference.ubigeo import data_path, department_population, departments
from centinela.registry.models import Establishment, Product
from centinela.web.views.common import OUTFLOWS, cached, clear_cache

__all__ = ["MapContext", "OutlierPlace", "RegionStat", "build_map", "clear_cache", "department_paths",
           "project"]

SHADES = 5


class RegionStat(BaseModel):
    code: str
    name: str
    population: int
    fentanyl_mg_12m: float | None
    mg_per_100k: float | None
    open_alerts: int | None
    shade: int  # 0 = no data or out of reach, 1..5 quantile
    visible: bool


class OutlierPlace(BaseModel):
    """A place flagged by ``regional_outlier`` (open alert): the map layer and the ranked table."""

    alert_id: str
    code: str
    level: str
    name: str
    channel: str
    ratio: float | None
    rate_per_100k: float | None
    expected_per_100k: float | None
    score: float
    severity: str
    drivers: list[str]
    prescribers: list[str]
    x: float | None = None  # position on the map's SVG (capital of the place)
    y: float | None = None


class MapContext(BaseModel):
    regions: list[RegionStat]
    breaks: list[float]
    since: str
    until: str
    national_mg_per_100k: float
    outliers: list[OutlierPlace] = []


def outlier_places(session: Session, scope: list[str] | None) -> list[OutlierPlace]:
    """Return the open ``regional_outlier`` alerts the viewer may see, strongest first."""
    from centinela.reference.ubigeo import districts

    q = select(Alert).where(Alert.detector == "regional_outlier", Alert.status != "closed")
    if scope is not None:
        q = q.where(Alert.department.in_(scope or ["--"]))
    out = []
    ds = districts()
    for a in session.scalars(q.order_by(Alert.score.desc()).limit(200)):
        ev = a.evidence or {}
        inside = [d for code, d in ds.items() if code.startswith(a.subject_id)]
        x = y = None
        if inside:
            weight = sum(max(d.population, 1) for d in inside)
            lon = sum(d.longitude * max(d.population, 1) for d in inside) / weight
            lat = sum(d.latitude * max(d.population, 1) for d in inside) / weight
            x, y = project(lon, lat)
        out.append(OutlierPlace(
            alert_id=a.alert_id, code=a.subject_id, level=str(ev.get("level", "")),
            name=str(ev.get("region_name", a.subject_id)), channel=str(ev.get("channel", "")),
            ratio=ev.get("ratio"), rate_per_100k=ev.get("rate_per_100k"),
            expected_per_100k=ev.get("expected_per_100k"), score=float(a.score or 0),
            severity=a.severity,
            drivers=[f"{e['id']} ({100 * e['share']:.0f} %)" for e in ev.get("establishments", [])[:3]],
            prescribers=[f"{e['id']} ({100 * e['share']:.0f} %)" for e in ev.get("prescribers", [])[:3]],
            x=x, y=y))
    return out


def fentanyl_by_department(session: Session, now: dt.datetime) -> dict[str, float]:
    """Return department → mg of fentanyl used in the 365 days before ``now`` (cached)."""

    def compute() -> dict[str, float]:
        rows = session.execute(
            select(Establishment.department,
                   func.sum(Movement.quantity * Product.strength_mg_per_unit))
            .join(Product, Product.product_code == Movement.product_code)
            .join(Establishment, Establishment.establishment_id == Movement.establishment_id)
            .where(Movement.event_type.in_(OUTFLOWS), Product.substance == "fentanyl",
                   Movement.occurred_at >= now - dt.timedelta(days=365),
                   Movement.occurred_at <= now)
            .group_by(Establishment.department)).all()
        return {d: float(v or 0) for d, v in rows if d}

    return cached(session, ("map", now.date().isoformat()), compute)


def build_map(session: Session, user: User, now: dt.datetime) -> MapContext:
    """Return per-department use and open alerts, limited to the viewer's departments."""
    scope = department_scope(user)
    mg = fentanyl_by_department(session, now)
    alert_q = select(Alert.department, func.count()).where(Alert.status != "closed")
    if user.role == "police":
        alert_q = alert_q.where(Alert.subject_kind != "patient")
    alerts = dict(session.execute(alert_q.group_by(Alert.department)).all())
    pop = department_population()
    rates = {d: mg.get(d, 0.0) * 100_000 / pop[d] for d in departments() if pop.get(d)}
    positive = sorted(v for v in rates.values() if v > 0)
    breaks = [positive[int(len(positive) * q / SHADES)] for q in range(1, SHADES)] \
        if positive else []
    regions = []
    for code, name in sorted(departments().items()):
        visible = scope is None or code in scope
        rate = rates.get(code, 0.0)
        shade = 0
        if visible and rate > 0:
            shade = 1 + sum(1 for b in breaks if rate >= b)
        regions.append(RegionStat(
            code=code, name=name, population=pop.get(code, 0),
            fentanyl_mg_12m=round(mg.get(code, 0.0), 3) if visible else None,
            mg_per_100k=round(rate, 3) if visible else None,
            open_alerts=int(alerts.get(code, 0)) if visible else None, shade=shade,
            visible=visible))
    total_pop = sum(pop.values())
    return MapContext(
        outliers=outlier_places(session, scope),
        regions=regions, breaks=[round(b, 3) for b in breaks],
        since=(now - dt.timedelta(days=365)).date().isoformat(), until=now.date().isoformat(),
        national_mg_per_100k=round(sum(mg.values()) * 100_000 / total_pop, 3) if total_pop else 0)


@lru_cache(maxsize=1)
def _rings(width: int = 520, height: int = 760) -> tuple[dict, tuple[float, float, float]]:
    """Return (department code → rings, (x0, y1, scale)) of the INEI GeoJSON (cached)."""
    data = json.loads(data_path("peru_departamental_simple.geojson").read_text(encoding="utf-8"))
    rings_by_dep: dict[str, list[list[list[float]]]] = {}
    for feat in data["features"]:
        code = str(feat["properties"]["FIRST_IDDP"]).zfill(2)
        geom = feat["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        for poly in polys:
            rings_by_dep.setdefault(code, []).extend(poly)
    xs = [p[0] for rings in rings_by_dep.values() for r in rings for p in r]
    ys = [p[1] for rings in rings_by_dep.values() for r in rings for p in r]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    scale = min((width - 10) / (x1 - x0), (height - 10) / (y1 - y0))
    return rings_by_dep, (x0, y1, scale)


def project(lon: float, lat: float) -> tuple[float, float]:
    """Return the SVG position of a longitude/latitude on the map."""
    _, (x0, y1, scale) = _rings()
    return round((lon - x0) * scale + 5, 1), round((y1 - lat) * scale + 5, 1)


@lru_cache(maxsize=1)
def department_paths(width: int = 520, height: int = 760) -> dict[str, str]:
    """Return department code → SVG path data, projected from the INEI GeoJSON (cached)."""
    rings_by_dep, (x0, y1, scale) = _rings(width, height)
    out = {}
    for code, rings in rings_by_dep.items():
        parts = []
        for ring in rings:
            pts = [f"{(x - x0) * scale + 5:.1f},{(y1 - y) * scale + 5:.1f}" for x, y, *_ in ring]
            parts.append("M" + "L".join(pts) + "Z")
        out[code] = "".join(parts)
    return out
