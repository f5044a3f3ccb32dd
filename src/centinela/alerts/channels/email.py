"""E-mail channel over SMTP (``CENTINELA_SMTP_HOST`` / ``_PORT`` / ``_SENDER``)."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage

from centinela.alerts.channels.base import PermanentError, TransientError, Transport, subject_line
from centinela.alerts.models import Channel
from centinela.config import get_settings


class EmailTransport(Transport):
    kind = "email"

    def notify(self, channel: Channel, payload: dict, payload_kind: str, delivery_id: int) -> str:
        """Send one plain-text e-mail with the payload's summary and its JSON."""
        s = get_settings()
        rcpts = [a.strip() for a in (channel.target or "").split(",") if a.strip()]
        if not s.smtp_host:
            raise PermanentError("SMTP is not configured (CENTINELA_SMTP_HOST is empty)")
        if not rcpts or any("@" not in a for a in rcpts):
            raise PermanentError(f"invalid recipient list {channel.target!r}")
        msg = EmailMessage()
        msg["Subject"] = subject_line(payload, payload_kind)
        msg["From"] = s.smtp_sender
        msg["To"] = ", ".join(rcpts)
        msg["X-Centinela-Delivery"] = str(delivery_id)
        # An alert's summary is its sentence; a report's is a table of figures (sent in the
        # JSON below): the title heads the message then.
        head = payload.get("summary")
        body = [head if isinstance(head, str) and head else str(payload.get("title") or ""), ""]
        if payload_kind == "alert":
            body += [f"Alerta: {payload.get('alert_id')}",
                     f"Severidad: {payload.get('severity')}  Puntaje: {payload.get('score')}",
                     f"Ventana: {payload.get('window_start')} – {payload.get('window_end')}", ""]
        body.append(json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True))
        msg.set_content("\n".join(body))
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.http_timeout_s) as smtp:
                refused = smtp.send_message(msg)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise PermanentError(f"SMTP refused: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            err = PermanentError if exc.smtp_code >= 500 else TransientError
            raise err(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"SMTP unavailable: {exc}") from exc
        if refused:
            raise PermanentError(f"recipients refused: {sorted(refused)}")
        return f"sent to {len(rcpts)} recipient(s) via {s.smtp_host}:{s.smtp_port}"
