"""Route alerts and bulletins to the competent authorities and queue one delivery per channel.

Detection calls ``route_alert`` through ``upsert_alert``; other areas (early-warning bulletins)
call ``enqueue_payload``. Nothing here sends anything: the dispatcher does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import SEVERITIES, Alert, Authority, Channel, Delivery
from centinela.alerts.payload import alert_json

RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class _Route:
    authority_id: str
    departments: tuple[str, ...]
    areas: tuple[str, ...]
    exclude: tuple[str, ...]
    topics: frozenset[str]
    min_rank: int
    channels: tuple[int, ...]


def _routes(session: Session) -> list[_Route]:
    cached = session.info.get("centinela_routing")
    if cached is not None:
        return cached
    if session.scalar(select(Authority.authority_id).limit(1)) is None:
        from centinela.alerts.authorities import seed_authorities

        seed_authorities(session)
    chans: dict[str, list[int]] = {}
    for ch in session.scalars(select(Channel).order_by(Channel.id)):
        chans.setdefault(ch.authority_id, []).append(ch.id)
    routes = [
        _Route(a.authority_id, tuple(a.departments or ()), tuple(a.areas or ()),
               tuple(a.exclude_areas or ()), frozenset(a.topics or ()), RANK.get(a.min_severity, 0),
               tuple(chans.get(a.authority_id, ())))
        for a in session.scalars(select(Authority).where(Authority.active.is_(True)))
    ]
    session.info["centinela_routing"] = routes
    return routes


def invalidate(session: Session) -> None:
    """Forget the cached routing table of this session (after editing authorities)."""
    session.info.pop("centinela_routing", None)


def _matches(r: _Route, topics: set[str], department: str | None, ubigeo: str | None,
             severity: str) -> bool:
    if RANK.get(severity, 0) < r.min_rank:
        return False
    if r.topics and not (r.topics & topics):
        return False
    if not r.departments and not r.areas:
        return True  # national
    if r.exclude and not ubigeo and department in r.departments:
        return False  # district unknown: never assume it lies outside the carved-out area
    if ubigeo and any(ubigeo.startswith(x) for x in r.exclude):
        return False
    if r.areas:
        return bool(ubigeo) and any(ubigeo.startswith(a) for a in r.areas)
    return department in r.departments


def authorities_for(session: Session, topics: list[str], department: str | None,
                    ubigeo: str | None, severity: str) -> list[_Route]:
    """Return the routes (authorities) competent for a finding."""
    return [r for r in _routes(session) if _matches(r, set(topics or ()), department, ubigeo, severity)]


def places_of(session: Session, alert: Alert) -> list[tuple[str | None, str | None]]:
    """Return the (department, district ubigeo) places an alert concerns.

    The alert's own district (else its establishment's: the subject, or the professional's
    workplace); a district decides the department, so Lima Metropolitana (1501xx) reaches its
    DIRIS and Callao (07xxxx) its own authority, never DIRESA Lima (provincias). A department
    that differs from the district's, and the establishments or departments named in the
    evidence, add places: an alert spanning regions reaches every regional authority involved.
    """
    from centinela.registry.models import Establishment, Professional

    def est_ubigeo(eid: str | None) -> str | None:
        if not eid:
            return None
        row = session.get(Establishment, eid)
        return row.ubigeo if row is not None and row.ubigeo else None

    ubigeo = alert.ubigeo or None
    if not ubigeo and alert.subject_kind == "establishment":
        ubigeo = est_ubigeo(alert.subject_id)
    if not ubigeo and alert.subject_kind == "professional":
        prof = session.get(Professional, alert.subject_id)
        if prof is not None:
            ubigeo = est_ubigeo(prof.establishment_id) or prof.ubigeo or None
    places: list[tuple[str | None, str | None]] = []
    if ubigeo:
        places.append((ubigeo[:2], ubigeo))
        if alert.department and alert.department != ubigeo[:2]:
            places.append((alert.department, None))
    else:
        places.append((alert.department, None))
    ev = alert.evidence or {}
    extra = [x for x in (ev.get("establishments") or []) if isinstance(x, str)]
    extra += [x for x in (ev.get("establishment_ids") or []) if isinstance(x, str)]
    for key in ("counterparty_id", "receiver_id", "sender_id"):
        if isinstance(ev.get(key), str):
            extra.append(ev[key])
    for eid in extra[:20]:
        u = est_ubigeo(eid)
        if u and (u[:2], u) not in places:
            places.append((u[:2], u))
    for dep in (ev.get("departments") or [])[:30]:
        if isinstance(dep, str) and not any(p[0] == dep for p in places):
            places.append((dep, None))
    return places


def _order(ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda a: (a != "DIGEMID", a))


def route_alert(session: Session, alert: Alert, now: dt.datetime | None = None,
                sent: dict[int, int] | None = None) -> list[str]:
    """Set ``alert.routed_to`` and queue a pending delivery per enabled channel (once per alert
    and channel; again when the alert's severity rises above what was notified).

    ``sent`` (channel id → highest severity rank queued for this alert), when the caller read
    it already (``upsert_alerts``): then nothing is read and nothing flushed here."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    routes: list[_Route] = []
    for department, ubigeo in places_of(session, alert):
        for r in authorities_for(session, alert.topics or [], department, ubigeo, alert.severity):
            if r not in routes:
                routes.append(r)
    alert.routed_to = _order([r.authority_id for r in routes])
    flush = sent is None
    if sent is None:
        sent = {}
        for ch_id, sev in session.execute(
            select(Delivery.channel_id, Delivery.severity).where(Delivery.alert_id == alert.alert_id)
        ):
            sent[ch_id] = max(sent.get(ch_id, -1), RANK.get(sev or "low", 0))
    payload = None
    rank = RANK.get(alert.severity, 0)
    for r in routes:
        for ch_id in r.channels:
            if ch_id in sent and rank <= sent[ch_id]:
                continue
            payload = payload or alert_json(alert)
            session.add(Delivery(
                alert_id=alert.alert_id, payload_kind="alert", payload=payload | {"authority_id": r.authority_id},
                channel_id=ch_id, status="pending", attempts=0, next_attempt_at=now,
                created_at=now, severity=alert.severity, ref=f"alert:{alert.alert_id}",
            ))
            sent[ch_id] = rank
    if flush:
        session.flush()
    return alert.routed_to


def enqueue_payload(session: Session, payload_kind: str, payload: dict, topics: list[str],
                    department: str | None, severity: str, now: dt.datetime | None = None,
                    ubigeo: str | None = None) -> list[Delivery]:
    """Queue a non-alert payload (e.g. a numbered bulletin) to every competent authority.

    A payload with an ``id`` is queued once per channel (re-enqueueing it is a no-op).
    """
    if severity not in RANK:
        raise ValueError(f"unknown severity {severity!r}")
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ref = f"{payload_kind}:{payload['id']}" if payload.get("id") is not None else None
    done: set[int] = set()
    if ref:
        done = set(session.scalars(select(Delivery.channel_id).where(Delivery.ref == ref)))
    out = []
    for r in authorities_for(session, topics, department, ubigeo, severity):
        for ch_id in r.channels:
            if ch_id in done:
                continue
            d = Delivery(alert_id=None, payload_kind=payload_kind,
                         payload=dict(payload) | {"authority_id": r.authority_id},
                         channel_id=ch_id, status="pending", attempts=0, next_attempt_at=now,
                         created_at=now, severity=severity, ref=ref)
            session.add(d)
            out.append(d)
            done.add(ch_id)
    session.flush()
    return out
