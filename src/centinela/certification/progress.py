"""Certification progress by department and profession, and reminders through the outbox."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import Authority, Channel, Delivery
from centinela.certification.rule import (
    HANDLING_ROLES,
    Person,
    periods_by_professional,
    registered_people,
    standing,
)
from centinela.config import Settings, get_settings
from centinela.reference.ubigeo import departments

UNKNOWN = "--"  # professionals with no department anywhere in the registry
UNKNOWN_NAME = "Sin departamento registrado"
# Professionals are reached through one stored-only outbox (their accounts read it); it takes
# no part in alert routing (inactive authority).
PROFESSIONALS_OUTBOX = "PROFESIONALES"


def standings(session: Session, today: dt.date, settings: Settings | None = None
              ) -> list[tuple[Person, object]]:
    """Return (person, Standing) for every registered professional on ``today``."""
    s = settings or get_settings()
    per = periods_by_professional(session, s.certification_valid_days)
    return [(p, standing(per.get(p.professional_id, []), today, s.certification_reminder_days))
            for p in registered_people(session)]


def department_status(session: Session, today: dt.date, settings: Settings | None = None,
                      rows=None) -> list[dict]:
    """Return one row per department with registered professionals (sorted by code).

    ``certified``/``total`` count prescribers and pharmacists; nurses are counted apart.
    ``expiring`` = valid today but ending within the reminder window.
    """
    rows = rows if rows is not None else standings(session, today, settings)
    names = departments()
    acc: dict[str, Counter] = defaultdict(Counter)
    for person, st in rows:
        c = acc[person.department or UNKNOWN]
        ok = st.state in ("valid", "expiring")
        if person.role in HANDLING_ROLES:
            c["total"] += 1
            c["certified"] += ok
            c["expiring"] += st.state == "expiring"
            c[f"{person.role}s_total"] += 1
            c[f"{person.role}s_certified"] += ok
        elif person.role == "nurse":
            c["nurses_total"] += 1
            c["nurses_certified"] += ok
    out = []
    for dep in sorted(acc):
        c = acc[dep]
        out.append({
            "department": dep, "name": names.get(dep, UNKNOWN_NAME),
            "certified": c["certified"], "total": c["total"],
            "percent": round(100.0 * c["certified"] / c["total"], 1) if c["total"] else None,
            "expiring_60d": c["expiring"],
            "prescribers_certified": c["prescribers_certified"],
            "prescribers_total": c["prescribers_total"],
            "pharmacists_certified": c["pharmacists_certified"],
            "pharmacists_total": c["pharmacists_total"],
            "nurses_certified": c["nurses_certified"], "nurses_total": c["nurses_total"],
        })
    return out


def national(rows: list[dict]) -> dict:
    """Sum department rows into the national line."""
    keys = [k for k in rows[0] if k.endswith(("certified", "total", "_60d"))] if rows else []
    tot = {k: sum(r[k] for r in rows) for k in keys}
    tot["percent"] = round(100.0 * tot["certified"] / tot["total"], 1) if tot.get("total") else None
    return {"department": "PE", "name": "Perú (nacional)", **tot}


def _professionals_channel(session: Session) -> int:
    if session.scalar(select(Authority.authority_id).limit(1)) is None:
        from centinela.alerts.authorities import seed_authorities

        seed_authorities(session)  # before ours, so routing still finds the seed registry
    a = session.get(Authority, PROFESSIONALS_OUTBOX)
    if a is None:
        session.add(Authority(authority_id=PROFESSIONALS_OUTBOX, kind="professionals",
                              name="Bandeja de profesionales (recordatorios de certificación)",
                              departments=[], areas=[], exclude_areas=[], topics=["compliance"],
                              min_severity="low", active=False))
        session.flush()
    ch = session.scalar(select(Channel).where(Channel.authority_id == PROFESSIONALS_OUTBOX,
                                              Channel.kind == "outbox"))
    if ch is None:
        ch = Channel(authority_id=PROFESSIONALS_OUTBOX, kind="outbox", target="", enabled=True)
        session.add(ch)
        session.flush()
    return ch.id


def _regional(session: Session, department: str | None, ubigeo: str | None):
    """Return the regional routes (DIRESA/GERESA, or Lima's DIRIS by district) of a person."""
    from centinela.alerts.routing import authorities_for

    if not department:
        return []
    return [r for r in authorities_for(session, ["compliance"], department, ubigeo, "low")
            if r.departments or r.areas]  # the regional level, not the national authorities


def send_reminders(session: Session, today: dt.date, now: dt.datetime,
                   settings: Settings | None = None) -> dict:
    """Queue reminders for prescribers and pharmacists whose certificate is missing, expired or
    expires within the window, and one list per regional authority (DIRESA/GERESA, or the DIRIS
    of the district in Lima Metropolitana).

    Idempotent: one reminder per professional and certificate state (``ref`` =
    ``cert:<id>:<state>:<valid_until>``), one list per authority and day.
    """
    s = settings or get_settings()
    rows = [(p, st) for p, st in standings(session, today, s)
            if p.role in HANDLING_ROLES and st.state != "valid"]
    chan = _professionals_channel(session)
    done = set(session.scalars(select(Delivery.ref).where(Delivery.payload_kind == "cert_reminder")))
    queued = Counter()
    by_auth: dict[str, list[dict]] = defaultdict(list)
    channels: dict[str, tuple[int, ...]] = {}
    for person, st in rows:
        item = {"professional_id": person.professional_id, "role": person.role,
                "state": st.state, "valid_until": st.valid_until.isoformat() if st.valid_until else None,
                "deadline": s.certification_deadline.isoformat()}
        for r in _regional(session, person.department, person.ubigeo):
            by_auth[r.authority_id].append(item | {"department": person.department})
            channels[r.authority_id] = r.channels
        ref = f"cert:{person.professional_id}:{st.state}:{item['valid_until']}"
        if ref in done:
            continue
        session.add(Delivery(alert_id=None, payload_kind="cert_reminder", ref=ref[:120],
                             payload={"id": ref, **item, "message": _message(item)},
                             channel_id=chan, status="pending", attempts=0, next_attempt_at=now,
                             created_at=now, severity="low"))
        done.add(ref)
        queued["professionals"] += 1
    for authority_id, items in sorted(by_auth.items()):
        ref = f"certlist:{authority_id}:{today.isoformat()}"
        if ref in done:
            continue
        payload = {"id": ref, "authority_id": authority_id, "as_of": today.isoformat(),
                   "counts": dict(Counter(i["state"] for i in items)), "professionals": items}
        for ch in channels[authority_id]:
            session.add(Delivery(alert_id=None, payload_kind="cert_reminder", ref=ref,
                                 payload=payload, channel_id=ch, status="pending", attempts=0,
                                 next_attempt_at=now, created_at=now, severity="low"))
            queued["authorities"] += 1
        done.add(ref)
    session.flush()
    return {"as_of": today.isoformat(), "due": len(rows),
            "by_state": dict(Counter(st.state for _, st in rows)),
            "queued_professionals": queued["professionals"],
            "queued_authorities": queued["authorities"]}


def _message(item: dict) -> str:
    if item["state"] == "missing":
        return ("No registra certificado de competencia en opioides. Debe certificarse antes del "
                f"{item['deadline']} para manejar fentanilo.")
    if item["state"] == "expired":
        return (f"Su certificado de competencia en opioides venció el {item['valid_until']}. "
                "Renuévelo para seguir manejando fentanilo.")
    return (f"Su certificado de competencia en opioides vence el {item['valid_until']}. "
            "Renuévelo a tiempo.")
