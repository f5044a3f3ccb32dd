"""Delivery channels: kind → transport with ``notify()``.

A transport raises ``TransientError`` (retry later with backoff) or ``PermanentError`` (the
channel is misconfigured or refused: it is disabled until an operator fixes it; its pending
deliveries wait, nothing is lost). The built-in transports are registered below by plain
imports; a deployment may register another class with ``register``.
"""

from __future__ import annotations

from centinela.alerts.channels.base import (
    PermanentError,
    TransientError,
    Transport,
    subject_line,
)
from centinela.alerts.channels.email import EmailTransport
from centinela.alerts.channels.outbox import OutboxTransport
from centinela.alerts.channels.webhook import WebhookTransport

__all__ = ["CHANNELS", "PermanentError", "TransientError", "Transport", "register",
           "subject_line", "transport"]

CHANNELS: dict[str, type[Transport]] = {
    "outbox": OutboxTransport,
    "email": EmailTransport,
    "webhook": WebhookTransport,
}


def register(kind: str, target: type[Transport]) -> None:
    """Register the transport class of a channel kind."""
    CHANNELS[kind] = target


def transport(kind: str) -> Transport:
    """Instantiate the transport of a channel kind."""
    try:
        cls = CHANNELS[kind]
    except KeyError:
        raise PermanentError(f"unknown channel kind {kind!r}") from None
    return cls()
