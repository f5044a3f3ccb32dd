"""The outbox channel: the delivery row itself is the notification (read via web/API)."""

from __future__ import annotations

from centinela.alerts.channels.base import Transport
from centinela.alerts.models import Channel


class OutboxTransport(Transport):
    kind = "outbox"

    def notify(self, channel: Channel, payload: dict, payload_kind: str, delivery_id: int) -> str:
        """Keep the payload stored for the authority to read; nothing leaves the system."""
        return "stored in outbox"
