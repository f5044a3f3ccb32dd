"""Triage of citizen reports for analysts: relations (same establishment, same seller contact,
same ~50 m spot, similar text), clusters, possible duplicates, priority and status changes."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.audit import record
from centinela.lib.geo import haversine_km
from centinela.public.matching import name_similarity
from centinela.public.models import REPORT_STATUSES, CitizenReport, ReportEvent, ReportPhoto
from centinela.public.text import char_ngrams, content_text, cosine
from centinela.reference import ubigeo as ref
from centinela.registry.models import Establishment

BASE_PRIORITY = {"fentanyl_no_rx": 45, "online_offer": 35, "suspicious_pharmacy": 35,
                 "pills": 30, "other": 15}
NEAR_KM = 0.05
SIMILAR_TEXT = 0.6
DUPLICATE_TEXT = 0.85
LOOKBACK_DAYS = 90
# "similar_text" links only texts with something to compare (content words, placeholders such
# as "[teléfono redactado]" left out) and only within a department or between districts whose
# capitals are this close (Lima–Callao, border towns): short texts from six departments must not
# chain into one cluster.
SIMILAR_TEXT_MIN_CHARS = 40
SIMILAR_TEXT_KM = 30.0
_PLACEHOLDER = re.compile(r"\[[^\]]*redactad[oa]\]")
NEXT_STATUS = {
    "received": ("in_review", "closed"),
    "in_review": ("forwarded", "closed"),
    "forwarded": ("closed", "in_review"),
    "closed": ("in_review",),
}


class TriageError(ValueError):
    """A triage action that is not allowed (says why)."""


@lru_cache(maxsize=4096)
def _text_grams(text: str) -> tuple[Counter[str], int]:
    """Character trigrams of a report's text without redaction labels, and its content length."""
    plain = _PLACEHOLDER.sub(" ", text or "")
    return char_ngrams(plain), len(content_text(plain).replace(" ", ""))


def text_similarity(a: str | None, b: str | None) -> float:
    """Trigram cosine of two report texts, redaction labels left out (0–1)."""
    if not a or not b:
        return 0.0
    return cosine(_text_grams(a)[0], _text_grams(b)[0])


@lru_cache(maxsize=4096)
def _district_km(u1: str, u2: str) -> float | None:
    d1, d2 = ref.get(u1), ref.get(u2)
    if d1 is None or d2 is None or None in (d1.latitude, d1.longitude, d2.latitude,
                                            d2.longitude):
        return None
    return haversine_km(d1.latitude, d1.longitude, d2.latitude, d2.longitude)


def _nearby(a: CitizenReport, b: CitizenReport) -> bool:
    """Same department, or district capitals within SIMILAR_TEXT_KM."""
    if a.department == b.department:
        return True
    km = _district_km(*sorted((a.ubigeo, b.ubigeo)))
    return km is not None and km <= SIMILAR_TEXT_KM


def _similar_text(a: CitizenReport, b: CitizenReport) -> bool:
    if not a.text or not b.text or not _nearby(a, b):
        return False
    (ga, la), (gb, lb) = _text_grams(a.text), _text_grams(b.text)
    if min(la, lb) < SIMILAR_TEXT_MIN_CHARS:
        return False
    return cosine(ga, gb) >= SIMILAR_TEXT


def relations(a: CitizenReport, b: CitizenReport) -> list[str]:
    """Return why two reports may concern the same seller (empty list: unrelated)."""
    why = []
    if a.establishment_id and a.establishment_id == b.establishment_id:
        why.append("same_establishment")
    elif (a.establishment_name and b.establishment_name and a.ubigeo == b.ubigeo
          and name_similarity(a.establishment_name, b.establishment_name) >= 0.85):
        why.append("same_establishment_name")
    if a.contact_key and a.contact_key == b.contact_key:
        why.append("same_contact")
    if None not in (a.latitude, a.longitude, b.latitude, b.longitude):
        # Pins are stored snapped to a ~500 m grid, so "within 50 m" means the same cell.
        if haversine_km(a.latitude, a.longitude, b.latitude, b.longitude) <= NEAR_KM:
            why.append("same_spot")
    if _similar_text(a, b):
        why.append("similar_text")
    return why


def _recent(session: Session, now: dt.datetime, department: str | None = None,
            departments: list[str] | None = None) -> list[CitizenReport]:
    q = select(CitizenReport).where(
        CitizenReport.created_at >= now - dt.timedelta(days=LOOKBACK_DAYS))
    if department:
        q = q.where(CitizenReport.department == department)
    if departments:
        q = q.where(CitizenReport.department.in_(departments))
    return list(session.scalars(q.order_by(CitizenReport.created_at)))


def priority_for(session: Session, report: CitizenReport, now: dt.datetime) -> float:
    """Score a report 0–100: what it is, registry link, corroboration, detail and age."""
    score = float(BASE_PRIORITY.get(report.kind, 15))
    if report.establishment_id:
        score += 10
        est = session.get(Establishment, report.establishment_id)
        if est is not None and not est.authorized_controlled:
            score += 10  # a place not licensed for controlled medicines reported selling them
    others = [r for r in _recent(session, now, department=report.department)
              if r.report_id != report.report_id]
    corroborating = sum(1 for r in others if relations(report, r))
    score += min(24, 8 * corroborating)
    has_photo = session.scalar(select(func.count()).select_from(ReportPhoto).where(
        ReportPhoto.report_id == report.report_id))
    score += 5 if has_photo else 0
    score += 5 if report.contact_key else 0
    score += 3 if report.latitude is not None else 0
    score += 3 if report.establishment_name else 0
    score += 3 if len(report.text or "") >= 80 else 0
    if report.occurred_on and report.occurred_on < now.date() - dt.timedelta(days=30):
        score -= 10
    return round(max(0.0, min(100.0, score)), 1)


@dataclass
class TriageRow:
    report: CitizenReport
    cluster: str
    related: dict[str, list[str]]
    duplicate_of: str | None
    photos: list[int]


def triage(session: Session, now: dt.datetime, status: str | None = None,
           departments: list[str] | None = None) -> list[TriageRow]:
    """Return recent reports with clusters and duplicates, highest priority first."""
    reports = _recent(session, now, departments=departments)
    parent = {r.report_id: r.report_id for r in reports}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    related: dict[str, dict[str, list[str]]] = {r.report_id: {} for r in reports}
    duplicate: dict[str, str] = {}
    for i, a in enumerate(reports):
        for b in reports[i + 1 :]:
            why = relations(a, b)
            if not why:
                continue
            related[a.report_id][b.report_id] = why
            related[b.report_id][a.report_id] = why
            ra, rb = find(a.report_id), find(b.report_id)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
            strong = {"same_establishment", "same_establishment_name", "same_contact"} & set(why)
            if (b.report_id not in duplicate and b.kind == a.kind and strong
                    and text_similarity(a.text, b.text) >= DUPLICATE_TEXT):
                duplicate[b.report_id] = a.report_id
    photos: dict[str, list[int]] = {}
    ids = [r.report_id for r in reports]
    if ids:
        for pid, rid in session.execute(select(ReportPhoto.id, ReportPhoto.report_id)
                                        .where(ReportPhoto.report_id.in_(ids))):
            photos.setdefault(rid, []).append(pid)
    rows = [TriageRow(r, find(r.report_id), related[r.report_id],
                      duplicate.get(r.report_id), photos.get(r.report_id, []))
            for r in reports if status is None or r.status == status]
    rows.sort(key=lambda row: (-row.report.priority, row.report.created_at))
    return rows


def row_json(row: TriageRow) -> dict:
    """Return the analyst JSON of one triage row (the page renders the same dict)."""
    r = row.report
    d = ref.get(r.ubigeo)
    return {
        "report_id": r.report_id, "status": r.status, "priority": r.priority,
        "kind": r.kind, "how": r.how, "channel": r.channel, "ubigeo": r.ubigeo,
        "place": f"{d.district}, {d.province}, {d.department}" if d else r.ubigeo,
        "latitude": r.latitude, "longitude": r.longitude,
        "establishment_name": r.establishment_name, "establishment_id": r.establishment_id,
        "link_score": r.link_score, "contact": r.contact,
        "occurred_on": r.occurred_on.isoformat() if r.occurred_on else None,
        "text": r.text, "created_at": r.created_at.isoformat(),
        "cluster": row.cluster, "related": row.related, "duplicate_of": row.duplicate_of,
        "photos": row.photos, "alert_id": r.alert_id,
    }


def set_status(session: Session, report_id: str, to_status: str, actor: str, now: dt.datetime,
               note: str = "") -> CitizenReport:
    """Move a report to ``to_status`` (audited); ``note`` is shown to the reporter."""
    if to_status not in REPORT_STATUSES:
        raise TriageError(f"status: must be one of {', '.join(REPORT_STATUSES)}")
    report = session.scalar(select(CitizenReport).where(CitizenReport.report_id == report_id))
    if report is None:
        raise TriageError(f"report {report_id!r} not found")
    if to_status not in NEXT_STATUS[report.status]:
        raise TriageError(f"status: cannot go from {report.status} to {to_status}")
    note = (note or "").strip()[:1000]
    session.add(ReportEvent(report_id=report_id, at=now, kind="status", actor=actor,
                            from_status=report.status, to_status=to_status, text=note,
                            public=True))
    record(session, actor, "citizen_report.status", report_id, reason=note,
           details={"from": report.status, "to": to_status}, now=now)
    report.status, report.updated_at = to_status, now
    session.flush()
    return report
