"""Route a bulletin through the alert channels (one call to the alerts area's outbox)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from centinela.alerts.routing import enqueue_payload
from centinela.ews.models import Bulletin


def bulletin_payload(b: Bulletin) -> dict:
    """Return what the channels deliver: the summary, links and the HTML body."""
    c = b.content or {}
    return {
        "id": b.number,  # the outbox queues a payload with an id once per channel
        "number": b.number, "title": b.title, "severity": b.severity,
        "summary": c.get("what", ""), "risk": c.get("risk", ""),
        "where": [w.get("name") for w in c.get("where", [])], "when": c.get("when", {}),
        "departments": list(b.departments or []), "inchikey": b.inchikey,
        "html_url": f"/ews/bulletins/{b.number}", "pdf_url": f"/ews/bulletins/{b.number}.pdf",
        "html": b.html,
    }


def route_bulletin(session: Session, b: Bulletin, now: dt.datetime) -> dict:
    """Queue the bulletin for the authorities (one delivery per channel of each authority)."""
    depts = list(b.departments or [])
    department = depts[0] if len(depts) == 1 else None  # several departments: national level
    result = enqueue_payload(session, "bulletin", bulletin_payload(b),
                             ["ews", b.category or "unknown"], department, b.severity, now)
    deliveries = _plain(result)
    return {"status": "queued" if deliveries else "no_authority", "department": department,
            "deliveries": deliveries}


def _plain(value):
    """Make the routing result storable as JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return getattr(value, "id", None) or str(value)
