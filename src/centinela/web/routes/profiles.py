"""Profile pages (professional, establishment, region, lot, serial, patient) and JSON twins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import department_scope, roles_for
from centinela.reference.ubigeo import departments
from centinela.registry.models import Establishment, Professional
from centinela.web.charts import line_chart
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import translate
from centinela.web.views.alert import NotVisible
from centinela.web.views.profiles import PROFILE_KINDS, Profile, build_profile

router = APIRouter()
viewer = require_roles(*roles_for("profiles"))


class SearchHit(BaseModel):
    kind: str
    id: str
    name: str


class SearchContext(BaseModel):
    q: str
    hits: list[SearchHit]
    departments: list[SearchHit]


def _search(session: Session, user: User, q: str) -> SearchContext:
    scope = department_scope(user)
    deps = [SearchHit(kind="region", id=c, name=n) for c, n in sorted(departments().items())
            if scope is None or c in scope]
    hits: list[SearchHit] = []
    q = q.strip()[:60]
    if len(q) >= 2:
        like = f"%{q}%"
        pq = select(Professional).where(or_(Professional.professional_id.ilike(like),
                                            Professional.full_name.ilike(like)))
        eq = select(Establishment).where(or_(Establishment.establishment_id.ilike(like),
                                             Establishment.name.ilike(like)))
        if scope is not None:
            pq = pq.where(Professional.department.in_(scope))
            eq = eq.where(Establishment.department.in_(scope))
        hits += [SearchHit(kind="professional", id=p.professional_id, name=p.full_name)
                 for p in session.scalars(pq.limit(25))]
        hits += [SearchHit(kind="establishment", id=e.establishment_id, name=e.name)
                 for e in session.scalars(eq.limit(25))]
    return SearchContext(q=q, hits=hits, departments=deps)


@router.get("/profiles", response_class=HTMLResponse, include_in_schema=False)
def profiles_page(request: Request, q: str = "", kind: str = "", user: User = Depends(viewer),
                  session: Session = Depends(db_session)):
    """Search professionals and establishments; jump to a lot, serial or patient profile."""
    if kind in ("lot", "serial", "patient") and q.strip():
        return RedirectResponse(f"/profiles/{kind}/{q.strip()}", status_code=303)
    return render(request, "profiles/search.html", {"ctx": _search(session, user, q)})


@router.get("/api/v1/profiles", response_model=SearchContext, tags=["profiles"])
def profiles_api(q: str = "", user: User = Depends(viewer),
                 session: Session = Depends(db_session)):
    """Search professionals and establishments by id or name (the page's context)."""
    return _search(session, user, q)


def _profile(request: Request, session: Session, user: User, kind: str, sid: str) -> Profile:
    if kind not in PROFILE_KINDS:
        raise HTTPException(404, "unknown profile kind")
    try:
        return build_profile(session, user, kind, sid, clock(request))
    except NotVisible:
        raise HTTPException(404, "not found or outside your reach") from None


@router.get("/profiles/{kind}/{subject_id}", response_class=HTMLResponse,
            include_in_schema=False)
def profile_page(kind: str, subject_id: str, request: Request, user: User = Depends(viewer),
                 session: Session = Depends(db_session),
                 mpage: Annotated[int, Query(ge=1, le=100000)] = 1):
    """Render a profile with volumes over time and open alerts (a lot's or serial's custody as
    a flow and a paged timeline)."""
    from centinela.web.views.evidence import custody_view

    ctx = _profile(request, session, user, kind, subject_id)
    lng = lang(request)
    peers = ctx.chart.peers  # named "median" in the JSON twin; the legend says it in words
    if peers is not None:
        peers = peers.model_copy(update={"name": translate("chart.legend_peer_median", lng)})
    chart = line_chart([ctx.chart.subject, peers], translate(ctx.chart.title, lng), lang=lng)
    custody = (custody_view(session, department_scope(user), kind, subject_id, mpage)
               if kind in ("lot", "serial") and ctx.movements_total else None)
    return render(request, "profiles/profile.html", {"ctx": ctx, "chart_svg": chart,
                                                     "custody": custody})


@router.get("/api/v1/profiles/{kind}/{subject_id}", response_model=Profile, tags=["profiles"])
def profile_api(kind: str, subject_id: str, request: Request, user: User = Depends(viewer),
                session: Session = Depends(db_session)):
    """Return a profile (the page's context)."""
    return _profile(request, session, user, kind, subject_id)
