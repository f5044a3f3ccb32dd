"""Read models shared by the CLI, the JSON API and the pages (one context, two renderings)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.online.models import LEAD_STATUSES, OnlineLead, OnlineLeadKey, OnlinePost
from centinela.reference.ubigeo import departments


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def list_leads(session: Session, status: str | None = None, department: str | None = None,
               limit: int = 100, offset: int = 0) -> list[OnlineLead]:
    """Leads ordered by score, optionally filtered by status and department."""
    if status is not None and status not in LEAD_STATUSES:
        raise ValueError(f"status must be one of {LEAD_STATUSES}")
    q = select(OnlineLead)
    if status:
        q = q.where(OnlineLead.status == status)
    if department:
        q = q.where(OnlineLead.department == department)
    q = q.order_by(OnlineLead.score.desc(), OnlineLead.last_seen.desc()).limit(limit).offset(offset)
    return list(session.scalars(q))


def lead_summary(lead: OnlineLead) -> dict:
    """List-row view of a lead (no identifiers)."""
    return {
        "lead_id": lead.lead_id, "status": lead.status, "score": lead.score,
        "max_probability": lead.max_probability, "n_posts": lead.n_posts,
        "first_seen": _iso(lead.first_seen), "last_seen": _iso(lead.last_seen),
        "department": lead.department, "department_name": departments().get(lead.department or ""),
        "ubigeo": lead.ubigeo, "substances": lead.substances, "platforms": lead.platforms,
        "establishment_ids": lead.establishment_ids, "alert_id": lead.alert_id,
    }


def lead_detail(session: Session, lead_id: str) -> dict | None:
    """Full view of a lead: identifiers, places, decision and every post with its evidence."""
    lead = session.get(OnlineLead, lead_id)
    if lead is None:
        return None
    keys = session.scalars(select(OnlineLeadKey).where(OnlineLeadKey.lead_id == lead_id)
                           .order_by(OnlineLeadKey.kind, OnlineLeadKey.value))
    posts = session.scalars(select(OnlinePost).where(OnlinePost.lead_id == lead_id)
                            .order_by(OnlinePost.posted_at, OnlinePost.id))
    return {
        **lead_summary(lead),
        "places": lead.places, "note": lead.note, "decided_by": lead.decided_by,
        "decided_at": _iso(lead.decided_at),
        "identifiers": [{"kind": k.kind, "value": k.value} for k in keys],
        "posts": [{
            "id": p.id, "platform": p.platform, "author": p.author, "url": p.url, "text": p.text,
            "posted_at": _iso(p.posted_at), "language": p.language, "probability": p.probability,
            "substances": p.substances, "explanation": p.explanation, "entities": p.entities,
            "provenance": p.provenance,
        } for p in posts],
    }
