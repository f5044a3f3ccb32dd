"""Signed webhook channel: JSON POST through ``centinela.http`` with an HMAC-SHA256 signature.

Headers: ``X-Centinela-Timestamp`` (epoch seconds) and ``X-Centinela-Signature:
sha256=<hex>`` = HMAC-SHA256(secret, timestamp + "." + body). The secret is the channel's own,
else ``CENTINELA_SECRET_KEY``. Receivers should reject signatures older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from centinela import http
from centinela.alerts.channels.base import PermanentError, TransientError, Transport
from centinela.alerts.models import Channel
from centinela.config import get_settings

RETRYABLE = {408, 409, 425, 429}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``sha256=<hex>`` signature of a webhook body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Return True when ``signature`` is valid for the body (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookTransport(Transport):
    kind = "webhook"

    def notify(self, channel: Channel, payload: dict, payload_kind: str, delivery_id: int) -> str:
        """POST the payload; 2xx is delivered, 4xx refused (permanent), the rest retried."""
        url = (channel.target or "").strip()
        if not url.startswith(("http://", "https://")):
            raise PermanentError(f"invalid webhook URL {url!r}")
        body = json.dumps({"kind": payload_kind, "delivery_id": delivery_id, "data": payload},
                          ensure_ascii=False, sort_keys=True).encode()
        ts = str(int(time.time()))
        secret = channel.secret or get_settings().secret_key
        headers = {"Content-Type": "application/json", "X-Centinela-Timestamp": ts,
                   "X-Centinela-Signature": sign(secret, ts, body),
                   "X-Centinela-Event": payload_kind, "X-Centinela-Delivery": str(delivery_id)}
        try:
            resp = http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientError(f"webhook unreachable: {type(exc).__name__}: {exc}") from exc
        if 200 <= resp.status_code < 300:
            return f"HTTP {resp.status_code}"
        detail = f"HTTP {resp.status_code}: {resp.text[:200]}"
        if 400 <= resp.status_code < 500 and resp.status_code not in RETRYABLE:
            raise PermanentError(detail)
        raise TransientError(detail)
