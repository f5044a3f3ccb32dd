"""Case actions on an alert through the detection area's workflow (``alerts.cases``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from centinela.alerts.cases import ACTIONS, CaseError, act
from centinela.alerts.models import Alert, CaseEvent

__all__ = ["CaseError", "allowed_actions", "apply_action"]


def allowed_actions(alert: Alert) -> list[str]:
    """Return the actions possible from the alert's current status."""
    return [a for a, (src, _) in ACTIONS.items() if alert.status in src]


def apply_action(session: Session, alert: Alert, action: str, actor: str, note: str = "",
                 outcome: str | None = None, now: dt.datetime | None = None) -> CaseEvent:
    """Apply ``action`` (audited by the workflow itself); the caller commits."""
    if action != "close":
        outcome = None  # the form always sends the outcome field; only closing takes it
    return act(session, alert.alert_id, action, actor, note.strip()[:4000], outcome, now=now)
