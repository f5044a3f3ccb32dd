"""What every channel transport shares: the base class, the two kinds of failure, a subject line."""

from __future__ import annotations

from centinela.alerts.models import Channel


class TransientError(Exception):
    """Delivery failed for a reason that may pass (connection refused, 5xx, timeout)."""


class PermanentError(Exception):
    """Delivery refused for a reason that retrying will not fix (bad address, 4xx, no config)."""


class Transport:
    """Base class of a channel transport."""

    kind = ""

    def notify(self, channel: Channel, payload: dict, payload_kind: str, delivery_id: int) -> str:
        """Deliver ``payload`` through ``channel``; return a short detail for the attempt log."""
        raise NotImplementedError


def subject_line(payload: dict, payload_kind: str) -> str:
    """Return a one-line title for a payload (e-mail subject, logs)."""
    if payload_kind == "alert":
        return (f"[Centinela] {payload.get('severity', '').upper()} {payload.get('detector')}: "
                f"{payload.get('subject_kind')} {payload.get('subject_id')}")
    return f"[Centinela] {payload.get('title') or payload_kind} {payload.get('id', '')}".strip()
