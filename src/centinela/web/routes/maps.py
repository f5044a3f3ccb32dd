"""The map of Peru and its JSON twin."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import roles_for
from centinela.web.charts import map_svg
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import translate
from centinela.web.views.geo import MapContext, build_map

router = APIRouter()
viewer = require_roles(*roles_for("map"))


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def map_page(request: Request, user: User = Depends(viewer),
             session: Session = Depends(db_session)):
    """Render departments shaded by fentanyl use per 100,000 people, with open alerts."""
    ctx = build_map(session, user, clock(request))
    lng = lang(request)
    svg = map_svg(ctx, {"title": translate("map.title", lng), "unit": translate("map.unit", lng),
                        "alerts": translate("map.open_alerts", lng)})
    return render(request, "map.html", {"ctx": ctx, "map_svg": svg})


@router.get("/api/v1/map", response_model=MapContext, tags=["map"])
def map_api(request: Request, user: User = Depends(viewer),
            session: Session = Depends(db_session)):
    """Return per-department fentanyl use and open alerts (the page's context)."""
    return build_map(session, user, clock(request))
