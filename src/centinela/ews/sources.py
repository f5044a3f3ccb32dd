"""The signals behind an early-warning alert: what the alert page shows instead of movements.

An EWS alert is raised by signals (a seizure, a laboratory identification, overdose events,
online posts, citizen tips), never by ledger movements. Its subject is a department (or a
seized lot), so the pharmacy movements of that department in the alert's window are not
behind it and, with their patient pseudonyms, must not be shown as if they were.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert
from centinela.ews.detect import SEIZURE_KINDS, substance_key
from centinela.ews.models import Signal

SOURCES_SHOWN = 50  # one page of signals; an aberration or a cluster may count more


def is_ews_alert(alert: Alert) -> bool:
    """True for an alert written by an early-warning rule (``ews_*``)."""
    return alert.detector.startswith("ews_")


def alert_signals(session: Session, alert: Alert, departments: list[str] | None = None,
                  limit: int = SOURCES_SHOWN) -> tuple[list[Signal], int]:
    """Return the first ``limit`` signals behind ``alert`` (oldest first) and how many there
    are, only those of ``departments`` when given (a regional analyst's reach)."""
    ev = alert.evidence or {}
    q = select(Signal).where(Signal.source_kind != "detection")
    if departments is not None:
        q = q.where(Signal.department.in_(departments or ["--"]))
    if alert.detector.startswith("ews_first_"):
        found: list[Signal] = []
        for rec in (ev, ev.get("earlier_unconfirmed")):
            if isinstance(rec, dict) and rec.get("source_kind") and rec.get("source_id"):
                found += session.scalars(q.where(Signal.source_kind == rec["source_kind"],
                                                 Signal.source_id == rec["source_id"])).all()
        return _page(found, limit)
    if alert.detector in ("ews_name_mismatch", "ews_seized_registry_product"):
        source_id = ev.get("source_id") or ev.get("seizure_id")
        if not source_id:
            return [], 0
        return _page(session.scalars(q.where(Signal.source_kind.in_(SEIZURE_KINDS),
                                             Signal.source_id == source_id)).all(), limit)
    in_window = q.where(Signal.occurred_at >= alert.window_start,
                        Signal.occurred_at <= alert.window_end)
    if alert.detector == "ews_aberration":
        key = ev.get("series") or ev.get("variant")
        rows = session.scalars(in_window.where(Signal.department == alert.subject_id)).all()
        if key == "*overdose":
            return _page([s for s in rows if s.source_kind == "overdose"], limit)
        return _page([s for s in rows if _key(s) == key], limit)
    if alert.detector.startswith("ews_cluster_"):
        kinds = ("overdose",) if alert.detector == "ews_cluster_overdose" else SEIZURE_KINDS
        places = [str(u) for u in ev.get("ubigeos") or []]
        return _page(session.scalars(in_window.where(Signal.source_kind.in_(kinds),
                                                     Signal.ubigeo.in_(places))).all(), limit)
    return [], 0


def _key(sig: Signal) -> str | None:
    try:
        return substance_key(sig)
    except Exception:  # noqa: BLE001 - a malformed stored row is not behind any alert
        return None


def _page(signals: Sequence[Signal], limit: int) -> tuple[list[Signal], int]:
    unique = list({s.id: s for s in signals}.values())
    unique.sort(key=lambda s: (s.occurred_at, s.id))
    return unique[:limit], len(unique)
