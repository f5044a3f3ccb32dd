"""Group offer posts into leads (union–find over phones, handles, payment and author accounts),
keep lead aggregates current, and turn analysts' decisions into alerts, signals and training data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import Counter

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from centinela import audit
from centinela.alerts.service import AlertDraft, severity_for, upsert_alert
from centinela.ews.signals import record_signal
from centinela.lib.clock import to_lima
from centinela.online.establishments import match_establishments
from centinela.online.extract import phones
from centinela.online.models import OnlineFeedback, OnlineLead, OnlineLeadKey, OnlinePost
from centinela.reference.ubigeo import departments, is_valid

log = logging.getLogger(__name__)
DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}


class LeadError(ValueError):
    """A lead action that cannot be done (unknown lead, bad decision, missing department)."""


class UnionFind:
    """Disjoint sets over hashable items."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def groups(self) -> dict:
        out: dict = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), []).append(x)
        return out


def post_keys(post: OnlinePost) -> set[tuple[str, str]]:
    """Identifiers of a post: its entities' keys plus the author account on its platform."""
    ent = post.entities or {}
    keys = {("phone", p) for p in ent.get("phones", [])}
    keys |= {("handle", h) for h in ent.get("handles", [])}
    keys |= {("payment", f"{p['kind']}:{p['value']}") for p in ent.get("payments", [])
             if p.get("kind") not in ("yape", "plin")}
    if post.author and (as_phone := phones(post.author)):
        keys |= {("phone", p) for p in as_phone}  # WhatsApp shows unknown senders as numbers
    author = (post.provenance or {}).get("author_id") or post.author
    if author:
        a = author.strip().lower()
        if re.fullmatch(r"@[\w.]{2,40}", a):
            keys.add(("handle", a))
        else:
            keys.add(("author", f"{post.platform}:{a}"))
    return keys


def _new_lead_id(seed: str) -> str:
    return "LEAD-" + hashlib.sha256(seed.encode()).hexdigest()[:12].upper()


def assign(session: Session, posts: list[OnlinePost], now: dt.datetime) -> set[str]:
    """Attach new offer posts to leads (creating or merging leads); return touched lead ids."""
    uf = UnionFind()
    keys_of: dict[int, set[tuple[str, str]]] = {}
    for post in posts:
        keys = post_keys(post)
        if not keys:
            continue  # nothing to tie it to anyone: kept until retention, never a lead
        keys_of[post.id] = keys
        for k in keys:
            uf.union(("post", post.id), ("key",) + k)
    by_id = {p.id: p for p in posts}
    touched: set[str] = set()
    for members in uf.groups().values():
        post_ids = [m[1] for m in members if m[0] == "post"]
        keys = {m[1:] for m in members if m[0] == "key"}
        existing = _leads_owning(session, keys)
        if existing:
            lead = _merge(session, existing, now)
        else:
            first = min(post_ids)
            lead = OnlineLead(lead_id=_new_lead_id(f"{by_id[first].post_key}"), status="open",
                              first_seen=now, last_seen=now, created_at=now, updated_at=now)
            session.add(lead)
            session.flush()
        owned = {(k.kind, k.value) for k in session.scalars(
            select(OnlineLeadKey).where(OnlineLeadKey.lead_id == lead.lead_id))}
        for kind, value in keys - owned:
            session.add(OnlineLeadKey(lead_id=lead.lead_id, kind=kind, value=value))
        for pid in post_ids:
            by_id[pid].lead_id = lead.lead_id
        session.flush()
        touched.add(lead.lead_id)
    for lead_id in touched:
        refresh(session, lead_id, now)
    return touched


def _leads_owning(session: Session, keys: set[tuple[str, str]]) -> list[OnlineLead]:
    if not keys:
        return []
    ids: set[str] = set()
    values = {v for _, v in keys}
    for k in session.scalars(select(OnlineLeadKey).where(OnlineLeadKey.value.in_(values))):
        if (k.kind, k.value) in keys:
            ids.add(k.lead_id)
    if not ids:
        return []
    return list(session.scalars(select(OnlineLead).where(OnlineLead.lead_id.in_(ids))
                                .order_by(OnlineLead.created_at, OnlineLead.lead_id)))


def _merge(session: Session, leads: list[OnlineLead], now: dt.datetime) -> OnlineLead:
    """Keep the oldest lead; move the others' posts and keys into it."""
    keep, others = leads[0], leads[1:]
    rank = {"confirmed": 2, "open": 1, "dismissed": 0}
    for other in others:
        session.execute(update(OnlinePost).where(OnlinePost.lead_id == other.lead_id)
                        .values(lead_id=keep.lead_id))
        session.execute(update(OnlineLeadKey).where(OnlineLeadKey.lead_id == other.lead_id)
                        .values(lead_id=keep.lead_id))
        if rank[other.status] > rank[keep.status]:
            keep.status, keep.decided_by, keep.decided_at = other.status, other.decided_by, other.decided_at
            keep.alert_id = other.alert_id or keep.alert_id
        keep.note = (keep.note + f"\n[{now:%Y-%m-%d}] fusionado con {other.lead_id}").strip()
        session.delete(other)
        log.info("online lead %s merged into %s", other.lead_id, keep.lead_id)
    session.flush()
    return keep


def refresh(session: Session, lead_id: str, now: dt.datetime) -> OnlineLead:
    """Recompute a lead's aggregates (counts, time span, places, establishments, score)."""
    lead = session.get(OnlineLead, lead_id)
    posts = list(session.scalars(select(OnlinePost).where(OnlinePost.lead_id == lead_id)))
    if lead is None:
        raise LeadError(f"unknown lead {lead_id}")
    times = [p.posted_at or p.stored_at for p in posts] or [lead.first_seen]
    lead.n_posts = len(posts)
    lead.first_seen, lead.last_seen = min(times), max(times)
    lead.max_probability = max((p.probability for p in posts), default=0.0)
    lead.substances = sorted({s for p in posts for s in (p.substances or [])})
    lead.platforms = sorted({p.platform for p in posts})
    places = [pl for p in posts for pl in (p.entities or {}).get("places", [])]
    lead.places = list({pl["ubigeo"]: pl for pl in places}.values())[:20]
    ests = match_establishments(session, [p.text for p in posts])
    lead.establishment_ids = [e["establishment_id"] for e in ests]
    deps = Counter(pl["department"] for pl in places) + Counter(e["department"] for e in ests)
    if deps:
        lead.department = deps.most_common(1)[0][0]
        districts = Counter(pl["ubigeo"] for pl in places if pl["level"] == "district"
                            and pl["department"] == lead.department)
        districts.update(e["ubigeo"] for e in ests if e["department"] == lead.department)
        lead.ubigeo = districts.most_common(1)[0][0] if districts else None
    lead.score = round(min(100.0, 60 * lead.max_probability + 3 * min(lead.n_posts, 10)
                           + (10 if ests else 0) + (5 if lead.department else 0)), 1)
    lead.updated_at = now
    session.flush()
    if lead.status == "confirmed":
        raise_alert(session, lead, now)  # new evidence on a confirmed lead updates its alert
    return lead


_PHONE_RX = re.compile(r"(?:\+?51[\s.-]?)?9\d{2}[\s.-]?\d{3}[\s.-]?\d{3}")
_MASKS = [
    (re.compile(r"\b(?:https?://|www\.)[^\s,;]+|\b(?:t\.me|wa\.me)/[^\s,;]+"), "https://enlace"),
    (re.compile(r"(?<![\w.@])@[A-Za-z0-9_.]{2,30}"), "@usuario"),
    (re.compile(r"\b\d[\d -]{9,28}\d\b"),
     lambda m: m.group(0) if _PHONE_RX.fullmatch(m.group(0)) else "0000000000"),
    (_PHONE_RX, "900 000 000"),
]


def mask_identifiers(text: str) -> str:
    """Replace phones, handles, links and account numbers by placeholders (training data)."""
    for rx, rep in _MASKS:
        text = rx.sub(rep, text)
    return text


def decide(session: Session, lead_id: str, decision: str, actor: str, note: str,
           now: dt.datetime, department: str | None = None) -> OnlineLead:
    """Confirm or dismiss a lead: audit it, store feedback, and on confirm raise alert + signal."""
    if decision not in DECISIONS:
        raise LeadError(f"decision must be one of {sorted(DECISIONS)}, not {decision!r}")
    if not note.strip():
        raise LeadError("a note is required to confirm or dismiss a lead")
    lead = session.get(OnlineLead, lead_id)
    if lead is None:
        raise LeadError(f"unknown lead {lead_id}")
    if decision == "dismiss" and lead.status == "confirmed":
        # The confirmation already raised an alert routed to the police and the regulator: a
        # second thought is recorded where they read it, on that alert's case.
        raise LeadError(f"lead {lead_id} was confirmed and sent as alert {lead.alert_id}: close "
                        "that alert as a false positive (case workflow) instead of dismissing "
                        "the lead")
    if department:
        if department not in departments():
            raise LeadError(f"unknown department code {department!r} (2 digits, INEI)")
        lead.department = department
    if decision == "confirm" and not lead.establishment_ids and not lead.department:
        raise LeadError(f"lead {lead_id} names no place or establishment: give its department "
                        "(2-digit INEI code) to confirm it")
    lead.status = DECISIONS[decision]
    lead.decided_by, lead.decided_at = actor, now
    lima = to_lima(now)
    word = {"confirm": "confirmado", "dismiss": "descartado"}[decision]
    lead.note = (lead.note + f"\n[{lima:%Y-%m-%d %H:%M} hora de Lima] {actor} ({word}): "
                 f"{note.strip()}").strip()
    label = 1 if decision == "confirm" else 0
    posts = list(session.scalars(select(OnlinePost).where(OnlinePost.lead_id == lead_id)))
    session.execute(delete(OnlineFeedback).where(OnlineFeedback.lead_id == lead_id))
    for p in posts:
        session.add(OnlineFeedback(lead_id=lead_id, text=mask_identifiers(p.text), label=label,
                                   actor=actor, created_at=now))
    audit.record(session, actor, f"online.lead.{decision}", lead_id, reason=note.strip(),
                 details={"n_posts": len(posts), "department": lead.department}, now=now)
    if decision == "confirm":
        raise_alert(session, lead, now)
    session.flush()
    log.info("online lead %s %s by user id %s", lead_id, lead.status, actor)
    return lead


def raise_alert(session: Session, lead: OnlineLead, now: dt.datetime) -> None:
    """Upsert the lead's alert (routed to police cybercrime, anti-drug and the regulator) and signal."""
    if lead.establishment_ids:
        kind, subject = "establishment", lead.establishment_ids[0]
    else:
        kind, subject = "region", lead.department
    if not subject:
        return
    score = max(lead.score, 70.0)  # confirmed by an analyst: at least high
    substance = lead.substances[0] if lead.substances else "opioid"
    place = departments().get(lead.department or "", "lugar no identificado")
    summary = (f"Oferta en línea de {_es_substance(substance)} confirmada por analista: "
               f"{lead.n_posts} publicación(es) en {', '.join(lead.platforms) or 'redes'}, {place}.")
    alert, _ = upsert_alert(session, AlertDraft(
        detector="online_lead", subject_kind=kind, subject_id=subject,
        severity=severity_for(score), score=score, window_start=lead.first_seen,
        window_end=lead.last_seen, summary=summary,
        evidence={"lead_id": lead.lead_id, "n_posts": lead.n_posts, "platforms": lead.platforms,
                  "substances": lead.substances, "max_probability": lead.max_probability,
                  "establishment_ids": lead.establishment_ids, "department": lead.department,
                  "ubigeo": lead.ubigeo},
        department=lead.department, topics=["online", "criminal"]), now=now)
    lead.alert_id = alert.alert_id
    ubigeo = lead.ubigeo
    if not ubigeo and lead.department and is_valid(lead.department + "0101"):
        ubigeo = lead.department + "0101"  # department known, district not: its capital district
    record_signal(session, "online", lead.lead_id, lead.last_seen, ubigeo=ubigeo,
                  substance=substance, weight=float(min(lead.n_posts, 10)),
                  payload={"lead_id": lead.lead_id, "alert_id": alert.alert_id,
                           "platforms": lead.platforms, "n_posts": lead.n_posts})


def _es_substance(s: str) -> str:
    from centinela.online.lexicon import registry_names_es

    return {"fentanyl": "fentanilo", "tramadol": "tramadol", "oxycodone": "oxicodona",
            "morphine": "morfina", "methadone": "metadona", "pethidine": "petidina",
            "heroin": "heroína", "codeine": "codeína", "hydromorphone": "hidromorfona",
            "buprenorphine": "buprenorfina", "oxymorphone": "oximorfona",
            "hydrocodone": "hidrocodona", "tapentadol": "tapentadol", "opium": "opio",
            "mt-45": "MT-45", "ah-7921": "AH-7921", "nalbuphine": "nalbufina",
            }.get(s) or registry_names_es().get(s, "opioides")
