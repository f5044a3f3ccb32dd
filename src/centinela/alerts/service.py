"""The one seam through which every part of Centinela raises an alert.

Detectors, the early-warning system, online-market leads and citizen reports all build an
``AlertDraft`` and call ``upsert_alert``: one open alert per detector and subject, repeats are
added to it as occurrences, and closed cases suppress what they judged (see ``upsert_alert``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import SEVERITIES, SUBJECT_KINDS, Alert
from centinela.alerts.routing import RANK, route_alert


@dataclass
class AlertDraft:
    detector: str
    subject_kind: str
    subject_id: str
    severity: str
    score: float
    window_start: dt.datetime
    window_end: dt.datetime
    summary: str
    evidence: dict = field(default_factory=dict)
    department: str | None = None
    topics: list[str] = field(default_factory=list)
    ubigeo: str | None = None
    # True: one open alert per detector and subject (repeats become occurrences, closed cases
    # suppress). Detection drafts set it; False keeps one alert per window (older callers).
    grouped: bool = False
    # What tells apart two findings of one detector on one subject that must stay separate
    # alerts (the early warning's substances in one department: a carfentanil and a
    # cyclopropylfentanyl first seen in Lima on the same day are two alerts, never one that the
    # weaker overwrites). Part of the dedup key and of the open-alert match; "" = none.
    variant: str = ""

    def __post_init__(self) -> None:
        self.summary = one_sentence(self.summary)

    def dedup_key(self) -> str:
        parts = [self.detector, self.subject_kind, self.subject_id,
                 self.window_start.isoformat(), self.window_end.isoformat()]
        if self.variant:
            parts.append(self.variant)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


# A sentence ends at a period followed by a space and a capital (or an opening mark).
_SENTENCE_END = re.compile(r"(?<=[^\s.])\.\s+(?=[¿¡(«\"A-ZÁÉÍÓÚÑ])")
# The next sentence's first word is lower-cased when it is an ordinary word ("Verificar",
# "Solo"), never an id or a name in capitals ("EST-0014284", "CMP-…", "PSN:…", "DIGEMID").
_ORDINARY_WORD = re.compile(r"^[A-ZÁÉÍÓÚÑ][a-záéíóúñü]*(?=[\s,;:]|$)")


def one_sentence(text: str) -> str:
    """The summary as the data contract wants it: one sentence (the detector's sentences
    joined by semicolons, one final period)."""
    text = " ".join((text or "").split())
    parts = [p for p in _SENTENCE_END.split(text) if p]
    if len(parts) <= 1:
        return text
    out = parts[0].rstrip(";:")
    for i, part in enumerate(parts[1:], start=2):
        m = _ORDINARY_WORD.match(part)
        if m and m.group(0) not in _KEEP_CAPITAL:
            part = part[0].lower() + part[1:]
        out += "; " + (part if i == len(parts) else part.rstrip(";:"))
    return out


# Capitalised words that stay so inside a sentence (place names a summary may start with).
_KEEP_CAPITAL = frozenset({"Lima", "Perú", "Callao", "Cusco", "Piura", "Junín", "Arequipa"})


def severity_for(score: float) -> str:
    """Map a 0–100 score to a severity band (shared calibration of every detector)."""
    if score >= 85:
        return "critical"
    if score >= 65:
        return "high"
    if score >= 40:
        return "medium"
    return "low"


MAX_OCCURRENCES = 50
# A finding on a subject whose case was closed as justified or a false positive is suppressed
# for ``alert_suppress_days`` unless its magnitude (MME involved) grows by this factor.
SUPPRESS_GROWTH = 1.5
SUPPRESSING_OUTCOMES = ("justified", "false_positive")


def upsert_alert(session: Session, draft: AlertDraft, now: dt.datetime | None = None) -> tuple[Alert, bool]:
    """Insert the alert or fold the draft into the open alert of the same detector and subject;
    return (alert, created).

    One open alert per subject and pattern: a repeat (another month, another loss) becomes an
    occurrence of the open alert (``evidence.occurrences``, with its window) instead of a new
    row; the alert keeps the strongest occurrence's score and summary. A draft whose window
    overlaps a stored occurrence replaces it (the same finding seen over a grown window). A
    subject whose case was closed as justified or false positive within ``alert_suppress_days``
    raises nothing new unless the magnitude grows (returns the closed alert, not created).

    Routing and outbox rows are added by ``centinela.alerts.routing.route_alert``.
    """
    _valid(draft)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    key = draft.dedup_key()
    return _upsert(session, draft, now, key,
                   session.scalar(select(Alert).where(Alert.dedup_key == key)),
                   lambda: _open_alert(session, draft),
                   lambda: _suppressing_case(session, draft, now))


def upsert_alerts(session: Session, drafts: list[AlertDraft],
                  now: dt.datetime | None = None) -> list[tuple[Alert, bool]]:
    """``upsert_alert`` for many drafts, in order, with the same result, in a few statements.

    A draft whose detector and subject have no stored alert (open, closed or otherwise) needs
    nothing read per draft: nothing can suppress it, and the only alerts it can fold into are
    those the list itself created before it (found in memory by the same rules as
    ``_open_alert``: same variant, and an overlapping window unless grouped). Such alerts are
    created and routed from facts read once for the whole list (the stored detector/subject
    pairs, the subjects' establishments and professionals, the deliveries already queued for
    the new alert ids; a repeat sees the deliveries its alert queued earlier in the list), and
    every such alert and delivery is inserted by one flush at the end. Every other draft (a
    subject with a stored or closed alert) goes through ``upsert_alert`` itself, in its place
    in the list. The real-time rules raise ~200 alerts after a national backfill: ~1,300
    statements one alert at a time.
    """

    from centinela.alerts.models import Delivery
    from centinela.registry.models import Establishment, Professional

    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    stored: set[tuple[str, str, str]] = set()
    subjects = sorted({d.subject_id for d in drafts})
    for i in range(0, len(subjects), 500):
        stored.update((a, b, c) for a, b, c in session.execute(
            select(Alert.detector, Alert.subject_kind, Alert.subject_id)
            .where(Alert.subject_id.in_(subjects[i:i + 500]))))
    fresh = [w not in stored for w in ((d.detector, d.subject_kind, d.subject_id) for d in drafts)]
    keys = [d.dedup_key() for d in drafts]
    sent: dict[str, dict[int, int]] = {}
    if any(fresh):
        # What routing reads, loaded once (session.get then finds them in the identity map).
        ests = {d.subject_id for d, f in zip(drafts, fresh, strict=True)
                if f and d.subject_kind == "establishment"}
        pros = [d.subject_id for d, f in zip(drafts, fresh, strict=True)
                if f and d.subject_kind == "professional"]
        for i in range(0, len(pros), 500):
            ests.update(p.establishment_id for p in session.scalars(
                select(Professional).where(Professional.professional_id.in_(pros[i:i + 500])))
                if p.establishment_id)
        for d, f in zip(drafts, fresh, strict=True):
            if f:
                ev = d.evidence or {}
                ests.update(x for x in (*(ev.get("establishments") or []),
                                        *(ev.get("establishment_ids") or []))
                            if isinstance(x, str))
                ests.update(ev[k] for k in ("counterparty_id", "receiver_id", "sender_id")
                            if isinstance(ev.get(k), str))
        wanted = sorted(ests)
        for i in range(0, len(wanted), 500):
            session.scalars(select(Establishment).where(
                Establishment.establishment_id.in_(wanted[i:i + 500]))).all()
        ids = [_alert_id(k) for k, f in zip(keys, fresh, strict=True) if f]
        for i in range(0, len(ids), 500):
            for alert_id, ch_id, sev in session.execute(
                    select(Delivery.alert_id, Delivery.channel_id, Delivery.severity)
                    .where(Delivery.alert_id.in_(ids[i:i + 500]))):
                mine = sent.setdefault(alert_id, {})
                mine[ch_id] = max(mine.get(ch_id, -1), RANK.get(sev or "low", 0))
    out: list[tuple[Alert, bool]] = []
    # New subjects' alerts made by this batch, oldest first: a dedup key names its detector
    # and subject, so a repeat's alert of the same key is among its subject's few.
    made: dict[tuple[str, str, str], list[Alert]] = {}
    for d, key, f in zip(drafts, keys, fresh, strict=True):
        if f:
            _valid(d)
            mine = made.setdefault((d.detector, d.subject_kind, d.subject_id), [])
            same = next((a for a in mine if a.dedup_key == key), None)
            with session.no_autoflush:
                alert, created = _upsert(session, d, now, key, same,
                                         lambda d=d, mine=mine: _open_in(mine, d),
                                         lambda: None, sent=sent)
            if created:
                mine.append(alert)
            out.append((alert, created))
        else:
            out.append(upsert_alert(session, d, now=now))
    session.flush()
    return out


def _open_in(alerts: list[Alert], draft: AlertDraft) -> Alert | None:
    """``_open_alert`` among ``alerts`` (created in this batch, oldest first), in memory."""
    for alert in reversed(alerts):
        if alert.status == "closed":
            continue
        if not draft.grouped and not (alert.window_start <= draft.window_end
                                      and alert.window_end >= draft.window_start):
            continue
        if (alert.evidence or {}).get("variant", "") == draft.variant:
            return alert
    return None


def _alert_id(key: str) -> str:
    """The alert id a dedup key gets when its alert is created."""
    return "ALR-" + key[:16].upper()


def _valid(draft: AlertDraft) -> None:
    if draft.subject_kind not in SUBJECT_KINDS:
        raise ValueError(f"unknown subject_kind {draft.subject_kind!r}")
    if draft.severity not in SEVERITIES:
        raise ValueError(f"unknown severity {draft.severity!r}")


def _upsert(session: Session, draft: AlertDraft, now: dt.datetime, key: str,
            alert: Alert | None, open_alert, suppressing,
            sent: dict[str, dict[int, int]] | None = None) -> tuple[Alert, bool]:
    """The body of ``upsert_alert``, given what it reads: the alert of the same key, and
    functions returning the open alert and the suppressing closed case. With ``sent`` (the
    deliveries already queued, by alert id) nothing is flushed: ``upsert_alerts`` flushes."""
    if alert is not None and alert.status == "closed" and draft.grouped:
        return alert, False  # the same finding again: its case is already decided
    if alert is None:
        alert = open_alert()
        if alert is not None and not draft.grouped:
            # The same finding seen over a grown or shifted window: keep one alert.
            alert.dedup_key = key
            alert.window_start = draft.window_start
            alert.window_end = draft.window_end
    created = alert is None
    if created and draft.grouped:
        closed = suppressing()
        if closed is not None:
            return closed, False
    if created:
        alert = Alert(
            alert_id=_alert_id(key),
            dedup_key=key,
            detector=draft.detector,
            subject_kind=draft.subject_kind,
            subject_id=draft.subject_id,
            window_start=draft.window_start,
            window_end=draft.window_end,
            status="new",
            created_at=now,
            routed_to=[],
            score=-1.0,
            evidence={},
        )
        session.add(alert)
    if not draft.grouped:
        _apply(alert, draft)
        alert.updated_at = now
        return _routed(session, alert, created, now, sent)
    occurrences = _merge_occurrence(list((alert.evidence or {}).get("occurrences") or []), draft)
    if created or draft.score >= (alert.score or 0.0) or _same_window(alert, draft):
        _apply(alert, draft)
    else:
        alert.evidence = dict(alert.evidence or {})
    best = max(occurrences, key=lambda o: o["score"])
    if best["score"] > (alert.score or 0.0):  # a replaced occurrence may have been the best
        alert.score, alert.severity = best["score"], severity_for(best["score"])
    alert.evidence["occurrences"] = occurrences[-MAX_OCCURRENCES:]
    alert.evidence["occurrence_count"] = len(occurrences)
    alert.window_start = min(_dt(o["window_start"]) for o in occurrences)
    alert.window_end = max(_dt(o["window_end"]) for o in occurrences)
    alert.updated_at = now
    return _routed(session, alert, created, now, sent)


def _apply(alert: Alert, draft: AlertDraft) -> None:
    alert.department = draft.department
    alert.ubigeo = draft.ubigeo
    alert.severity = draft.severity
    alert.score = round(float(draft.score), 3)
    alert.summary = draft.summary
    alert.evidence = dict(draft.evidence)
    if draft.variant:
        alert.evidence["variant"] = draft.variant
    alert.topics = list(draft.topics)


def _routed(session: Session, alert: Alert, created: bool, now: dt.datetime,
            sent: dict[str, dict[int, int]] | None = None) -> tuple[Alert, bool]:
    if sent is None:
        session.flush()
        route_alert(session, alert, now=now)
    else:  # what this alert queued earlier in the batch counts too (``route_alert`` adds it)
        route_alert(session, alert, now=now, sent=sent.setdefault(alert.alert_id, {}))
    return alert, created


def _dt(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _same_window(alert: Alert, draft: AlertDraft) -> bool:
    return alert.window_start == draft.window_start and alert.window_end == draft.window_end


# Evidence fields that tell apart two findings a detector makes on one subject in one run
# (two presentations written off, a spike and a build-up): each is its own occurrence.
FINDING_FIELDS = ("product_code", "substance", "metric")


def finding_of(draft: AlertDraft) -> str:
    """What a draft found, as far as its evidence says (``FINDING_FIELDS``): ``""`` if nothing."""
    ev = draft.evidence or {}
    return "|".join(str(ev[k]) for k in FINDING_FIELDS if isinstance(ev.get(k), str | int | float))


def _merge_occurrence(occurrences: list[dict], draft: AlertDraft) -> list[dict]:
    """Add the draft as an occurrence, replacing the stored ones of the same finding whose
    window it overlaps (the same finding seen again over a grown window). An occurrence stored
    without a finding (before it was recorded) is the same finding as any draft."""
    ws, we = draft.window_start, draft.window_end
    found = finding_of(draft)
    kept = [o for o in occurrences
            if not (_dt(o["window_start"]) <= we and _dt(o["window_end"]) >= ws
                    and o.get("finding", found) == found)]
    kept.append({"window_start": ws.isoformat(), "window_end": we.isoformat(),
                 "score": round(float(draft.score), 3), "severity": draft.severity,
                 "finding": found, "mme": (draft.evidence or {}).get("mme"),
                 "event_ids": list((draft.evidence or {}).get("event_ids") or [])[:5]})
    return sorted(kept, key=lambda o: (o["window_start"], o.get("finding", "")))


def in_upsert_order(drafts: list[AlertDraft]) -> list[AlertDraft]:
    """Drafts in a fixed order: strongest first, then (equal scores) the older window first,
    then the dedup key. The alert a subject's findings fold into is created by its strongest
    and stated by it, or by its latest among equals, whatever order the detector listed them
    in (a set's order changes from one process to the next)."""
    return sorted(drafts, key=lambda d: (-float(d.score), d.window_end, d.window_start,
                                         d.dedup_key()))


def _open_alert(session: Session, draft: AlertDraft) -> Alert | None:
    """Return the open alert of the same detector, subject and variant (any window when the
    draft is grouped, else one whose window overlaps the draft's)."""
    where = [Alert.detector == draft.detector, Alert.subject_kind == draft.subject_kind,
             Alert.subject_id == draft.subject_id, Alert.status != "closed"]
    if not draft.grouped:
        where += [Alert.window_start <= draft.window_end, Alert.window_end >= draft.window_start]
    query = select(Alert).where(*where).order_by(Alert.updated_at.desc(), Alert.id.desc())
    # Few open alerts share a detector and subject: the variant is compared here, not in SQL
    # (it lives in the evidence JSON).
    for alert in session.scalars(query):
        if (alert.evidence or {}).get("variant", "") == draft.variant:
            return alert
    return None


def _suppressing_case(session: Session, draft: AlertDraft, now: dt.datetime) -> Alert | None:
    """Return the recently closed justified/false-positive alert of this subject and detector
    that suppresses the draft (None when there is none or the magnitude grew)."""
    from centinela.alerts.models import CaseEvent
    from centinela.config import get_settings

    since = now - dt.timedelta(days=get_settings().alert_suppress_days)
    closed = session.scalars(
        select(Alert).where(
            Alert.detector == draft.detector, Alert.subject_kind == draft.subject_kind,
            Alert.subject_id == draft.subject_id, Alert.status == "closed",
            Alert.outcome.in_(SUPPRESSING_OUTCOMES))
        .order_by(Alert.updated_at.desc())
    ).all()
    for alert in closed:
        closed_at = session.scalar(
            select(CaseEvent.at).where(CaseEvent.alert_id == alert.alert_id,
                                       CaseEvent.action == "close")
            .order_by(CaseEvent.at.desc()).limit(1)) or alert.updated_at
        if closed_at < since:
            continue
        before = float((alert.evidence or {}).get("mme") or 0.0)
        after = float((draft.evidence or {}).get("mme") or 0.0)
        grew = after > SUPPRESS_GROWTH * before if before > 0 else False
        if not grew:
            return alert
    return None
