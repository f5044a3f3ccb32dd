"""The map of Peru (departments → provinces → districts, four layers) and its JSON twin."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import roles_for
from centinela.web.charts import region_map_svg
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.views.alert import NotVisible
from centinela.web.views.geo import LAYERS, MapContext, build_map

router = APIRouter()
viewer = require_roles(*roles_for("map"))


def _build(request: Request, session: Session, user: User, region: str, layer: str) -> MapContext:
    try:
        return build_map(session, user, clock(request), region=region, layer=layer)
    except NotVisible:
        raise HTTPException(404, "not found or outside your reach") from None


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
