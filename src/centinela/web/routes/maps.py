"""The map of Peru (departments → provinces → districts, four layers) and its JSON twin."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import roles_for
from centinela.geo.shapes import view as shape_view
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.fmt import format_decimal, format_number
from centinela.web.i18n import translate
from centinela.web.views.alert import NotVisible
from centinela.web.views.geo import LAYERS, MapContext, build_map

router = APIRouter()
viewer = require_roles(*roles_for("map"))


def _build(request: Request, session: Session, user: User, region: str, layer: str) -> MapContext:
    try:
        return build_map(session, user, clock(request), region=region, layer=layer)
    except NotVisible:
        raise HTTPException(404, "not found or outside your reach") from None


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


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def map_page(request: Request, region: str = "", layer: str = "rate",
             user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Render the regions under ``region`` shaded by ``layer`` (use per capita, open alerts,
    seizures, citizen reports), with a legend (units and period) and a table."""
    ctx = _build(request, session, user, region, layer)
    lng = lang(request)
    return render(request, "map.html", {"ctx": ctx, "map_svg": region_map_svg(ctx, lng),
                                        "layers": LAYERS})


@router.get("/api/v1/map", response_model=MapContext, tags=["map"])
def map_api(request: Request, region: str = "", layer: str = "rate",
            user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Return the regions under ``region`` ("" = departments, a department code = its
    provinces, a province code = its districts) with use per capita (mg of fentanyl per 100,000
    inhabitants, last 365 days), open alerts, seizures and citizen reports."""
    return _build(request, session, user, region, layer)
