"""Map of Peru: departments shaded by per-capita fentanyl use, with open alerts.

Use = mg of fentanyl dispensed or administered in the last 365 days per 100,000 inhabitants
(INEI 2025 projection), computed by :func:`centinela.web.views.usage.use_per_capita` (the region
profile calls the same function, so both pages show the same number). The map drills down from
departments to provinces to districts; layers: use per capita, open alerts, seizures, citizen
reports.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import department_scope
from centinela.alerts.models import Alert
from centinela.reference.ubigeo import departments
from centinela.web.views.common import clear_cache
from centinela.web.views.usage import use_per_capita

__all__ = ["LAYERS", "Crumb", "MapContext", "OutlierPlace", "RegionStat", "build_map", "clear_cache"]

SHADES = 5


LAYERS = ("rate", "alerts", "seizures", "reports")


class RegionStat(BaseModel):
    code: str
    name: str
    population: int
    fentanyl_mg_12m: float | None
    mg_per_100k: float | None
    open_alerts: int | None
    shade: int  # 0 = no data or out of reach, 1..5 quantile of the layer's value
    visible: bool
    seizures: int | None = None
    reports: int | None = None
    value: float | None = None  # the figure of the chosen layer
    has_shape: bool = True
    drill: bool = False  # a finer level exists (department → provinces → districts)


class Crumb(BaseModel):
    code: str
    name: str


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


class LegendClass(BaseModel):
    shade: int
    low: float | None  # None: the first class (below the first break, above zero)


class MapContext(BaseModel):
    regions: list[RegionStat]
    breaks: list[float]
    since: str
    until: str
    national_mg_per_100k: float
    outliers: list[OutlierPlace] = []
    level: str = "department"  # of the regions listed: department, province or district
    region: str = ""  # the parent region ("" = Peru)
    region_name: str = ""
    parent_mg_per_100k: float | None = None  # the parent region's own figure (same function)
    crumbs: list[Crumb] = []
    layer: str = "rate"
    viewbox: str = "0 0 520 760"
    legend: list[LegendClass] = []


def outlier_places(session: Session, scope: list[str] | None, region: str = "",
                   view=None) -> list[OutlierPlace]:
    """Return the open ``regional_outlier`` alerts the viewer may see under ``region`` (a ubigeo
    prefix, "" = Peru), strongest first, placed on ``view`` (default: the map of Peru)."""
    from centinela.geo.shapes import view as make_view
    from centinela.reference.ubigeo import districts

    view = view or make_view(2, "")

    q = select(Alert).where(Alert.detector == "regional_outlier", Alert.status != "closed")
    if scope is not None:
        q = q.where(Alert.department.in_(scope or ["--"]))
    out = []
    ds = districts()
    for a in session.scalars(q.order_by(Alert.score.desc()).limit(200)):
        ev = a.evidence or {}
        area = str(ev.get("area_code") or a.subject_id)  # the department's subject, the area
        if region and not area.startswith(region):
            continue
        inside = [d for code, d in ds.items() if code.startswith(area)]
        x = y = None
        if inside:
            weight = sum(max(d.population, 1) for d in inside)
            lon = sum(d.longitude * max(d.population, 1) for d in inside) / weight
            lat = sum(d.latitude * max(d.population, 1) for d in inside) / weight
            x, y = view.project(lon, lat)
        out.append(OutlierPlace(
            alert_id=a.alert_id, code=area, level=str(ev.get("level", "")),
            name=str(ev.get("region_name", area)), channel=str(ev.get("channel", "")),
            ratio=ev.get("ratio"), rate_per_100k=ev.get("rate_per_100k"),
            expected_per_100k=ev.get("expected_per_100k"), score=float(a.score or 0),
            severity=a.severity,
            drivers=[f"{e['id']} ({100 * e['share']:.0f} %)" for e in ev.get("establishments", [])[:3]],
            prescribers=[f"{e['id']} ({100 * e['share']:.0f} %)" for e in ev.get("prescribers", [])[:3]],
            x=x, y=y))
    return out


def fentanyl_by_department(session: Session, now: dt.datetime) -> dict[str, float]:
    """Return department → mg of fentanyl used in the window of :func:`centinela.web.views.usage.window`."""
    return {c: u.mg for c, u in use_per_capita(session, now, 2).items() if u.mg}


def _quantile_breaks(values: list[float]) -> list[float]:
    """Return the distinct lower bounds of classes 2.. of the positive values (quantiles)."""
    positive = sorted(v for v in values if v > 0)
    if not positive:
        return []
    cuts = [positive[int(len(positive) * q / SHADES)] for q in range(1, SHADES)]
    return sorted({c for c in cuts if c > positive[0]})


def shade_of(value: float, breaks: list[float]) -> int:
    """Return the shade (1..5) of a positive value: its class spread over the five shades."""
    cls = sum(1 for b in breaks if value >= b)
    return 1 + round(cls * (SHADES - 1) / len(breaks)) if breaks else SHADES



def build_map(session: Session, user: User, now: dt.datetime, region: str = "",
              layer: str = "rate") -> MapContext:
    """Return the regions under ``region`` ("" = Peru's departments, a department code = its
    provinces, a province code = its districts) with use per capita, open alerts, seizures and
    citizen reports, limited to the viewer's departments. Raises ``NotVisible`` for a region
    that does not exist or lies outside the viewer's reach."""
    from centinela.geo import shapes
    from centinela.reference.ubigeo import districts, provinces
    from centinela.web.views import usage as geo_usage
    from centinela.web.views.alert import NotVisible

    region = (region or "").strip()
    if layer not in LAYERS:
        layer = "rate"
    scope = department_scope(user)
    if region and (len(region) not in (2, 4) or not region.isdigit()):
        raise NotVisible(region)
    if region and scope is not None and region[:2] not in scope:
        raise NotVisible(region)
    level = len(region) + 2
    if level == 2:
        names = departments()
    elif level == 4:
        names = {c: p for c, (_, p) in provinces().items() if c.startswith(region)}
    else:
        names = {c: d.district for c, d in districts().items() if c.startswith(region)}
    if not names:
        raise NotVisible(region)
    use = use_per_capita(session, now, level)
    alerts = geo_usage.open_alerts(session, level, police=user.role == "police")
    seized = geo_usage.seizures(session, now, level)
    reports = geo_usage.citizen_reports(session, now, level)
    shaped = set(shapes.codes(level, region))
    values: dict[str, float] = {}
    for code in names:
        u = use.get(code)
        values[code] = {"rate": (u.per_100k or 0.0) if u else 0.0,
                        "alerts": float(alerts.get(code, 0)),
                        "seizures": float(seized.get(code, 0)),
                        "reports": float(reports.get(code, 0))}[layer]
    visible_codes = [c for c in names if scope is None or c[:2] in scope]
    breaks = _quantile_breaks([values[c] for c in visible_codes])
    regions = []
    for code, name in sorted(names.items()):
        visible = code in visible_codes
        u = use.get(code) or geo_usage.RegionUse(code, 0.0, 0)
        rate = u.per_100k
        value = values[code]
        shade = shade_of(value, breaks) if visible and value > 0 else 0
        regions.append(RegionStat(
            code=code, name=name, population=u.population,
            fentanyl_mg_12m=round(u.mg, 3) if visible else None,
            mg_per_100k=round(rate, 3) if visible and rate is not None else None,
            open_alerts=int(alerts.get(code, 0)) if visible else None, shade=shade,
            visible=visible, seizures=int(seized.get(code, 0)) if visible else None,
            reports=int(reports.get(code, 0)) if visible else None,
            value=round(value, 3) if visible else None, has_shape=code in shaped,
            drill=level < 6))
    nat = use_per_capita(session, now, 2)
    total_mg = sum(u.mg for u in nat.values())
    total_pop = sum(u.population for u in nat.values())
    crumbs = [Crumb(code="", name="Perú")]
    if region:
        crumbs.append(Crumb(code=region[:2], name=departments().get(region[:2], region[:2])))
    if len(region) == 4:
        crumbs.append(Crumb(code=region, name=provinces().get(region, ("", region))[1]))
    parent = geo_usage.region_use(session, region, now) if region else None
    since, until = geo_usage.window(now)
    view = shapes.view(level, region)
    return MapContext(
        outliers=outlier_places(session, scope, region, view), regions=regions,
        breaks=[round(b, 3) for b in breaks],
        since=since.date().isoformat(), until=until.date().isoformat(),
        national_mg_per_100k=round(total_mg * 100_000 / total_pop, 3) if total_pop else 0,
        level=geo_usage.LEVEL_OF[level], region=region,
        region_name=crumbs[-1].name if region else "",
        parent_mg_per_100k=round(parent.per_100k, 3) if parent and parent.per_100k else None,
        crumbs=crumbs, layer=layer, viewbox=view.viewbox,
        legend=_legend(breaks, any(values[c] > 0 for c in visible_codes)))


def _legend(breaks: list[float], any_positive: bool) -> list[LegendClass]:
    """Return the legend's classes: below the first break, then one per break."""
    if not any_positive:
        return []
    if not breaks:
        return [LegendClass(shade=SHADES, low=None)]
    return [LegendClass(shade=1, low=None),
            *(LegendClass(shade=shade_of(b, breaks), low=round(b, 3)) for b in breaks)]
