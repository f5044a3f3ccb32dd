"""Messaging channels: the SMS gateway and Telegram bot webhooks (secret path, no cookies).

Each webhook hands the message to :mod:`centinela.public.messaging`, which files reports and
answers questions exactly as the web pages do.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.public.messaging import handle_sms, telegram_reply
from centinela.web.deps import db_session
from centinela.web.routes.public import _now

router = APIRouter()


def setup(app) -> None:
    """Let the SMS gateway post forms without a browser's CSRF cookie (secret path instead)."""
    app.state.csrf_exempt.add("/api/v1/reports/sms/")


def _secret_ok(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@router.post("/api/v1/reports/sms/{secret}", tags=["public"])
async def sms_webhook(secret: str, request: Request, session: Session = Depends(db_session)):
    """SMS/messaging gateway webhook: JSON {from, text} or Twilio-style form (From, Body)."""
    if not _secret_ok(secret, get_settings().public.sms_webhook_secret):
        raise HTTPException(status_code=404)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        data = await request.json()
        sender, body, twiml = str(data.get("from", "")), str(data.get("text", "")), False
    else:
        form = await request.form()
        sender, body, twiml = str(form.get("From", "")), str(form.get("Body", "")), True
    reply = handle_sms(session, sender, body, _now(request))
    if twiml:
        from xml.sax.saxutils import escape

        xml = f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(reply)}' \
              f"</Message></Response>"
        return Response(xml, media_type="application/xml")
    return {"reply": reply}


@router.post("/api/v1/assistant/telegram/{secret}", tags=["public"])
async def telegram_webhook(secret: str, request: Request, session: Session = Depends(db_session)):
    """Telegram Bot API webhook: receive an Update, reply with sendMessage."""
    settings = get_settings().public
    if not _secret_ok(secret, settings.telegram_webhook_secret):
        raise HTTPException(status_code=404)
    header = request.headers.get("x-telegram-bot-api-secret-token")
    if header is not None and not _secret_ok(header, settings.telegram_webhook_secret):
        raise HTTPException(status_code=403)
    update = await request.json()
    sent = telegram_reply(session, update, _now(request))
    return {"ok": True, "replied": sent is not None,
            "red_flag": sent.get("red_flag") if sent else None}
