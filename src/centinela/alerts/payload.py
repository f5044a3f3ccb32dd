"""The spec's JSON shape of an alert (``centinela alerts --json``, the API, the outbox)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from centinela.alerts.models import Alert
from centinela.lib import clock


def alert_json(alert: Alert) -> dict[str, Any]:
    """Return the spec's JSON shape of an alert (``centinela alerts --json``)."""
    return {
        "alert_id": alert.alert_id,
        "detector": alert.detector,
        "subject_kind": alert.subject_kind,
        "subject_id": alert.subject_id,
        "severity": alert.severity,
        "score": alert.score,
        "window_start": _iso(alert.window_start),
        "window_end": _iso(alert.window_end),
        "summary": alert.summary,
        "evidence": _evidence(alert.evidence or {}),
        "routed_to": list(alert.routed_to or []),
        "status": alert.status,
        "department": alert.department,
    }


def _evidence(ev: dict[str, Any]) -> dict[str, Any]:
    """The evidence as stored, but its occurrences' windows in Lima time with the offset, like
    the alert's own window (they are stored as naive UTC)."""
    occ = ev.get("occurrences")
    if not isinstance(occ, list):
        return ev
    out = []
    for o in occ:
        if isinstance(o, dict):
            o = dict(o)
            for k in ("window_start", "window_end"):
                v = o.get(k)
                if isinstance(v, str) and len(v) >= 19 and "+" not in v[10:] and "-" not in v[11:]:
                    try:
                        o[k] = _iso(dt.datetime.fromisoformat(v))
                    except ValueError:
                        pass
        out.append(o)
    return {**ev, "occurrences": out}


def _iso(value: dt.datetime) -> str:
    """Render a stored naive-UTC datetime as ISO 8601 with offset, in Lima time."""
    return clock.lima_iso(value)
