"""Case workflow on alerts: new → triaged → audit_scheduled → closed (with an outcome).

Every action is a ``case_events`` row and an entry in the hash-chained audit log. Closed
outcomes feed the precision of each detector.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.alerts.models import OUTCOMES, Alert, CaseEvent
from centinela.privacy import redact

ACTIONS = {
    # action: (allowed from, to)
    "triage": (("new",), "triaged"),
    "schedule_audit": (("new", "triaged"), "audit_scheduled"),
    "close": (("new", "triaged", "audit_scheduled"), "closed"),
    "reopen": (("closed",), "triaged"),
    "note": (("new", "triaged", "audit_scheduled", "closed"), None),
}
LABELS_ES = {"triage": "triar", "schedule_audit": "programar auditoría", "close": "cerrar",
             "reopen": "reabrir", "note": "anotar"}


class CaseError(ValueError):
    """An action that the case's current state does not allow (message in Spanish and English)."""


def get_alert(session: Session, alert_id: str) -> Alert:
    """Return the alert or raise CaseError."""
    alert = session.scalar(select(Alert).where(Alert.alert_id == alert_id))
    if alert is None:
        raise CaseError(f"La alerta {alert_id} no existe / alert {alert_id} does not exist")
    return alert


def act(session: Session, alert_id: str, action: str, actor: str, note: str = "",
        outcome: str | None = None, now: dt.datetime | None = None) -> CaseEvent:
    """Apply a case action to an alert, record it in case_events and the audit log."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    action = action.replace("-", "_")
    if action not in ACTIONS:
        raise CaseError(f"Acción desconocida {action!r} / unknown action; use: {', '.join(ACTIONS)}")
    if not actor:
        raise CaseError("Falta el actor / an actor is required")
    alert = get_alert(session, alert_id)
    allowed, target = ACTIONS[action]
    if alert.status not in allowed:
        raise CaseError(
            f"No se puede {LABELS_ES[action]} una alerta en estado {alert.status!r} "
            f"(permitido desde: {', '.join(allowed)}) / cannot {action} an alert in status "
            f"{alert.status!r}")
    if action == "close":
        if outcome not in OUTCOMES:
            raise CaseError(f"Cerrar requiere un resultado: {', '.join(OUTCOMES)} / closing needs "
                            f"--outcome {'|'.join(OUTCOMES)}")
    elif outcome is not None:
        raise CaseError("Solo el cierre lleva resultado / only 'close' takes an outcome")
    if action == "note" and not note.strip():
        raise CaseError("La nota está vacía / the note is empty")
    # Staff write free text; a patient's document number typed into it is never stored.
    note = redact(note)
    before = alert.status
    if target:
        alert.status = target
    if action == "close":
        alert.outcome = outcome
    if action == "reopen":
        alert.outcome = None
    ev = CaseEvent(alert_id=alert.alert_id, at=now, actor=actor, action=action, from_status=before,
                   to_status=alert.status, outcome=outcome, note=note)
    session.add(ev)
    audit.record(session, actor, f"case.{action}", f"alert:{alert.alert_id}", reason=note,
                 details={"from": before, "to": alert.status, "outcome": outcome}, now=now)
    session.flush()
    return ev


def history(session: Session, alert_id: str) -> list[CaseEvent]:
    """Return the case events of an alert, oldest first."""
    return list(session.scalars(select(CaseEvent).where(CaseEvent.alert_id == alert_id)
                                .order_by(CaseEvent.at, CaseEvent.id)))


@dataclass
class DetectorPrecision:
    detector: str
    closed: int
    confirmed: int
    justified: int
    false_positive: int

    @property
    def precision(self) -> float | None:
        """Confirmed ÷ closed (None before any case is closed)."""
        return self.confirmed / self.closed if self.closed else None

    def as_dict(self) -> dict:
        return self.__dict__ | {"precision": self.precision}


def precision_by_detector(session: Session) -> list[DetectorPrecision]:
    """Return, per detector, closed cases by outcome and the precision confirmed ÷ closed."""
    rows = session.execute(
        select(Alert.detector, Alert.outcome, func.count())
        .where(Alert.status == "closed").group_by(Alert.detector, Alert.outcome)
    ).all()
    acc: dict[str, DetectorPrecision] = {}
    for det, outcome, n in rows:
        p = acc.setdefault(det, DetectorPrecision(det, 0, 0, 0, 0))
        p.closed += n
        if outcome in OUTCOMES:
            setattr(p, outcome, getattr(p, outcome) + n)
    return sorted(acc.values(), key=lambda p: p.detector)
