"""Delivery channels: kind → lazily imported transport with ``notify()``.

A transport raises ``TransientError`` (retry later with backoff) or ``PermanentError`` (the
channel is misconfigured or refused: it is disabled until an operator fixes it; its pending
deliveries wait, nothing is lost).
"""

from __future__ import annotations

import importlib

from centinela.alerts.models import Channel

CHANNELS: dict[str, str] = {
    "outbox": "centinela.alerts.channels.outbox:OutboxTransport",
    "email": "centinela.alerts.channels.email:EmailTransport",
    "webhook": "centinela.alerts.channels.webhook:WebhookTransport",
}


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


def register(kind: str, target: str) -> None:
    """Register a transport implemented by ``"module:Class"``."""
    CHANNELS[kind] = target


def transport(kind: str) -> Transport:
    """Instantiate the transport of a channel kind."""
    try:
        module, cls = CHANNELS[kind].split(":")
    except KeyError:
        raise PermanentError(f"unknown channel kind {kind!r}") from None
    return getattr(importlib.import_module(module), cls)()


def subject_line(payload: dict, payload_kind: str) -> str:
    """Return a one-line title for a payload (e-mail subject, logs)."""
    if payload_kind == "alert":
        return (f"[Centinela] {payload.get('severity', '').upper()} {payload.get('detector')}: "
                f"{payload.get('subject_kind')} {payload.get('subject_id')}")
    return f"[Centinela] {payload.get('title') or payload_kind} {payload.get('id', '')}".strip()
