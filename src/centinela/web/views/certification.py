"""Context of the certification page and its JSON twin: progress by department."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import department_scope


def certification_progress(session: Session, user: User, day: dt.date) -> dict:
    """Return rows by department (limited to the user's reach) and by region × profession."""
    from centinela.certification.progress import department_status, national, standings

    rows = standings(session, day)
    scope = department_scope(user)
    if scope is not None:
        rows = [(p, s) for p, s in rows if p.department in scope]
    deps = department_status(session, day, rows=rows)
    return {"as_of": day.isoformat(), "departments": deps,
            "national": national(deps) if deps and scope is None else None}
